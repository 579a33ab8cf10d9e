"""Job records against Azurite: create, update, final states sticky, newest-first listing with filters and paging."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableServiceClient

from functions.jobs.store import InvalidContinuationError, JobStore
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


def job(job_id: str, kind: str = "create_vm", requester: str = "alice") -> dict[str, object]:
    return {
        "id": job_id,
        "kind": kind,
        "target": {"host": "hv01", "name": f"vm-{job_id}", "vm_id": None},
        "requested_by": {"id": requester, "name": requester.title(), "type": "user"},
    }


def test_create_get_update(store: JobStore) -> None:
    created = store.create(job("j1"))
    assert created["status"] == "Pending"
    assert created["created"] == "2026-11-01T12:00:01Z"
    with pytest.raises(ResourceExistsError):
        store.create(job("j1"))
    store.update("j1", {"status": "Running", "current_step": "preflight", "steps": [{"name": "preflight"}]})
    updated = store.update("j1", {"status": "Succeeded", "result": {"vm_id": "abc"}})
    assert updated is not None
    assert updated["status"] == "Succeeded"
    assert updated["steps"] == [{"name": "preflight"}]
    got = store.get("j1")
    assert got is not None
    assert (got["result"], got["target"]["host"]) == ({"vm_id": "abc"}, "hv01")
    assert store.update("missing", {"status": "Running"}) is None


def test_a_final_status_is_not_reopened(store: JobStore) -> None:
    store.create(job("j1"))
    store.update("j1", {"status": "Failed", "error": {"category": "VmNotFound"}})
    store.update("j1", {"status": "Running", "current_step": "late replay"})
    got = store.get("j1")
    assert got is not None
    assert got["status"] == "Failed"


def test_listing_newest_first_with_filters_and_paging(store: JobStore) -> None:
    for i in range(130):
        store.create(job(f"j{i:03}", kind="delete_vm" if i % 3 == 0 else "create_vm", requester=f"u{i % 2}"))
    store.update("j005", {"status": "Running"})
    seen: list[str] = []
    token = None
    while True:
        page = store.list(page_size=50, continuation=token)
        seen += [item["id"] for item in page.items]
        token = page.continuation
        if token is None:
            break
    assert seen == [f"j{i:03}" for i in reversed(range(130))]
    running = store.list(status="Running")
    assert [item["id"] for item in running.items] == ["j005"]
    deletes = [item["id"] for item in store.list(kind="delete_vm", requester_id="u0", page_size=200).items]
    assert deletes == [f"j{i:03}" for i in reversed(range(130)) if i % 3 == 0 and i % 2 == 0]
    with pytest.raises(InvalidContinuationError):
        store.list(continuation="%%%")


def test_idempotency_keys(store: JobStore) -> None:
    assert store.claim_key("k1", "j1", "hash-a") == ("j1", "hash-a")
    assert store.claim_key("k1", "j2", "hash-b") == ("j1", "hash-a")
    store.release_key("k1", "j2")
    assert store.claim_key("k1", "j3", "hash-c") == ("j1", "hash-a")
    store.release_key("k1", "j1")
    assert store.claim_key("k1", "j3", "hash-c") == ("j3", "hash-c")
