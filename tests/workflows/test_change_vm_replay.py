"""The day-2 change orchestration replayed with the real Durable SDK: plan, restart, compensation, cancel, migration."""

from __future__ import annotations

from typing import Any

from functions.provisioning.changes import ChangeInput
from functions.provisioning.workflow_data import Timing
from functions.workflows.change_vm import change_plan, change_vm
from tests.support.replay import Fail, Replay, Scheduled, drive

VM_ID = "5f0c3d6e-1111-2222-3333-444455556666"
TIMING = Timing(retry_attempts=3, retry_first_interval=5)


def spec(kind: str = "update_vm", *, restart: bool = False, **params: Any) -> dict[str, Any]:
    document = ChangeInput("job-1", "hv01", VM_ID, kind, TIMING, params, restart=restart)  # type: ignore[arg-type]
    return document.to_json()


def power(task: Scheduled) -> dict[str, Any]:
    """A host that does what it is asked: shut down turns a running VM off, start turns it on."""
    action = task.input["action"]
    previous, state = ("Running", "Off") if action == "shutdown" else ("Off", "Running")
    return {"id": VM_ID, "previous_state": previous, "state": state, "changed": True}


def results(**overrides: Any) -> dict[str, Any]:
    answers: dict[str, Any] = {
        "job_update": {"status": "Running"},
        "vm_power": power,
        "vm_change": {"result": {"id": VM_ID, "processor_count": 4}, "host": "hv01"},
        "vm_refresh_and_describe": {"id": VM_ID, "name": "app01", "host": "hv01", "state": "Running"},
    }
    return answers | overrides


def work(calls: list[str]) -> list[str]:
    return [c for c in calls if c != "job_update"]


def job_patches(replay: Replay) -> list[dict[str, Any]]:
    return [t.input["patch"] for t in replay.scheduled if t.name == "job_update"]


def actions(replay: Replay) -> list[str]:
    return [t.input["action"] for t in replay.scheduled if t.name == "vm_power"]


def test_a_change_without_restart_is_one_host_step_then_the_refresh() -> None:
    replay = Replay(change_vm, spec(cpu_cores=None, notes="web tier"))
    calls = work(drive(replay, results()))
    assert calls == ["vm_change", "vm_refresh_and_describe"]
    change = next(t for t in replay.scheduled if t.name == "vm_change")
    assert change.input["kind"] == "update_vm" and change.input["params"] == {"cpu_cores": None, "notes": "web tier"}
    final = job_patches(replay)[-1]
    assert final["status"] == "Succeeded"
    assert final["result"]["kind"] == "update_vm" and final["result"]["restarted"] is False
    assert [s["name"] for s in final["steps"]] == ["update_vm", "refresh"]


def test_allow_restart_shuts_down_changes_and_starts_again() -> None:
    replay = Replay(change_vm, spec(restart=True, cpu_cores=4))
    calls = work(drive(replay, results()))
    assert calls == ["vm_power", "vm_change", "vm_power", "vm_refresh_and_describe"]
    assert actions(replay) == ["shutdown", "start"]
    final = job_patches(replay)[-1]
    assert [s["name"] for s in final["steps"]] == ["shutdown", "update_vm", "start", "refresh"]
    assert final["result"]["restarted"] is True
    assert job_patches(replay)[0]["plan"] == change_plan(ChangeInput.from_json(spec(restart=True)))


def test_a_vm_found_off_is_changed_and_left_off() -> None:
    off = {"id": VM_ID, "previous_state": "Off", "state": "Off", "changed": False}
    replay = Replay(change_vm, spec(restart=True, cpu_cores=4))
    calls = work(drive(replay, results(vm_power=off)))
    assert calls == ["vm_power", "vm_change", "vm_refresh_and_describe"]
    assert actions(replay) == ["shutdown"]
    assert job_patches(replay)[-1]["result"]["restarted"] is False


def test_a_failed_change_after_the_shut_down_starts_the_vm_again() -> None:
    replay = Replay(change_vm, spec(restart=True, memory_mb=8192))
    failing = results(vm_change=Fail("the memory cannot change", category="InvalidVmState"))
    calls = work(drive(replay, failing))
    assert calls == ["vm_power", "vm_change", "vm_power"]
    assert actions(replay) == ["shutdown", "start"]
    final = job_patches(replay)[-1]
    assert final["status"] == "Failed"
    assert final["failed_step"] == "update_vm"
    assert final["error"]["category"] == "InvalidVmState"
    assert final["cleanup"] == {"status": "Succeeded", "actions": ["started the VM this job had shut down"]}


