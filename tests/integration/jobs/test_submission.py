"""Job submission against Azurite: one running job per target, conflicts named, idempotency, reconciliation.

The workflow engine is played by :class:`Engine` (the Durable client's seam): it records starts and answers each
instance's status as the test sets it, so every state the extension can report is reachable; the end-to-end tests
run the same code against the devhost.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.data.tables import TableServiceClient

from functions.errors import Conflict
from functions.jobs.records import JobStore
from functions.jobs.submission import JobRequest, JobSubmitter, WorkflowStatus
from functions.models.jobs import Job, JobPatch, JobStatus, JobTarget, Requester
from functions.provisioning.contracts import INVENTORY_SYNC, POWER_VM, Orchestration
from tools.azurite import Azurite

ALICE = Requester(id="alice", name="Alice", type="user")


@dataclass
class Engine:
    started: list[tuple[str, str, Any]] = field(default_factory=list)
    statuses: dict[str, WorkflowStatus] = field(default_factory=dict)
    refuse: bool = False

    def start(self, orchestration: Orchestration[Any], instance_id: str, payload: Any) -> None:
        if self.refuse:
            raise RuntimeError("the task hub is not reachable")
        self.started.append((orchestration.name, instance_id, payload))
        self.statuses[instance_id] = WorkflowStatus("Running")

    def status(self, instance_id: str) -> WorkflowStatus | None:
        return self.statuses.get(instance_id)

    def raise_event(self, instance_id: str, name: str, data: Any) -> None:
        raise AssertionError("not used")


@pytest.fixture
def clock() -> dict[str, datetime]:
    return {"now": datetime(2026, 11, 1, 12, 0, tzinfo=UTC)}


@pytest.fixture
def submitter(azurite: Azurite, clock: dict[str, datetime]) -> JobSubmitter:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    store = JobStore(service, "s" + uuid.uuid4().hex[:10], clock=lambda: clock["now"])
    return JobSubmitter(store, b"k" * 32, clock=lambda: clock["now"])


def power(action: str, *, key: str | None = None, body: Any = None) -> JobRequest:
    return JobRequest(
        kind="power_vm",
        orchestration=POWER_VM,
        target=JobTarget(host="hv01", name="web01", vm_id="vm-1", action=action),
        claim="vm-1",
        scope="vm",
        build_input=lambda job_id: {"job_id": job_id},
        requested_by=ALICE,
        body=body if body is not None else {"action": action},
        idempotency_key=key,
    )


def test_the_same_job_while_it_runs_is_returned_not_started_again(submitter: JobSubmitter) -> None:
    engine = Engine()
    first = submitter.submit(engine, power("stop"))
    second = submitter.submit(engine, power("stop"))
    assert first.created and not second.created
    assert second.job.id == first.job.id == "power-vm-vm-1-1"
    assert len(engine.started) == 1


def test_another_action_on_a_busy_vm_is_a_conflict_naming_the_running_job(submitter: JobSubmitter) -> None:
    engine = Engine()
    stop = submitter.submit(engine, power("stop"))
    with pytest.raises(Conflict) as caught:
        submitter.submit(engine, power("restart"))
    assert stop.job.id in caught.value.message
    assert "power_vm stop" in caught.value.message
    assert caught.value.extra == {"job_id": stop.job.id}
    assert len(engine.started) == 1


def test_once_the_instance_ends_the_record_is_reconciled_and_the_target_is_free(submitter: JobSubmitter) -> None:
    engine = Engine()
    first = submitter.submit(engine, power("stop"))
    engine.statuses[first.job.id] = WorkflowStatus("Failed", output="Orchestrator function 'power_vm' failed: boom")
    second = submitter.submit(engine, power("start"))
    assert second.created and second.job.id == "power-vm-vm-1-2"
    old = submitter.store.get(first.job.id)
    assert old is not None
    assert old.status == JobStatus.FAILED
    assert old.error is not None and old.error.category == "WorkflowFailed"
    assert "boom" in old.error.message


@pytest.mark.parametrize(
    ("runtime", "expected"), [("Terminated", JobStatus.FAILED), ("Completed", JobStatus.SUCCEEDED), (None, None)]
)
def test_reconcile_follows_the_instance(
    submitter: JobSubmitter, clock: dict[str, datetime], runtime: str | None, expected: JobStatus | None
) -> None:
    engine = Engine()
    job = submitter.submit(engine, power("stop")).job
    submitter.store.update(job.id, JobPatch(status=JobStatus.RUNNING))
    if runtime is None:
        del engine.statuses[job.id]  # purged, or the instance never existed
        expected = JobStatus.FAILED
    else:
        engine.statuses[job.id] = WorkflowStatus(runtime, output={"vm_id": "vm-1"})
    reconciled = submitter.reconcile(engine, submitter.store.get(job.id))  # type: ignore[arg-type]
    assert reconciled.status == expected
    if runtime == "Completed":
        assert reconciled.result == {"vm_id": "vm-1"}


def test_a_pending_job_whose_start_may_be_in_flight_is_left_alone_for_a_while(
    submitter: JobSubmitter, clock: dict[str, datetime]
) -> None:
    engine = Engine()
    job = submitter.submit(engine, power("stop")).job
    del engine.statuses[job.id]
    assert submitter.reconcile(engine, job).status == JobStatus.PENDING
    clock["now"] += timedelta(minutes=3)
    assert submitter.reconcile(engine, job).status == JobStatus.FAILED


def test_a_failed_start_fails_the_job_and_frees_the_target(submitter: JobSubmitter) -> None:
    engine = Engine(refuse=True)
    with pytest.raises(RuntimeError):
        submitter.submit(engine, power("stop"))
    failed = submitter.store.get("power-vm-vm-1-1")
    assert failed is not None
    assert failed.status == JobStatus.FAILED
    engine.refuse = False
    assert submitter.submit(engine, power("stop")).created


def test_idempotency_key_same_body_same_job_other_body_conflict(submitter: JobSubmitter) -> None:
    engine = Engine()
    first = submitter.submit(engine, power("stop", key="k-1"))
    engine.statuses[first.job.id] = WorkflowStatus("Completed")
    again = submitter.submit(engine, power("stop", key="k-1"))
    assert again.job.id == first.job.id
    with pytest.raises(Conflict):
        submitter.submit(engine, power("stop", key="k-1", body={"action": "stop", "other": 1}))


def test_the_stored_fingerprint_is_keyed_so_table_readers_cannot_test_guesses(submitter: JobSubmitter) -> None:
    engine = Engine()
    body = {"guest": {"admin_password": "hunter2"}}
    submitter.submit(engine, power("stop", key="k-2", body=body))
    bound = submitter.store.bound_key("idem:alice:k-2")
    assert bound is not None
    plain = hashlib.sha256(json.dumps({"kind": "power_vm", "body": body}, sort_keys=True).encode()).hexdigest()
    assert bound[1] != plain
    assert bound[1] == submitter.fingerprint({"kind": "power_vm", "body": body})
    other = JobSubmitter(submitter.store, b"x" * 32)
    assert other.fingerprint({"kind": "power_vm", "body": body}) != bound[1]


def test_refreshes_of_everything_share_one_instance_scheme(submitter: JobSubmitter) -> None:
    engine = Engine()
    request = JobRequest(
        kind="refresh_inventory",
        orchestration=INVENTORY_SYNC,
        target=JobTarget(),
        claim="all",
        build_input=lambda job_id: {"job_id": job_id},
        requested_by=ALICE,
    )
    first = submitter.submit(engine, request)
    assert first.job.id == "refresh-inventory-all-1"
    engine.statuses[first.job.id] = WorkflowStatus("Completed")
    assert submitter.submit(engine, request).job.id == "refresh-inventory-all-2"


def test_concurrent_submits_of_one_job_start_it_once(submitter: JobSubmitter) -> None:
    """A submit that finds the claim taken but the job's record not written yet waits for it, never starts another."""
    import threading

    engine = Engine()
    first = submitter.submit(engine, power("stop"))
    engine.statuses[first.job.id] = WorkflowStatus("Completed")  # the target is free again
    store = submitter.store
    create = store.create

    def slow_create(job: Job) -> Job:
        time.sleep(0.3)  # a slow storage round trip between taking the claim and writing the record
        return create(job)

    store.create = slow_create  # type: ignore[method-assign]
    barrier = threading.Barrier(6)
    answers: list[str] = []

    def submit() -> None:
        barrier.wait()
        answers.append(submitter.submit(engine, power("start")).job.id)

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(answers) == {"power-vm-vm-1-2"}
    assert [started[1] for started in engine.started] == [first.job.id, "power-vm-vm-1-2"]


