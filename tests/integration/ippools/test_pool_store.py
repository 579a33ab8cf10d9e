"""The IP pool table against Azurite: atomic allocation under concurrency, exhaustion, the inventory's addresses
skipped, release by job and by VM, replace and delete refused while they would orphan an allocation."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.data.tables import TableServiceClient

from functions.errors import Conflict, NotFound
from functions.inventory.repository import InventoryRepository
from functions.ippools.store import POOL_ROW, PoolStore
from functions.jobs.records import JobStore
from functions.models.ip_pools import IpPoolSpec
from functions.models.jobs import JobPatch, JobStatus, JobTarget, Requester
from functions.models.vm_request import parse_vm_request
from functions.services.ip_pools import PoolChoice, PoolService
from tools.azurite import Azurite


def spec(first: str = "10.0.120.50", last: str = "10.0.120.199", **extra: Any) -> IpPoolSpec:
    return IpPoolSpec.model_validate(
        {
            "network": "External",
            "vlan_id": 120,
            "prefix_length": 24,
            "gateway": "10.0.120.1",
            "dns_servers": ["10.0.0.2"],
            "dns_suffix": "corp.example",
            "ranges": [{"start": first, "end": last}],
            **extra,
        }
    )


@pytest.fixture
def service(azurite: Azurite) -> TableServiceClient:
    return TableServiceClient.from_connection_string(azurite.connection_string)


@pytest.fixture
def prefix() -> str:
    return "p" + uuid.uuid4().hex[:10]


@pytest.fixture
def store(service: TableServiceClient, prefix: str) -> PoolStore:
    return PoolStore(service, prefix)


def rows(service: TableServiceClient, store: PoolStore, pool: str) -> dict[str, dict[str, Any]]:
    """The pool's allocation rows as the table holds them (read straight from Azurite)."""
    table = service.get_table_client(store.table_name)
    found = table.query_entities("PartitionKey eq @p", parameters={"p": pool})
    return {str(r["RowKey"]): dict(r) for r in found if r["RowKey"] != POOL_ROW}


def test_thirty_concurrent_allocations_get_thirty_distinct_addresses(
    store: PoolStore, service: TableServiceClient
) -> None:
    store.put("prod-120", spec("10.0.120.50", "10.0.120.89"))
    got: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(30)

    def allocate(index: int) -> None:
        try:
            start.wait()
            allocation, _ = store.allocate("prod-120", job_id=f"job-{index}", vm_name=f"vm{index}", host="hv01")
            got.append(allocation.address)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=allocate, args=(i,)) for i in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(got) == 30 and len(set(got)) == 30
    stored = rows(service, store, "prod-120")
    assert sorted(stored) == sorted(got)
    assert {row["job_id"] for row in stored.values()} == {f"job-{i}" for i in range(30)}
    # the lowest thirty addresses of the range, none skipped and none twice
    assert sorted(got, key=lambda a: int(a.rsplit(".", 1)[1])) == [f"10.0.120.{n}" for n in range(50, 80)]


def test_allocation_order_skips_gateway_and_reserved_and_is_stable_per_job(store: PoolStore) -> None:
    store.put("p1", spec("10.0.120.1", "10.0.120.10", reserved=["10.0.120.2", "10.0.120.4"]))
    first, _ = store.allocate("p1", job_id="a", vm_name="a", host=None)
    again, _ = store.allocate("p1", job_id="a", vm_name="a", host=None)  # the same job gets the same address
    second, _ = store.allocate("p1", job_id="b", vm_name="b", host=None)
    assert (first.address, again.address, second.address) == ("10.0.120.3", "10.0.120.3", "10.0.120.5")


def test_exhausted_pool_is_a_conflict_and_writes_nothing(store: PoolStore, service: TableServiceClient) -> None:
    store.put("small", spec("10.0.120.50", "10.0.120.52"))
    for index in range(3):
        store.allocate("small", job_id=f"j{index}", vm_name=None, host=None)
    with pytest.raises(Conflict, match="no free address"):
        store.allocate("small", job_id="j3", vm_name=None, host=None)
    assert len(rows(service, store, "small")) == 3
    with pytest.raises(NotFound):
        store.allocate("missing", job_id="j", vm_name=None, host=None)


def test_an_address_the_inventory_reports_on_a_vm_is_skipped(
    store: PoolStore, service: TableServiceClient, prefix: str
) -> None:
    inventory = InventoryRepository(service, prefix)
    inventory.ensure_tables()
    facts = {"cluster": None, "total_cpu_cores": 8, "total_memory_gb": 64.0, "free_memory_gb": 32.0}
    squatter = {
        "id": str(uuid.uuid4()),
        "name": "legacy",
        "state": "Running",
        "cpu_cores": 1,
        "memory_gb": 1.0,
        "ip_addresses": ["10.0.120.50", "fe80::1"],
        "disks": [],
    }
    inventory.apply_snapshot("hv01", facts, [squatter], datetime.now(UTC))
    store.put("prod-120", spec())
    pools = PoolService(store, inventory, audit=None)  # type: ignore[arg-type]  # no pool write here
    request = parse_vm_request(
        {
            "name": "web01",
            "host": "hv01",
            "image": "Ubuntu 24.04 LTS",
            "cpu_cores": 1,
            "memory_gb": 1,
            "guest": {"admin_username": "admin", "admin_password": "Passw0rd!x", "ipv4": {"pool": "prod-120"}},
        }
    )
    resolved, choice = pools.check_create(request)
    assert resolved.network == "External" and resolved.vlan_id == 120
    assert isinstance(choice, PoolChoice)
    filled, allocation = pools.allocate_for(resolved, choice, "create-vm-hv01-web01-1")
    assert allocation.address == "10.0.120.51"
    ipv4 = filled.guest.ipv4 if filled.guest else None
    assert ipv4 is not None
    assert (ipv4.address, ipv4.prefix_length, ipv4.gateway, ipv4.dns_servers, ipv4.dns_suffix) == (
        "10.0.120.51",
        24,
        "10.0.120.1",
        ["10.0.0.2"],
        "corp.example",
    )
    assert rows(service, store, "prod-120")["10.0.120.51"]["vm_name"] == "web01"


