"""The create-VM orchestration replayed with the real Durable SDK: steps, retries, compensation, cancel, secrets."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import pytest

from functions.guest.mapping import guest_values
from functions.models import parse_vm_request
from functions.provisioning.payloads import VmSpec
from functions.sealing import seal_json
from functions.settings import Secret
from functions.workflows.create_vm import create_plan, create_vm
from tests.support.replay import Fail, Replay, Scheduled, drive
from tests.unit.test_vm_request import LINUX, WINDOWS

KEY = Secret(base64.b64encode(os.urandom(32)).decode())
VM_ID = "5f0c3d6e-1111-2222-3333-444455556666"
TIMING = {"key_timeout": 60, "apply_timeout": 120, "poll_interval": 5, "publish_delay": 30, "retry_attempts": 3}


def spec(payload: dict[str, Any], job_id: str = "job-1") -> dict[str, Any]:
    request = parse_vm_request(payload)
    values = guest_values(request)
    return {
        "job_id": job_id,
        "request": request.model_dump(mode="json"),
        "os_family": request.resolved_os_family,
        "sealed_guest": seal_json(values, job_id, key=KEY) if values else None,
        "timing": TIMING,
    }


def public(payload: dict[str, Any]) -> VmSpec:
    return VmSpec.from_json(parse_vm_request(payload).model_dump(mode="json"))


def happy_results() -> dict[str, Any]:
    states = iter(["", "waitingforaeskey", "applying", "applying", "provisioningapplied"])

    def guest_status(_: Scheduled) -> dict[str, Any]:
        return {"state": next(states) or None, "error_summary": None, "public_key_present": True}

    return {
        "job_update": {"status": "Running"},
        "vm_place": {"host": "hv02"},
        "vm_preflight": {"target_volume": "C:\\ClusterStorage\\Volume1"},
        "vm_prepare_disk": {
            "folder": "C:\\ClusterStorage\\Volume1\\Hyper-V\\web01",
            "path": "C:\\ClusterStorage\\Volume1\\Hyper-V\\web01\\web01.vhdx",
            "size_gb": 64.0,
            "image_name": "Ubuntu 24.04 LTS",
            "created": True,
        },
        "vm_create": {"vm_id": VM_ID},
        "vm_start_and_announce": {"started": True, "version": "2.4.0"},
        "vm_guest_status": guest_status,
        "vm_publish_guest_data": {"items": 7},
        "vm_signal_published": {},
        "vm_cluster_add": {"id": VM_ID, "cluster_name": "hvclu01", "clustered": True, "changed": True},
        "vm_finish_guest": {"removed_drives": 1},
        "vm_refresh_and_describe": {
            "id": VM_ID,
            "name": "web01",
            "host": "hv02",
            "state": "Running",
            "ip_addresses": ["10.0.0.5"],
            "cpu_cores": 2,
            "memory_gb": 4.0,
            "os_family": "linux",
        },
        "vm_cleanup": {"summary": "removed the VM, removed its folder"},
        "vm_cluster_remove": {"id": VM_ID, "cluster_name": "hvclu01", "clustered": False, "changed": True},
    }


def work(calls: list[str]) -> list[str]:
    return [c for c in calls if c != "job_update" and not c.startswith("entity:")]


def job_patches(replay: Replay) -> list[dict[str, Any]]:
    return [t.input["patch"] for t in replay.scheduled if t.name == "job_update"]


def test_linux_happy_path_runs_every_step_in_order() -> None:
    replay = Replay(create_vm, spec(LINUX))
    calls = drive(replay, happy_results())
    assert replay.state.get("error") is None
    assert work(calls) == [
        "vm_place",
        "vm_preflight",
        "vm_prepare_disk",
        "vm_create",
        "vm_start_and_announce",
        "vm_guest_status",
        "vm_guest_status",
        "vm_publish_guest_data",
        "vm_signal_published",
        "vm_guest_status",
        "vm_guest_status",
        "vm_guest_status",
        "vm_finish_guest",
        "vm_refresh_and_describe",
    ]
    assert [c for c in calls if c.startswith("entity:")] == ["entity:acquire", "entity:release"]
    assert replay.output["vm_id"] == VM_ID
    assert replay.output["host"] == "hv02"
    assert replay.output["vm"]["ip_addresses"] == ["10.0.0.5"]
    final = job_patches(replay)[-1]
    assert final["status"] == "Succeeded"
    assert [s["name"] for s in final["steps"]] == create_plan(public(LINUX), guest=True)
    assert {s["status"] for s in final["steps"]} == {"Succeeded"}
    assert replay.custom_status["step"] == "done"


def test_progress_is_visible_in_custom_status_after_every_step() -> None:
    replay = Replay(create_vm, spec(LINUX))
    seen: list[tuple[str, int, int]] = []

    def watch(r: Replay) -> bool:
        status = r.custom_status or {}
        if status.get("step") and (not seen or seen[-1][0] != status["step"]):
            seen.append((status["step"], status["index"], status["total"]))
        return False

    drive(replay, happy_results(), until=watch)
    plan = create_plan(public(LINUX), guest=True)
    assert [s for s, _, _ in seen if s in plan] == plan
    assert all(total == len(plan) for step, _, total in seen if step in plan)
    assert replay.custom_status["vm_id"] == VM_ID


def test_windows_with_cluster_registration() -> None:
    replay = Replay(create_vm, spec(WINDOWS))
    calls = work(drive(replay, happy_results()))
    assert "vm_place" not in calls  # the request names its host
    assert calls.index("vm_cluster_add") == calls.index("vm_finish_guest") - 1
    assert calls.index("vm_cluster_add") > calls.index("vm_signal_published")
    assert replay.output["host"] == "hv01"


def test_a_blank_disk_has_no_guest_steps() -> None:
    payload = {"name": "scratch01", "host": "hv01", "cpu_cores": 1, "memory_gb": 2, "disk_gb": 40, "os_family": "linux"}
    replay = Replay(create_vm, spec(payload))
    calls = work(drive(replay, happy_results()))
    assert calls == ["vm_preflight", "vm_prepare_disk", "vm_create", "vm_start_and_announce", "vm_refresh_and_describe"]


STEP_ACTIVITIES = [
    "vm_preflight",
    "vm_prepare_disk",
    "vm_create",
    "vm_start_and_announce",
    "vm_guest_status",
    "vm_publish_guest_data",
    "vm_signal_published",
    "vm_cluster_add",
    "vm_finish_guest",
]


@pytest.mark.parametrize("failing", STEP_ACTIVITIES)
def test_a_failure_at_every_step_is_compensated_exactly(failing: str) -> None:
    replay = Replay(create_vm, spec(WINDOWS))
    results = happy_results()
    results[failing] = Fail(f"{failing} broke")
    calls = work(drive(replay, results))
    assert replay.state.get("error")
    assert f"{failing} broke" in replay.state["error"]
    cleanup = calls[calls.index(failing) + 1 :]
    if failing == "vm_preflight":
        expected: list[str] = []  # nothing exists on the host yet
    elif failing in ("vm_cluster_add", "vm_finish_guest"):
        # a failed add may leave a half-made cluster role: removing it is idempotent
        expected = ["vm_cluster_remove", "vm_cleanup", "vm_refresh_and_describe"]
    else:
        expected = ["vm_cleanup", "vm_refresh_and_describe"]
    assert cleanup == expected
    final = job_patches(replay)[-1]
    assert final["status"] == "Failed"
    assert final["error"] == {"category": "ScriptFailed", "message": f"{failing} broke", "transient": False}
    assert final["cleanup"]["status"] == ("Nothing to clean up" if not expected else "Succeeded")
    failed_steps = [s["name"] for s in final["steps"] if s["status"] == "Failed"]
    assert failed_steps == [final["failed_step"]]


def test_a_failed_cleanup_is_reported_with_the_original_error() -> None:
    replay = Replay(create_vm, spec(LINUX))
    results = happy_results()
    results["vm_create"] = Fail("no room for another VM", category="InsufficientResources")
    results["vm_cleanup"] = Fail("host went away", category="HostUnreachable")
    drive(replay, results)
    final = job_patches(replay)[-1]
    assert final["error"]["category"] == "InsufficientResources"
    assert final["cleanup"]["status"] == "Failed"
    assert final["cleanup"]["error"]["category"] == "HostUnreachable"


def test_keep_on_failure_skips_compensation() -> None:
    replay = Replay(create_vm, spec({**LINUX, "keep_on_failure": True}))
    results = happy_results()
    results["vm_start_and_announce"] = Fail("start failed", category="InvalidVmState")
    calls = work(drive(replay, results))
    assert "vm_cleanup" not in calls
    assert job_patches(replay)[-1]["cleanup"] == {
        "status": "Skipped",
        "reason": "keep_on_failure was requested",
        "kept_vm_id": VM_ID,
    }


def test_transient_failures_are_retried_with_backoff_and_permanent_ones_are_not() -> None:
    replay = Replay(create_vm, spec(LINUX))
    results = happy_results()
    attempts: list[str] = []

    def flaky(task: Scheduled) -> Any:
        attempts.append(replay.now.isoformat())
        if len(attempts) < 3:
            return Fail("connection refused", category="HostUnreachable", transient=True)
        return {"target_volume": "C:\\"}

    results["vm_preflight"] = flaky
    drive(replay, results)
    assert len(attempts) == 3
    timers = [t.fire_at for t in replay.scheduled if t.kind == "timer"]
    assert timers[0] is not None
    assert timers[1] is not None
    gaps = [(timers[1] - timers[0]).total_seconds()]
    assert gaps[0] >= 10  # 5 s then 10 s: exponential
    assert replay.state.get("error") is None

    permanent = Replay(create_vm, spec(LINUX))
    results = happy_results()
    tries: list[int] = []

    def denied(task: Scheduled) -> Fail:
        tries.append(1)
        return Fail("access denied", category="AuthenticationFailed")

    results["vm_preflight"] = denied
    drive(permanent, results)
    assert len(tries) == 1


def test_transient_failures_give_up_after_the_configured_attempts() -> None:
    replay = Replay(create_vm, spec(LINUX))
    results = happy_results()
    results["vm_prepare_disk"] = Fail("timed out", category="OperationTimeout", transient=True)
    calls = work(drive(replay, results))
    assert calls.count("vm_prepare_disk") == TIMING["retry_attempts"]
    assert job_patches(replay)[-1]["error"]["category"] == "OperationTimeout"
    assert "vm_cleanup" in calls


def test_the_guest_never_answering_hits_the_deadline() -> None:
    replay = Replay(create_vm, spec(LINUX))
    results = happy_results()
    results["vm_guest_status"] = {"state": None, "error_summary": None, "public_key_present": False}
    calls = work(drive(replay, results))
    polls = calls.count("vm_guest_status")
    assert 10 <= polls <= 14  # every 5 s for 60 s
    final = job_patches(replay)[-1]
    assert final["error"]["category"] == "GuestTimeout"
    assert final["failed_step"] == "wait_for_key"
    assert calls[-2:] == ["vm_cleanup", "vm_refresh_and_describe"]


def test_the_guest_reporting_failure_is_surfaced_with_its_summary() -> None:
    replay = Replay(create_vm, spec(LINUX))
    results = happy_results()
    states = iter(["waitingforaeskey", "applying", "provisioningfailed"])
    results["vm_guest_status"] = lambda _: {
        "state": next(states),
        "error_summary": "error applying:mod_net",
        "public_key_present": True,
    }
    drive(replay, results)
    final = job_patches(replay)[-1]
    assert final["error"] == {
        "category": "GuestProvisioningFailed",
        "message": "the guest reported: error applying:mod_net",
        "transient": False,
    }
    assert final["failed_step"] == "wait_for_apply"


def test_cancel_while_waiting_compensates() -> None:
    replay = Replay(create_vm, spec(LINUX))
    results = happy_results()
    results["vm_guest_status"] = {"state": None, "error_summary": None, "public_key_present": False}
    drive(replay, results, until=lambda r: sum(1 for t in r.scheduled if t.name == "vm_guest_status") >= 3)
    replay.raise_event("cancel", {"by": "alice"})
    calls = work(drive(replay, results))
    assert calls[-2:] == ["vm_cleanup", "vm_refresh_and_describe"]
    final = job_patches(replay)[-1]
    assert final["status"] == "Canceled"
    assert final["failed_step"] == "wait_for_key"


def test_cancel_during_an_activity_waits_for_it_then_compensates() -> None:
    replay = Replay(create_vm, spec(LINUX))
    results = happy_results()
    drive(replay, results, until=lambda r: any(t.name == "vm_create" and not t.done for t in r.scheduled))
    replay.raise_event("cancel")
    create = replay.activity("vm_create")
    assert not replay.done  # the running activity is not abandoned
    replay.complete(create, {"vm_id": VM_ID})
    calls = work(drive(replay, results))
    assert calls == ["vm_cleanup", "vm_refresh_and_describe"]
    assert job_patches(replay)[-1]["status"] == "Canceled"


def test_clone_slots_are_waited_for_in_order() -> None:
    replay = Replay(create_vm, spec(LINUX))
    answers = iter([False, False, True, True])
    drive(replay, happy_results(), entity=lambda _: next(answers))
    acquires = [t for t in replay.scheduled if t.kind == "entity" and t.name == "acquire"]
    assert len(acquires) == 3
    assert acquires[0].entity == "@clone_slots@hv02"
    assert replay.state.get("error") is None


def test_no_plaintext_secret_reaches_the_history() -> None:
    replay = Replay(create_vm, spec(WINDOWS))
    drive(replay, happy_results())
    history = json.dumps(replay.history) + json.dumps(replay.state)
    for secret in ("Change-Me-2026!", "Join-Me-2026!"):
        assert secret not in history
    assert "10.0.0.5" in history  # the public request is there; only secrets are sealed


def test_the_job_record_learns_the_host_and_the_vm_id() -> None:
    replay = Replay(create_vm, spec(LINUX))
    drive(replay, happy_results())
    targets = [p["target"] for p in job_patches(replay) if "target" in p]
    assert targets == [
        {"host": "hv02", "name": "web01", "vm_id": None},
        {"host": "hv02", "name": "web01", "vm_id": VM_ID},
    ]


LEASE = {"expires_at": "2026-12-01T00:00:00Z", "requested_by": {"id": "alice", "name": "Alice"}}


def test_a_create_with_a_lease_gives_the_complete_vm_its_lease_last() -> None:
    replay = Replay(create_vm, spec(LINUX) | {"lease": LEASE})
    calls = work(drive(replay, happy_results() | {"lease_arm": {}}))
    assert calls[-2:] == ["vm_refresh_and_describe", "lease_arm"]
    arm = next(t for t in replay.scheduled if t.name == "lease_arm")
    assert arm.input == {"vm_id": VM_ID, "host": "hv02", **LEASE}
    assert job_patches(replay)[-1]["status"] == "Succeeded"


def test_a_lease_that_cannot_be_set_is_a_warning_on_a_succeeded_create() -> None:
    replay = Replay(create_vm, spec(LINUX) | {"lease": LEASE})
    calls = work(drive(replay, happy_results() | {"lease_arm": Fail("table down", "StorageUnavailable")}))
    assert "vm_cleanup" not in calls
    final = job_patches(replay)[-1]
    assert final["status"] == "Succeeded"
    assert any("lease could not be set" in warning for warning in final["add_warnings"])


def test_a_create_without_a_lease_arms_none() -> None:
    replay = Replay(create_vm, spec(LINUX))
    assert "lease_arm" not in drive(replay, happy_results())