def test_a_precheck_refuses_before_any_claim_or_record_and_is_skipped_for_a_running_job(
    submitter: JobSubmitter,
) -> None:
    engine = Engine()
    calls: list[str] = []

    def refuse() -> None:
        calls.append("checked")
        raise Conflict("IP pool p has no free address")

    with pytest.raises(Conflict):
        submitter.submit(engine, replace(power("stop"), precheck=refuse))
    assert submitter.store.get_claim("vm:vm-1")[0] is None and submitter.store.get("power-vm-vm-1-1") is None
    first = submitter.submit(engine, replace(power("stop"), precheck=lambda: calls.append("ok")))
    again = submitter.submit(engine, replace(power("stop"), precheck=refuse))  # the running job: no precheck
    assert again.job.id == first.job.id and calls == ["checked", "ok"]


def test_a_domain_error_while_making_the_input_fails_the_job_and_is_raised_as_it_is(submitter: JobSubmitter) -> None:
    engine = Engine()

    def build(job_id: str) -> Any:
        raise Conflict("IP pool p has no free address")

    with pytest.raises(Conflict, match="no free address"):
        submitter.submit(engine, replace(power("stop"), build_input=build))
    job = submitter.store.get("power-vm-vm-1-1")
    assert job is not None and job.status == JobStatus.FAILED
    assert job.error is not None and job.error.category == "Conflict"
    assert engine.started == []
