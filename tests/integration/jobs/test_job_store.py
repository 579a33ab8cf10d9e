"""Job records against Azurite: create, update, final states sticky, newest-first listing with filters and paging."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableServiceClient

from functions.errors import InvalidQuery
from functions.jobs.records import JobStore
from functions.models.jobs import Job, JobError, JobPatch, JobStatus, JobTarget, Requester, StepRecord, StepStatus
from tools.azurite import Azurite

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(azurite: Azurite) -> JobStore:
    clock = {"now": T0}

    def tick() -> datetime:
        clock["now"] += timedelta(seconds=1)
        return clock["now"]

    service = TableServiceClient.from_connection_string(azurite.connection_string)
    return JobStore(service, "j" + uuid.uuid4().hex[:10], clock=tick)


def job(store: JobStore, job_id: str, kind: str = "create_vm", requester: str = "alice") -> Job:
    return store.new_job(
        id=job_id,
        kind=kind,
        target=JobTarget(host="hv01", name=f"vm-{job_id}"),
        requested_by=Requester(id=requester, name=requester.title(), type="user"),
    )


def test_create_get_update(store: JobStore) -> None:
    created = store.create(job(store, "j1"))
    assert created.status == JobStatus.PENDING
    assert created.created == "2026-11-01T12:00:01Z"
    with pytest.raises(ResourceExistsError):
        store.create(job(store, "j1"))
    step = StepRecord("preflight", StepStatus.RUNNING, started="2026-11-01T12:00:02Z")
    store.update("j1", JobPatch(status=JobStatus.RUNNING, current_step="preflight", steps=(step,)))
    updated = store.update("j1", JobPatch(status=JobStatus.SUCCEEDED, result={"vm_id": "abc"}))
    assert updated is not None
    assert updated.status == JobStatus.SUCCEEDED
    assert updated.steps == (step,)
    got = store.get("j1")
    assert got is not None
    assert (got.result, got.target.host, got.current_step) == ({"vm_id": "abc"}, "hv01", "preflight")
    assert got.to_view()["requested_by"] == {"id": "alice", "name": "Alice", "type": "user", "app_id": None}
    assert store.update("missing", JobPatch(status=JobStatus.RUNNING)) is None


def test_a_final_status_is_not_reopened(store: JobStore) -> None:
    store.create(job(store, "j1"))
    store.update("j1", JobPatch(status=JobStatus.FAILED, error=JobError("VmNotFound", "gone")))
    store.update("j1", JobPatch(status=JobStatus.RUNNING, current_step="late replay"))
    got = store.get("j1")
    assert got is not None
    assert got.status == JobStatus.FAILED
    assert got.current_step is None


def test_documents_of_earlier_builds_still_load(store: JobStore) -> None:
    """A document as the untyped store wrote it (JSON fields, ``requested_by`` without ``app_id``)."""
    legacy = {
        "PartitionKey": "job",
        "RowKey": "create-vm-hv01-old-1",
        "id": "create-vm-hv01-old-1",
        "kind": "create_vm",
        "status": "Failed",
        "created": "2026-11-01T12:00:00Z",
        "updated": "2026-11-01T12:05:00Z",
        "failed_step": "wait_for_apply",
        "target_json": '{"host": "hv01", "name": "old", "vm_id": null}',
        "steps_json": '[{"name": "preflight", "status": "Succeeded", "started": "a", "finished": "b"}]',
        "requested_by_json": '{"id": "u1", "name": "U", "type": "user"}',
        "error_json": '{"category": "GuestTimeout", "message": "waited", "transient": false}',
        "cleanup_json": '{"status": "Succeeded", "actions": []}',
        "result_json": "null",
        "request_json": "null",
    }
    store.ensure_tables()
    store._service.get_table_client(store.jobs_table).create_entity(legacy)
    got = store.get("create-vm-hv01-old-1")
    assert got is not None
    assert got.status == JobStatus.FAILED
    assert got.error == JobError("GuestTimeout", "waited")
    assert got.steps[0].status == StepStatus.SUCCEEDED
    assert got.to_view()["cleanup"] == {"status": "Succeeded", "actions": []}


def test_listing_newest_first_with_filters_and_paging(store: JobStore) -> None:
    for i in range(130):
        store.create(job(store, f"j{i:03}", kind="delete_vm" if i % 3 == 0 else "create_vm", requester=f"u{i % 2}"))
    store.update("j005", JobPatch(status=JobStatus.RUNNING))
    seen: list[str] = []
    token = None
    while True:
        page = store.list(page_size=50, continuation=token)
        seen += [item.id for item in page.items]
        token = page.continuation
        if token is None:
            break
    assert seen == [f"j{i:03}" for i in reversed(range(130))]
    running = store.list(status=JobStatus.RUNNING)
    assert [item.id for item in running.items] == ["j005"]
    deletes = [item.id for item in store.list(kind="delete_vm", requester_id="u0", page_size=200).items]
    assert deletes == [f"j{i:03}" for i in reversed(range(130)) if i % 3 == 0 and i % 2 == 0]
    for bad in ("%%%", "W10", "MQ", "eyJ2IjoxLCJ0IjpbXX0"):  # junk, [], 1, {"v":1,"t":[]}
        with pytest.raises(InvalidQuery):
            store.list(continuation=bad)


def test_idempotency_keys(store: JobStore) -> None:
    assert store.claim_key("k1", "j1", "hash-a") == ("j1", "hash-a")
    assert store.claim_key("k1", "j2", "hash-b") == ("j1", "hash-a")
    store.release_key("k1", "j2")
    assert store.claim_key("k1", "j3", "hash-c") == ("j1", "hash-a")
    store.release_key("k1", "j1")
    assert store.claim_key("k1", "j3", "hash-c") == ("j3", "hash-c")