def test_a_start_that_fails_in_the_compensation_is_reported_not_hidden() -> None:
    def start_fails(task: Scheduled) -> Any:
        return Fail("no", category="InvalidVmState") if task.input["action"] == "start" else power(task)

    replay = Replay(change_vm, spec(restart=True, cpu_cores=2))
    failing = results(vm_power=start_fails, vm_change=Fail("refused", category="InvalidParameters"))
    drive(replay, failing)
    cleanup = job_patches(replay)[-1]["cleanup"]
    assert cleanup["status"] == "Failed"
    assert "start it by hand" in cleanup["reason"]
    assert cleanup["error"]["category"] == "InvalidVmState"


def test_a_failure_without_a_shut_down_has_nothing_to_compensate() -> None:
    replay = Replay(change_vm, spec("add_disk", size_gb=10, file_name="app01-data-1.vhdx"))
    calls = work(drive(replay, results(vm_change=Fail("disk full", category="InsufficientResources"))))
    assert calls == ["vm_change"]
    final = job_patches(replay)[-1]
    assert final["status"] == "Failed" and final["cleanup"] == {"status": "Nothing to clean up"}


def test_a_transient_host_failure_is_retried_and_the_step_runs_again() -> None:
    attempts: list[int] = []

    def flaky(task: Scheduled) -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            return Fail("connection reset", category="HostUnreachable", transient=True)
        return {"result": {"existed": True}, "host": "hv01"}

    replay = Replay(change_vm, spec("remove_nic", nic_id="Microsoft:X\\Y"))
    calls = work(drive(replay, results(vm_change=flaky)))
    assert calls == ["vm_change", "vm_change", "vm_refresh_and_describe"]
    assert job_patches(replay)[-1]["status"] == "Succeeded"


def test_a_cancel_during_the_shut_down_starts_the_vm_again_and_changes_nothing() -> None:
    replay = Replay(change_vm, spec(restart=True, cpu_cores=8))
    drive(replay, results(), until=lambda r: any(t.name == "vm_power" and not t.done for t in r.scheduled))
    replay.raise_event("cancel", {"by": "alice"})
    replay.complete(replay.activity("vm_power"), power(replay.activity("vm_power")))
    calls = work(drive(replay, results()))
    assert calls == ["vm_power"]  # the start; no vm_change
    assert actions(replay) == ["shutdown", "start"]
    final = job_patches(replay)[-1]
    assert final["status"] == "Canceled"
    assert final["cleanup"]["status"] == "Succeeded"


def test_a_cancel_once_the_change_runs_is_not_honoured() -> None:
    replay = Replay(change_vm, spec("expand_disk", disk_id="d1", size_gb=80))
    drive(replay, results(), until=lambda r: any(t.name == "vm_change" and not t.done for t in r.scheduled))
    replay.raise_event("cancel")
    calls = work(drive(replay, results()))
    assert calls == ["vm_change", "vm_refresh_and_describe"]
    assert job_patches(replay)[-1]["status"] == "Succeeded"


def test_a_migration_refreshes_both_hosts_and_reports_the_new_one() -> None:
    moved = {"result": {"vm_id": VM_ID, "source": "hv01", "destination": "hv02"}, "host": "hv02"}
    described = {"id": VM_ID, "name": "app01", "host": "hv02", "state": "Running"}
    replay = Replay(change_vm, spec("migrate_vm", destination="hv02", clustered=False))
    calls = work(drive(replay, results(vm_change=moved, vm_refresh_and_describe=described)))
    assert calls == ["vm_change", "vm_refresh_and_describe", "vm_refresh_and_describe"]
    refreshes = [t.input for t in replay.scheduled if t.name == "vm_refresh_and_describe"]
    assert refreshes[0] == {"job_id": "job-1", "host": "hv01", "vm_id": None}  # the row leaves the source
    assert refreshes[1] == {"job_id": "job-1", "host": "hv02", "vm_id": VM_ID}
    final = job_patches(replay)[-1]
    assert final["result"]["host"] == "hv02" and final["result"]["vm"]["host"] == "hv02"


def changes(replay: Replay) -> list[dict[str, Any]]:
    return [t.input for t in replay.scheduled if t.name == "vm_change"]


def test_a_failed_add_disk_removes_the_file_its_step_may_have_made() -> None:
    path = "C:\\Hyper-V\\app01\\app01-data-1a2b3c4d.vhdx"
    replay = Replay(change_vm, spec("add_disk", size_gb=10, file_name="app01-data-1a2b3c4d.vhdx", path=path))

    def host(task: Scheduled) -> Any:
        if task.input["kind"] == "add_disk":
            return Fail("attach failed", category="ScriptFailed")
        return {"result": {"existed": False, "path": path, "file_deleted": True}, "host": "hv01"}

    calls = work(drive(replay, results(vm_change=host)))
    assert calls == ["vm_change", "vm_change"]
    assert changes(replay)[1]["kind"] == "remove_disk"
    assert changes(replay)[1]["params"] == {"disk_id": "", "path": path}
    final = job_patches(replay)[-1]
    assert final["status"] == "Failed" and final["error"]["category"] == "ScriptFailed"
    assert final["cleanup"] == {"status": "Succeeded", "actions": [f"deleted the disk file {path} the step had made"]}


