"""The create workflow (version 3) judging the guest before it publishes, replayed with the real SDK.

- A key is used only when the poll says it is this run's and the agent is known (a stale key keeps it polling).
- The publish step is asked to check the agent; its refusal fails the job before anything is published, and the
  VM is compensated.
- An agent that never reports completion (HLVMM semantics) completes the job once the guest's integration services
  confirm the host name and address, with a warning — never a wait to the apply timeout and a removed VM.
- Instances of earlier versions poll with a plain target and publish without the check.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from functions.workflows.create_vm import create_vm
from tests.support.replay import Replay, Scheduled
from tests.unit.test_vm_request import LINUX
from tests.workflows.test_create_vm_faults import cleanup_result, v2
from tests.workflows.test_create_vm_replay import Fail, drive, happy_results, job_patches, work


def v3(payload: dict[str, Any], **timing: Any) -> dict[str, Any]:
    document = v2(payload, **timing)
    document["version"] = 3
    return document


def polls(*answers: dict[str, Any]) -> Any:
    """A guest-status answer per poll (the last one repeats)."""
    sequence: Iterator[dict[str, Any]] = iter(answers)
    last: dict[str, Any] = answers[-1]
    seen: list[dict[str, Any]] = []

    def answer(task: Scheduled) -> dict[str, Any]:
        nonlocal last
        seen.append(task.input)
        last = next(sequence, last)
        return {"error_summary": None, "public_key_present": True, **last}

    answer.seen = seen  # type: ignore[attr-defined]
    return answer


READY = {"state": "waitingforaeskey", "key": "echoed", "agent": "current", "agent_name": "aetherv-linux/2.5.0"}
APPLIED = {"state": "provisioningapplied", "key": "echoed"}


def v3_results(**overrides: Any) -> dict[str, Any]:
    results = happy_results()
    results["vm_start_and_announce"] = {"started": True, "version": "2.5.0", "pre_start_key": "ab" * 32}
    results["vm_publish_guest_data"] = {"items": 7, "agent": "aetherv-linux/2.5.0"}
    results["vm_cleanup"] = cleanup_result()
    results["vm_record_cleanup_debt"] = {"since": "2026-11-01T12:05:00Z"}
    return results | overrides


def test_a_stale_key_and_an_unknown_agent_keep_the_workflow_polling() -> None:
    status = polls(
        {"state": None, "key": "absent"},
        {"state": "waitingforaeskey", "key": "stale"},
        {"state": "waitingforaeskey", "key": "new", "agent": "unknown"},
        {"state": "waitingforaeskey", "key": "new", "agent": "upstream"},
        {"state": "applying", "key": "new"},
        {"state": "provisioningapplied", "key": "new"},
    )
    replay = Replay(create_vm, v3(LINUX))
    calls = drive(replay, v3_results(vm_guest_status=status))
    assert not replay.state.get("error"), replay.state
    assert work(calls).count("vm_guest_status") == 6
    first = status.seen[0]
    assert first["version"] == "2.5.0" and first["pre_start_key"] == "ab" * 32
    assert first["hostname"] == "web01" and first["os_family"] == "linux"
    # "seen before" counts this run's key only: the stale one does not make the unknown agent an HLVMM one
    assert [p["state_seen_before"] for p in status.seen[:4]] == [False, False, False, True]
    publish = next(t for t in replay.scheduled if t.name == "vm_publish_guest_data").input
    assert publish["check_agent"] is True and publish["version"] == "2.5.0"
    assert replay.output["guest_agent"] == "aetherv-linux/2.5.0"


def test_preflight_checks_the_hosts_iso_when_the_guest_is_provisioned() -> None:
    replay = Replay(create_vm, v3(LINUX))
    drive(replay, v3_results(vm_guest_status=polls(READY, APPLIED)))
    preflight = next(t for t in replay.scheduled if t.name == "vm_preflight").input
    assert preflight["guest"] is True


def test_a_refused_publish_fails_the_job_and_compensates() -> None:
    refusal = Fail("nothing was published — guest.admin_password: …", category="GuestAgentCannotApply")
    replay = Replay(create_vm, v3(LINUX))
    calls = drive(replay, v3_results(vm_guest_status=polls(READY), vm_publish_guest_data=refusal))
    assert "vm_signal_published" not in calls
    assert calls.count("vm_publish_guest_data") == 1  # a permanent refusal is not retried
    final = job_patches(replay)[-1]
    assert final["status"] == "Failed"
    assert final["failed_step"] == "publish"
    assert final["error"]["category"] == "GuestAgentCannotApply"
    assert final["cleanup"]["status"] == "Succeeded"


def test_a_silent_agent_confirmed_by_the_integration_services_completes_with_a_warning() -> None:
    silent = {"state": "waitingforaeskey", "key": "new", "agent": "upstream", "confirmed": False}
    confirmed = {**silent, "confirmed": True}
    status = polls(silent, *([silent] * 20), *([confirmed] * 40))
    replay = Replay(create_vm, v3(LINUX, apply_timeout=1800, poll_interval=5))
    calls = drive(replay, v3_results(vm_guest_status=status), max_turns=2000)
    assert not replay.state.get("error"), replay.state
    final = job_patches(replay)[-1]
    assert final["status"] == "Succeeded"
    assert any("does not report completion" in w for w in final["add_warnings"])
    assert "vm_cleanup" not in calls
    assert work(calls).count("vm_guest_status") < 100  # well before the 30-minute apply timeout


def test_a_silent_agent_without_confirmation_still_times_out() -> None:
    silent = {"state": "waitingforaeskey", "key": "new", "agent": "upstream", "confirmed": False}
    replay = Replay(create_vm, v3(LINUX, apply_timeout=300, poll_interval=5))
    drive(replay, v3_results(vm_guest_status=polls(silent)), max_turns=2000)
    final = job_patches(replay)[-1]
    assert final["status"] == "Failed"
    assert final["error"]["category"] == "GuestTimeout"


def test_version_2_instances_poll_with_the_plain_target_and_publish_unchecked() -> None:
    status = polls({"state": "waitingforaeskey"}, {"state": "provisioningapplied"})
    replay = Replay(create_vm, v2(LINUX))
    drive(replay, v3_results(vm_guest_status=status))
    assert set(status.seen[0]) == {"job_id", "host", "vm_id"}
    publish = next(t for t in replay.scheduled if t.name == "vm_publish_guest_data").input
    assert "check_agent" not in publish
    preflight = next(t for t in replay.scheduled if t.name == "vm_preflight").input
    assert "guest" not in preflight
