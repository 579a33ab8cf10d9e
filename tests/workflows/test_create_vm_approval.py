"""A create that waits for an Admin's approval, replayed with the real Durable SDK: approve, reject, expiry, cancel,
and a create placed automatically that needs one only on some hosts."""

from __future__ import annotations

from typing import Any

from functions.workflows.create_vm import create_vm
from tests.support.replay import Replay, drive
from tests.unit.test_vm_request import LINUX
from tests.workflows.test_create_vm_replay import happy_results, job_patches, spec, work

ADMIN = {"id": "admin-2", "name": "Grace Admin", "type": "user", "app_id": None}


def waiting(rule: dict[str, Any], **request: Any) -> dict[str, Any]:
    document = spec({**LINUX, **request})
    document["approval"] = {"timeout_seconds": 3600, "required_by": None, "hosts": [], "clusters": [], **rule}
    return document


def awaiting(replay: Replay) -> bool:
    return any(p.get("status") == "AwaitingApproval" for p in job_patches(replay)) and not replay.pending("activity")


def test_an_approved_create_waits_then_runs_every_step() -> None:
    replay = Replay(create_vm, waiting({"required_by": "host hv03 requires approval"}, host="hv03"))
    results = happy_results()
    assert work(drive(replay, results, until=awaiting)) == []  # nothing touched while it waits
    first = job_patches(replay)[0]
    assert first["status"] == "AwaitingApproval" and first["plan"][0] == "approval"
    patch = job_patches(replay)[-1]
    assert patch["approval"]["required_by"] == "host hv03 requires approval"
    assert patch["approval"]["deadline"] and patch["approval"]["decision"] is None
    replay.raise_event("approval", {"decision": "approved", "by": ADMIN, "at": "2026-12-05T10:00:00Z"})
    calls = work(drive(replay, results))
    assert calls[0] == "vm_preflight" and calls[-1] == "vm_refresh_and_describe"
    decided = next(p for p in job_patches(replay) if (p.get("approval") or {}).get("decision"))
    assert decided["status"] == "Running"
    assert decided["approval"]["decided_by"]["name"] == "Grace Admin"
    assert decided["approval"]["decided_at"] == "2026-12-05T10:00:00Z"
    final = job_patches(replay)[-1]
    assert final["status"] == "Succeeded"
    assert final["steps"][0]["name"] == "approval" and final["steps"][0]["status"] == "Succeeded"


def test_a_rejected_create_ends_canceled_with_the_reason_and_touches_nothing() -> None:
    replay = Replay(create_vm, waiting({"required_by": "cluster hvclu01 requires approval"}, host="hv01"))
    results = happy_results()
    drive(replay, results, until=awaiting)
    replay.raise_event("approval", {"decision": "rejected", "by": ADMIN, "at": "t", "reason": "not in this quarter"})
    calls = work(drive(replay, results))
    assert calls == []  # no cleanup either: nothing existed
    final = job_patches(replay)[-1]
    assert final["status"] == "Canceled"
    assert final["error"]["message"].startswith("the create was rejected by Grace Admin: not in this quarter")
    assert final["cleanup"] == {"status": "Nothing to clean up"}
    decided = next(p for p in job_patches(replay) if (p.get("approval") or {}).get("decision"))
    assert decided["approval"]["decision"] == "rejected" and decided["approval"]["reason"] == "not in this quarter"


def test_no_decision_by_the_deadline_cancels_the_create() -> None:
    replay = Replay(create_vm, waiting({"required_by": "host hv03 requires approval", "timeout_seconds": 7200}))
    results = happy_results()
    drive(replay, results, until=awaiting)
    (timer,) = replay.pending("timer")
    replay.fire(timer)
    work(drive(replay, results))
    final = job_patches(replay)[-1]
    assert final["status"] == "Canceled"
    assert final["error"]["message"].startswith("no decision on the approval within 2 h")
    expired = next(p for p in job_patches(replay) if (p.get("approval") or {}).get("decision"))
    assert expired["approval"]["decision"] == "expired" and expired["approval"]["decided_by"] is None


def test_a_cancel_while_waiting_cancels_the_create() -> None:
    replay = Replay(create_vm, waiting({"required_by": "host hv03 requires approval"}, host="hv03"))
    results = happy_results()
    drive(replay, results, until=awaiting)
    replay.raise_event("cancel", {"by": "requester-1"})
    assert work(drive(replay, results)) == []
    final = job_patches(replay)[-1]
    assert final["status"] == "Canceled" and final["error"]["message"].startswith("the job was canceled")


def test_placement_on_a_host_that_needs_no_approval_does_not_wait() -> None:
    replay = Replay(create_vm, waiting({"hosts": ["hv09"], "clusters": []}))
    calls = work(drive(replay, happy_results()))
    assert calls[:2] == ["vm_place", "vm_preflight"]
    statuses = [p.get("status") for p in job_patches(replay)]
    assert "AwaitingApproval" not in statuses
    final = job_patches(replay)[-1]
    assert "approval" not in [s["name"] for s in final["steps"]]


def test_placement_on_a_host_of_a_cluster_that_needs_approval_waits_after_placing() -> None:
    replay = Replay(create_vm, waiting({"clusters": ["hvclu01"]}))
    results = happy_results()
    results["vm_place"] = {"host": "hv02", "cluster": "hvClu01"}
    calls = work(drive(replay, results, until=awaiting))
    assert calls == ["vm_place"]
    assert job_patches(replay)[0]["status"] == "Running"  # it is placing first
    waiting_patch = next(p for p in job_patches(replay) if p.get("status") == "AwaitingApproval")
    assert waiting_patch["approval"]["required_by"] == "cluster hvClu01 requires approval"
