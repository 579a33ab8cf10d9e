"""The create workflow (version 2) under faults, replayed with the real SDK: nothing orphaned, destroyed or stuck.

- Compensation goes by ownership (one cleanup activity: the host finds what carries the job's mark).
- A cleanup the host cannot take (unreachable after the retries) becomes a recorded debt: the job ends with
  cleanup ``Pending``, not ``Failed`` and not a silent success.
- Once the VM is complete nothing compensates: a failing final refresh, or a static address the host does not
  report in time, ends the job ``Succeeded`` with a warning.
"""

from __future__ import annotations

from typing import Any

from functions.workflows.create_vm import create_vm
from tests.support.replay import Replay
from tests.unit.test_vm_request import LINUX, WINDOWS
from tests.workflows.test_create_vm_replay import VM_ID, Fail, drive, happy_results, job_patches, spec, work


def v2(payload: dict[str, Any], **timing: Any) -> dict[str, Any]:
    document = spec(payload)
    document["version"] = 2
    document["timing"] = {**document["timing"], **timing}
    return document


def cleanup_result(**extra: Any) -> dict[str, Any]:
    return {
        "summary": "removed 1 VM(s) carrying the job's mark",
        "existed": True,
        "folder_removed": True,
        "host": {"job_id": "job-1", "vms_found": [{"id": VM_ID, "name": "app01"}], "vms_removed": [VM_ID]},
        "tables": {"vm_rows_removed": [VM_ID]},
        **extra,
    }


def test_compensation_is_one_cleanup_by_ownership_even_for_a_clustered_vm() -> None:
    replay = Replay(create_vm, v2(WINDOWS))
    results = happy_results()
    results["vm_finish_guest"] = Fail("eject failed")
    results["vm_cleanup"] = cleanup_result()
    calls = work(drive(replay, results))
    assert calls[calls.index("vm_finish_guest") + 1 :] == ["vm_cleanup", "vm_refresh_and_describe"]
    cleanup = job_patches(replay)[-1]["cleanup"]
    assert cleanup["status"] == "Succeeded"
    assert cleanup["host"]["vms_removed"] == [VM_ID]
    assert cleanup["tables"] == {"vm_rows_removed": [VM_ID]}


def test_a_host_unreachable_during_cleanup_leaves_a_recorded_debt_not_a_silent_success() -> None:
    replay = Replay(create_vm, v2(LINUX))
    results = happy_results()
    results["vm_create"] = Fail("no reply", category="HostUnreachable", transient=True)
    results["vm_cleanup"] = Fail("connection refused", category="HostUnreachable", transient=True)
    results["vm_record_cleanup_debt"] = {"since": "2026-11-01T12:05:00Z"}
    calls = work(drive(replay, results))
    assert calls.count("vm_cleanup") == 3  # retried like any step first
    assert calls[-1] == "vm_record_cleanup_debt"
    debt = next(t for t in replay.scheduled if t.name == "vm_record_cleanup_debt")
    assert debt.input["name"] == "web01"
    assert "HostUnreachable" in debt.input["error"]
    final = job_patches(replay)[-1]
    assert final["status"] == "Failed"
    assert final["error"]["category"] == "HostUnreachable"
    assert final["cleanup"]["status"] == "Pending"
    assert final["cleanup"]["pending_since"] == "2026-11-01T12:05:00Z"
    assert "cannot be reached" in final["cleanup"]["reason"]


def test_a_permanent_cleanup_failure_is_reported_as_failed() -> None:
    replay = Replay(create_vm, v2(LINUX))
    results = happy_results()
    results["vm_start_and_announce"] = Fail("start failed", category="InvalidVmState")
    results["vm_cleanup"] = Fail("access denied", category="AuthenticationFailed")
    calls = work(drive(replay, results))
    assert "vm_record_cleanup_debt" not in calls
    assert job_patches(replay)[-1]["cleanup"]["status"] == "Failed"


def test_once_the_vm_is_complete_a_failing_refresh_never_destroys_it() -> None:
    replay = Replay(create_vm, v2(LINUX))
    results = happy_results()
    results["vm_refresh_and_describe"] = Fail("storage down", category="StorageUnavailable", transient=True)
    calls = work(drive(replay, results))
    assert "vm_cleanup" not in calls
    final = job_patches(replay)[-1]
    assert final["status"] == "Succeeded"
    assert any("could not be refreshed" in w for w in final["add_warnings"])
    assert replay.output["vm_id"] == VM_ID
    assert replay.output["vm"] is None


def test_the_final_step_waits_for_the_static_address() -> None:
    payload = {
        **LINUX,
        "guest": {
            **LINUX["guest"],
            "ipv4": {
                "address": "10.0.0.50",
                "prefix_length": 24,
                "gateway": "10.0.0.1",
                "dns_servers": ["10.0.0.2"],
            },
        },
    }
    replay = Replay(create_vm, v2(payload))
    results = happy_results()
    answers = iter([[], ["169.254.1.1"], ["10.0.0.50", "fe80::1"]])

    def describe(_: Any) -> dict[str, Any]:
        return {**happy_results()["vm_refresh_and_describe"], "ip_addresses": next(answers)}

    results["vm_refresh_and_describe"] = describe
    calls = work(drive(replay, results))
    assert calls.count("vm_refresh_and_describe") == 3
    final = job_patches(replay)[-1]
    assert final["status"] == "Succeeded"
    assert "add_warnings" not in final
    assert replay.output["vm"]["ip_addresses"] == ["10.0.0.50", "fe80::1"]


def test_an_address_that_never_shows_is_a_warning_after_the_deadline() -> None:
    payload = {
        **LINUX,
        "guest": {
            **LINUX["guest"],
            "ipv4": {
                "address": "10.0.0.50",
                "prefix_length": 24,
                "gateway": "10.0.0.1",
                "dns_servers": ["10.0.0.2"],
            },
        },
    }
    replay = Replay(create_vm, v2(payload, address_timeout=30, poll_interval=5))
    results = happy_results()
    results["vm_refresh_and_describe"] = {**happy_results()["vm_refresh_and_describe"], "ip_addresses": []}
    calls = work(drive(replay, results))
    assert 6 <= calls.count("vm_refresh_and_describe") <= 9  # every 5 s for 30 s
    final = job_patches(replay)[-1]
    assert final["status"] == "Succeeded"
    assert any("10.0.0.50" in w for w in final["add_warnings"])