def test_bind_and_release_by_job_and_by_vm_are_repeatable(store: PoolStore, service: TableServiceClient) -> None:
    store.put("p", spec())
    a, _ = store.allocate("p", job_id="ja", vm_name="a", host="hv01")
    b, _ = store.allocate("p", job_id="jb", vm_name="b", host="hv01")
    assert store.bind_vm("p", a.address, "ja", "vm-a") and store.bind_vm("p", a.address, "ja", "vm-a")
    assert not store.bind_vm("p", a.address, "someone-else", "vm-x")
    assert rows(service, store, "p")[a.address]["vm_id"] == "vm-a"
    assert not store.release("p", b.address, "ja")  # not that job's address
    assert store.release("p", b.address, "jb") and not store.release("p", b.address, "jb")
    assert [x.address for x in store.release_vm("vm-a")] == [a.address]
    assert store.release_vm("vm-a") == []
    assert rows(service, store, "p") == {}


def test_replace_and_delete_never_orphan_an_allocation(store: PoolStore, service: TableServiceClient) -> None:
    assert store.put("p", spec()) is True
    allocation, _ = store.allocate("p", job_id="j", vm_name="v", host=None)
    assert allocation.address == "10.0.120.50"
    with pytest.raises(Conflict, match=r"10\.0\.120\.50"):
        store.put("p", spec("10.0.120.60", "10.0.120.199"))
    with pytest.raises(Conflict, match=r"10\.0\.120\.50"):
        store.put("p", spec(reserved=["10.0.120.50"]))
    assert store.put("p", spec("10.0.120.50", "10.0.120.59")) is False
    record = store.get("p")
    assert record is not None and record.usage.total == 10 and record.usage.allocated == 1 and record.usage.free == 9
    with pytest.raises(Conflict, match="allocated"):
        store.delete("p")
    store.release("p", allocation.address, "j")
    store.delete("p")
    assert store.get("p") is None
    with pytest.raises(NotFound):
        store.delete("p")


def test_a_replace_racing_allocations_leaves_every_allocation_inside_the_pool(store: PoolStore) -> None:
    store.put("p", spec("10.0.120.50", "10.0.120.99"))
    narrow = spec("10.0.120.50", "10.0.120.54")
    outcomes: list[str] = []

    def allocate(index: int) -> None:
        try:
            store.allocate("p", job_id=f"j{index}", vm_name=None, host=None)
        except Conflict:
            outcomes.append("exhausted")

    def replace() -> None:
        try:
            store.put("p", narrow)
            outcomes.append("replaced")
        except Conflict:
            outcomes.append("refused")

    threads = [threading.Thread(target=allocate, args=(i,)) for i in range(10)] + [threading.Thread(target=replace)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    record = store.get("p")
    assert record is not None
    assert all(record.spec.holds(a.address) for a in record.allocations)


def test_a_full_pool_reclaims_the_address_of_a_job_that_ended_without_giving_it_back(
    store: PoolStore, service: TableServiceClient, prefix: str
) -> None:
    inventory = InventoryRepository(service, prefix)
    inventory.ensure_tables()
    jobs = JobStore(service, prefix)
    pools = PoolService(store, inventory, audit=None, jobs=jobs)  # type: ignore[arg-type]  # no pool write here
    store.put("one", spec("10.0.120.9", "10.0.120.10"))
    for job_id, status in (("create-vm-any-dead-1", JobStatus.FAILED), ("create-vm-any-kept-1", JobStatus.FAILED)):
        target = JobTarget(host=None, name=job_id)
        jobs.create(jobs.new_job(id=job_id, kind="create_vm", target=target, requested_by=Requester("u", "U", "user")))
        jobs.update(job_id, JobPatch(status=status))
    dead, _ = store.allocate("one", job_id="create-vm-any-dead-1", vm_name="dead", host=None)
    kept, _ = store.allocate("one", job_id="create-vm-any-kept-1", vm_name="kept", host=None)
    store.bind_vm("one", kept.address, "create-vm-any-kept-1", "vm-kept")  # a VM kept for diagnosis keeps it
    request = parse_vm_request(
        {
            "name": "web02",
            "image": "Ubuntu 24.04 LTS",
            "cpu_cores": 1,
            "memory_gb": 1,
            "guest": {"admin_username": "admin", "admin_password": "Passw0rd!x", "ipv4": {"pool": "one"}},
        }
    )
    resolved, choice = pools.check_create(request)
    assert choice is not None
    pools.ensure_free(choice)  # full, but the dead job's address comes back
    _, allocation = pools.allocate_for(resolved, choice, "create-vm-any-web02-1")
    assert allocation.address == dead.address
    held = rows(service, store, "one")
    assert {row["job_id"] for row in held.values()} == {"create-vm-any-web02-1", "create-vm-any-kept-1"}
    with pytest.raises(Conflict, match="no free address"):
        pools.ensure_free(choice)