def test_a_failed_add_nic_removes_the_adapter_by_the_jobs_name() -> None:
    replay = Replay(change_vm, spec("add_nic", switch="External", vlan_id=12, name="nic-1a2b3c4d"))

    def host(task: Scheduled) -> Any:
        if task.input["kind"] == "add_nic":
            return Fail("the VLAN could not be set", category="ScriptFailed")
        return {"result": {"existed": True}, "host": "hv01"}

    drive(replay, results(vm_change=host))
    assert changes(replay)[1] == {
        "job_id": "job-1",
        "host": "hv01",
        "vm_id": VM_ID,
        "kind": "remove_nic",
        "params": {"nic_id": "", "name": "nic-1a2b3c4d"},
    }
    cleanup = job_patches(replay)[-1]["cleanup"]
    assert cleanup == {"status": "Succeeded", "actions": ["removed the adapter nic-1a2b3c4d the step had added"]}


def test_a_removal_that_fails_leaves_a_failed_cleanup_naming_it_and_still_starts_the_vm() -> None:
    path = "C:\\Hyper-V\\app01\\x.vhdx"
    replay = Replay(change_vm, spec("add_disk", restart=True, size_gb=1, file_name="x.vhdx", path=path))
    drive(replay, results(vm_change=Fail("access denied", category="AuthenticationFailed")))
    assert [c["kind"] for c in changes(replay)] == ["add_disk", "remove_disk"]
    assert actions(replay) == ["shutdown", "start"]
    cleanup = job_patches(replay)[-1]["cleanup"]
    assert cleanup["status"] == "Failed"
    assert cleanup["actions"] == ["started the VM this job had shut down"]
    assert "could not be removed" in cleanup["reason"]
    assert cleanup["error"]["category"] == "AuthenticationFailed"


def test_a_made_change_whose_refresh_fails_succeeds_with_a_warning_and_is_never_undone() -> None:
    path = "C:\\Hyper-V\\app01\\y.vhdx"
    replay = Replay(change_vm, spec("add_disk", size_gb=1, file_name="y.vhdx", path=path))
    drive(replay, results(vm_refresh_and_describe=Fail("storage down", category="StorageUnavailable")))
    assert [c["kind"] for c in changes(replay)] == ["add_disk"]
    final = job_patches(replay)[-1]
    assert final["status"] == "Succeeded" and "cleanup" not in final
    assert "not refreshed" in final["add_warnings"][0]
    assert final["steps"][-1] == {**final["steps"][-1], "name": "refresh", "status": "Failed"}


MIGRATION = {"destination": "hv02", "storage_path": "D:\\Hyper-V\\app01", "clustered": False, "vm_name": "app01"}


def test_a_move_that_move_vm_failed_has_its_partial_copy_removed_on_the_destination() -> None:
    replay = Replay(change_vm, spec("migrate_vm", **MIGRATION))

    def host(task: Scheduled) -> Any:
        if task.input["kind"] == "migrate_vm":
            return Fail("the network connection was reset", category="ScriptFailed")
        return {"result": {"existed": True, "files_deleted": 3, "warning": None}, "host": "hv02"}

    drive(replay, results(vm_change=host))
    discard = changes(replay)[1]
    assert (discard["kind"], discard["host"]) == ("discard_migration_copy", "hv02")
    assert discard["params"] == {"vm_name": "app01", "storage_path": "D:\\Hyper-V\\app01"}
    cleanup = job_patches(replay)[-1]["cleanup"]
    assert cleanup["actions"] == ["removed the partial copy the move had left in D:\\Hyper-V\\app01 on hv02 (3 files)"]


def test_a_move_refused_by_its_checks_or_of_unknown_outcome_touches_nothing_on_the_destination() -> None:
    for category in ("VmAlreadyExists", "MigrationUnconfirmed", "InsufficientResources"):
        replay = Replay(change_vm, spec("migrate_vm", **MIGRATION))
        drive(replay, results(vm_change=Fail("no", category=category)))
        assert [c["kind"] for c in changes(replay)] == ["migrate_vm"], category
        assert job_patches(replay)[-1]["cleanup"] == {"status": "Nothing to clean up"}
    clustered = {**MIGRATION, "clustered": True, "storage_path": None}
    replay = Replay(change_vm, spec("migrate_vm", **clustered))
    drive(replay, results(vm_change=Fail("the cluster refused", category="ScriptFailed")))
    assert [c["kind"] for c in changes(replay)] == ["migrate_vm"]
