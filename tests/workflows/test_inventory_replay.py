"""The inventory sync orchestration replayed with the real SDK: one host's failure, a failed prune or a failed
collect never fail the sync or the other hosts, and an API job always ends — with one activity per host (inputs
without ``hosts_per_activity``, as earlier builds started them) and with batches of hosts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from functions.models.inventory import STILL_RUNNING
from functions.provisioning.contracts import INVENTORY_SYNC
from functions.provisioning.workflow_data import SyncInput
from functions.workflows.inventory import inventory_sync
from tests.support.replay import T0, Replay, Scheduled
from tests.workflows.test_create_vm_replay import Fail, drive, job_patches

HOSTS = ["hv01", "hv02", "hv03"]


def sync_input(**extra: Any) -> dict[str, Any]:
    return {"hosts": HOSTS, "prune": True, "deadline_seconds": 600, "job_id": "job-1", **extra}


def collect(task: Scheduled) -> Any:
    host = task.input
    if host == "hv02":  # its store failed: the activity reports it and marks the host
        return {"host": host, "ok": False, "vms": 4, "error": "storage: ServiceRequestError"}
    return {"host": host, "ok": True, "vms": 3, "written": 1, "deleted": 0, "duration_s": 0.5}


def results(**overrides: Any) -> dict[str, Any]:
    return {
        "job_update": {"ok": True},
        "inventory_collect_host": collect,
        "inventory_prune": {"deleted": 2},
        **overrides,
    }


def test_one_hosts_store_failure_is_reported_and_the_others_are_synced() -> None:
    replay = Replay(inventory_sync, sync_input(), instance_id="refresh-inventory-all-1")
    drive(replay, results())
    assert not replay.state.get("error")
    output = replay.output
    assert (output["hosts"], output["succeeded"]) == (3, 2)
    assert output["failed"] == [{"host": "hv02", "error": "storage: ServiceRequestError"}]
    assert output["vms"] == 10
    final = job_patches(replay)[-1]
    assert final["status"] == "Succeeded"
    assert final["result"]["failed"][0]["host"] == "hv02"


def test_a_collect_activity_that_keeps_failing_is_that_hosts_failure_only() -> None:
    def flaky(task: Scheduled) -> Any:
        return Fail("worker died", category="InternalError") if task.input == "hv03" else collect(task)

    replay = Replay(inventory_sync, sync_input(), instance_id="refresh-inventory-all-2")
    calls = drive(replay, results(inventory_collect_host=flaky))
    assert calls.count("inventory_collect_host") == 3 + 2  # hv03 tried three times
    output = replay.output
    assert {f["host"] for f in output["failed"]} == {"hv02", "hv03"}
    assert "worker died" in next(f["error"] for f in output["failed"] if f["host"] == "hv03")
    assert job_patches(replay)[-1]["status"] == "Succeeded"


def test_a_prune_that_fails_is_reported_and_the_sync_succeeds() -> None:
    """The race that wedged refreshes: two prunes deleting the same rows. A prune failure is a note, not a failure."""
    prune = Fail("0:The specified resource does not exist", category="InternalError")
    replay = Replay(inventory_sync, sync_input(), instance_id="refresh-inventory-all-3")
    calls = drive(replay, results(inventory_prune=prune))
    assert calls.count("inventory_prune") == 3
    output = replay.output
    assert output["prune_error"] and "does not exist" in output["prune_error"]
    assert output["succeeded"] == 2
    assert job_patches(replay)[-1]["status"] == "Succeeded"


def test_every_host_failing_is_reported_not_a_failed_sync() -> None:
    replay = Replay(inventory_sync, sync_input(), instance_id="refresh-inventory-all-4")
    drive(replay, results(inventory_collect_host=Fail("boom", category="InternalError")))
    assert not replay.state.get("error")
    assert replay.output["succeeded"] == 0
    assert [f["host"] for f in replay.output["failed"]] == HOSTS
    assert job_patches(replay)[-1]["status"] == "Succeeded"


def test_a_failure_outside_the_hosts_finalizes_the_job_as_failed() -> None:
    """Whatever fails, the API's job is finalized: a later refresh never finds it Running."""

    def job_update(task: Scheduled) -> Any:
        return (
            Fail("storage down", category="StorageUnavailable")
            if task.input["patch"].get("status") == "Running"
            else {"ok": True}
        )

    replay = Replay(inventory_sync, sync_input(), instance_id="refresh-inventory-all-5")
    drive(replay, results(job_update=job_update))
    assert replay.state.get("error")  # the orchestration failed ...
    final = job_patches(replay)[-1]
    assert final["status"] == "Failed"  # ... and said so on its job
    assert final["error"]["category"] == "StorageUnavailable"
    assert final["finished"]


def test_the_timer_sync_has_no_job_and_never_prunes_when_told_not_to() -> None:
    replay = Replay(inventory_sync, sync_input(job_id=None, prune=False), instance_id="inventory-timer")
    calls = drive(replay, results())
    assert "job_update" not in calls and "inventory_prune" not in calls
    assert replay.output["succeeded"] == 2


# -- batches: an input with hosts_per_activity ----------------------------------------------------------------

FIVE = ["hv01", "hv02", "hv03", "hv04", "hv05"]


def batched_input(**extra: Any) -> dict[str, Any]:
    return {"hosts": FIVE, "prune": True, "deadline_seconds": 600, "job_id": "job-1", "hosts_per_activity": 2, **extra}


def collect_batch(task: Scheduled) -> Any:
    return [collect(Scheduled(0, "activity", input=host)) for host in task.input["hosts"]]


def batch_results(**overrides: Any) -> dict[str, Any]:
    return results(**{"inventory_collect_hosts": collect_batch, **overrides})


def test_hosts_are_collected_in_batches_of_the_inputs_size() -> None:
    replay = Replay(inventory_sync, batched_input(), instance_id="refresh-inventory-all-6")
    calls = drive(replay, batch_results())
    assert "inventory_collect_host" not in calls
    batches = [t.input for t in replay.scheduled if t.name == "inventory_collect_hosts"]
    assert [b["hosts"] for b in batches] == [["hv01", "hv02"], ["hv03", "hv04"], ["hv05"]]
    # Each batch reports the hosts it still waits for a tenth of the deadline (at most 30 s) before it.
    assert {b["report_by"] for b in batches} == {(T0 + timedelta(seconds=570)).isoformat()}
    output = replay.output
    assert (output["hosts"], output["succeeded"], output["vms"]) == (5, 4, 4 * 3 + 4)
    assert output["failed"] == [{"host": "hv02", "error": "storage: ServiceRequestError"}]
    assert job_patches(replay)[-1]["status"] == "Succeeded"


def test_a_batch_that_keeps_failing_fails_its_hosts_only() -> None:
    def flaky(task: Scheduled) -> Any:
        return Fail("worker died", category="InternalError") if "hv03" in task.input["hosts"] else collect_batch(task)

    replay = Replay(inventory_sync, batched_input(), instance_id="refresh-inventory-all-7")
    calls = drive(replay, batch_results(inventory_collect_hosts=flaky))
    assert calls.count("inventory_collect_hosts") == 3 + 2  # the failing batch tried three times
    failed = {f["host"]: f["error"] for f in replay.output["failed"]}
    assert set(failed) == {"hv02", "hv03", "hv04"}
    assert "worker died" in failed["hv03"] and "worker died" in failed["hv04"]
    assert replay.output["succeeded"] == 2


def test_a_host_a_batch_does_not_report_is_a_failure_of_that_host() -> None:
    def partial(task: Scheduled) -> Any:
        return [s for s in collect_batch(task) if s["host"] != "hv05"]

    replay = Replay(inventory_sync, batched_input(), instance_id="refresh-inventory-all-8")
    drive(replay, batch_results(inventory_collect_hosts=partial))
    failed = {f["host"]: f["error"] for f in replay.output["failed"]}
    assert "did not report" in str(failed["hv05"])


def test_batches_still_running_at_the_deadline_report_their_hosts_as_timed_out() -> None:
    replay = Replay(inventory_sync, batched_input(), instance_id="refresh-inventory-all-9")
    replay.run()
    replay.complete(replay.activity("job_update"), {"ok": True})
    first, _silent, third = replay.pending("activity")
    replay.complete(first, collect_batch(first))
    replay.complete(third, collect_batch(third))
    replay.fire()  # the deadline: the second batch never answered
    drive(replay, batch_results())
    output = replay.output
    failed = {f["host"]: f["error"] for f in output["failed"]}
    assert failed["hv03"] == failed["hv04"] == STILL_RUNNING
    assert output["succeeded"] == 2  # hv01, hv05 (hv02's store failed)
    assert job_patches(replay)[-1]["status"] == "Succeeded"


def test_the_service_starts_syncs_in_batches_and_the_input_keeps_its_shape() -> None:
    document = SyncInput(hosts=("hv01", "hv02"), deadline_seconds=60, job_id="j", hosts_per_activity=7).to_json()
    assert document["hosts_per_activity"] == 7
    loaded = INVENTORY_SYNC.input.load(document)
    assert loaded == SyncInput(hosts=("hv01", "hv02"), deadline_seconds=60, job_id="j", hosts_per_activity=7)
    assert INVENTORY_SYNC.input.dump(loaded) == document
    earlier = SyncInput(hosts=("hv01",), deadline_seconds=60).to_json()
    assert "hosts_per_activity" not in earlier  # an earlier build's input: one activity per host
    assert INVENTORY_SYNC.input.load(earlier).hosts_per_activity is None
