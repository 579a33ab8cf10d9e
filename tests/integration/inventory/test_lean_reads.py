"""VM reads against Azurite: the lean path (projected columns, host states beside the page, views built directly)
returns exactly the documents the full path returns (whole entities, every host's record, views through the model).

The full path is rebuilt here from the pieces main used: every VM entity read whole with a plain ``TableClient``,
the hosts' records from ``list_hosts``, ``VmRecord.from_stored`` and ``VmView`` validation. The inventory is the
simulated lab's, stored by the sync's own code, plus odd VMs: missing optional fields, several IP lists, notes with
newlines and non-ASCII text, an orphan mark, whole numbers in float fields, dynamic memory, a disconnected host and
a partition whose host entity is gone.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.api.views import validated_vm_view, vm_fields, vm_view
from functions.errors import NotFound
from functions.hyperv.models import HostInventory
from functions.inventory.entities import from_entity
from functions.inventory.keys import decode_key
from functions.inventory.repository import InventoryRepository
from functions.inventory.sync import host_record, vm_record
from functions.models.inventory import VmRecord
from tests.integration.inventory.conftest import RequestCounter
from tools.hvsim.models import Backend
from tools.hvsim.operations.inventory import collect_inventory
from tools.hvsim.seed import seed_lab

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=10)

ODD: list[dict[str, Any]] = [
    {"id": "0a000000-0000-4000-8000-000000000001", "name": "bare", "state": "Off"},
    {
        "id": "0a000000-0000-4000-8000-000000000002",
        "name": "many-ips",
        "state": "Running",
        "uptime_seconds": 7200,
        "ip_addresses": ["10.0.0.1", "10.0.0.2", "fd00::1"],
        "networks": [
            {"id": "n1", "name": "a", "ip_addresses": ["10.0.0.1", "10.0.0.2"]},
            {"id": "n2", "name": "b", "switch": "Lab", "vlan_id": 0, "mac_address": "00:15:5D:00:00:01"},
        ],
        "disks": [],
    },
    {
        "id": "0a000000-0000-4000-8000-000000000003",
        "name": "noted",
        "state": "Saved",
        "notes": 'first line\nsecond — ü 漢字 "quoted" \\ back\naetherv-job: job-1',
        "orphaned_by_job": "job-1",
        "creation_time": "2020-02-29T00:00:00Z",
        "memory_gb": 4,
        "cpu_cores": 2,
    },
    {
        "id": "0a000000-0000-4000-8000-000000000004",
        "name": "dynamic",
        "state": "Paused",
        "os_family": "windows",
        "os_name": "Windows Server 2025",
        "version": "12.0",
        "dynamic_memory_enabled": True,
        "minimum_memory_gb": 0.5,
        "maximum_memory_gb": 16,
        "configuration_path": "C:\\ClusterStorage\\Volume1\\dynamic",
        "clustered": True,
        "disks": [{"path": "D:\\x.vhdx", "capacity_gb": 64, "controller_number": 3}],
    },
]


def seed(repo: InventoryRepository) -> None:
    """The lab's hosts hv01-hv04 (hv01 and hv02 clustered, hv03 disconnected), odd VMs on hv05, and on hv06 VMs
    whose host entity is gone."""
    for host in seed_lab(Backend(), hosts=4, vms_per_host=9):
        inventory = HostInventory.model_validate(collect_inventory(host, {}))
        records = [vm_record(vm) for vm in inventory.vms]
        repo.apply_snapshot(host.name, host_record(inventory.host), records, T0)
    repo.mark_unreachable("hv03", "HostUnreachable: connection timed out", T0 + timedelta(minutes=2))
    repo.apply_snapshot("hv05", {"cluster": None, "total_memory_gb": 64.0}, ODD, T0)
    repo.apply_snapshot("hv06", {}, [{**ODD[0], "id": "0b000000-0000-4000-8000-000000000001"}], T0)
    repo._table(repo.hosts_table).delete_entity("hosts", "hv06")


def full_documents(repo: InventoryRepository) -> dict[str, str]:
    """Every VM's document the full way: whole entities, every host's whole record, the model's view (by id)."""
    hosts = {h.name: h for h in repo.list_hosts()}
    documents = {}
    for entity in repo._service.get_table_client(repo.vms_table).list_entities():
        host = decode_key(entity["PartitionKey"])
        vm = VmRecord.from_stored(from_entity(entity), host=hosts.get(host), host_name=host)
        documents[vm.id] = json.dumps(validated_vm_view(vm_fields(vm, NOW)))
    return documents


def lean_documents(repo: InventoryRepository, page_size: int, **filters: Any) -> dict[str, str]:
    """Every VM's document through ``list_vms`` and ``vm_view``, page by page (each VM exactly once)."""
    documents: dict[str, str] = {}
    continuation = None
    while True:
        page = repo.list_vms(page_size=page_size, continuation=continuation, **filters)
        for vm in page.items:
            assert vm.id not in documents
            documents[vm.id] = json.dumps(vm_view(vm, NOW))
        continuation = page.continuation
        if continuation is None:
            return documents


@pytest.fixture
def seeded(repo: InventoryRepository) -> InventoryRepository:
    seed(repo)
    return repo


@pytest.mark.parametrize("page_size", [7, 1000])
def test_the_lean_listing_returns_exactly_what_the_full_path_returned(
    seeded: InventoryRepository, page_size: int
) -> None:
    full = full_documents(seeded)
    assert len(full) == 4 * 9 + len(ODD) + 1
    assert lean_documents(seeded, page_size) == full


def test_filtered_listings_return_the_full_paths_documents(seeded: InventoryRepository) -> None:
    full = full_documents(seeded)
    parsed = {vm_id: json.loads(text) for vm_id, text in full.items()}

    def expected(keep: Any) -> dict[str, str]:
        return {vm_id: full[vm_id] for vm_id, document in parsed.items() if keep(document)}

    for host in ("hv01", "hv03", "hv05", "hv06"):
        assert lean_documents(seeded, 5, host=host) == expected(lambda d, h=host: d["host"] == h)
    assert lean_documents(seeded, 5, stale=True) == expected(lambda d: d["host"] == "hv03")
    assert lean_documents(seeded, 5, stale=False) == expected(lambda d: d["host"] not in ("hv03", "hv06"))
    assert lean_documents(seeded, 5, state="Running") == expected(lambda d: d["state"] == "Running")
    assert lean_documents(seeded, 5, name_prefix="n") == expected(lambda d: d["name"].startswith("n"))
    assert lean_documents(seeded, 5, host="hv01", stale=False) == expected(lambda d: d["host"] == "hv01")
    assert lean_documents(seeded, 5, host="hv01", stale=True) == {}


def test_the_odd_values_survive(seeded: InventoryRepository) -> None:
    documents = {d["name"]: d for d in map(json.loads, lean_documents(seeded, 100, host="hv05").values())}
    assert documents["bare"]["ip_addresses"] == [] and documents["bare"]["disks"] == []
    assert documents["bare"]["notes"] is None and documents["bare"]["cpu_cores"] is None
    assert documents["many-ips"]["ip_addresses"] == ["10.0.0.1", "10.0.0.2", "fd00::1"]
    assert documents["many-ips"]["networks"][0]["switch"] is None
    assert documents["many-ips"]["uptime_seconds"] == 600 + 7200
    assert documents["noted"]["notes"] == ODD[2]["notes"]
    assert documents["noted"]["orphaned"] is True and documents["noted"]["memory_gb"] == 4.0
    assert documents["noted"]["created_at"] == "2020-02-29T00:00:00Z"
    assert (documents["dynamic"]["version"], documents["dynamic"]["maximum_memory_gb"]) == ("12.0", 16)
    assert documents["dynamic"]["disks"][0]["capacity_gb"] == 64.0


def test_a_property_the_sync_never_writes_is_not_read(repo: InventoryRepository) -> None:
    """The listing selects the columns the sync writes (``VM_COLUMNS``, held to ``VmInfo`` by the unit tests)."""
    repo.apply_snapshot("hv01", {}, [{**ODD[0], "not_a_vm_field": "x"}], T0)
    (stored,) = repo._service.get_table_client(repo.vms_table).list_entities()
    assert stored["not_a_vm_field"] == "x"
    (vm,) = repo.list_vms(host="hv01").items
    assert "not_a_vm_field" not in vm_view(vm, NOW)


def test_a_vm_by_id_is_the_full_paths_document(seeded: InventoryRepository) -> None:
    full = full_documents(seeded)
    for vm_id, document in full.items():
        if json.loads(document)["host"] == "hv06":
            continue  # found by id through its host's entity, which is gone (as before)
        vm = seeded.get_vm(vm_id)
        assert vm is not None
        assert json.dumps(vm_view(vm, NOW)) == document


def test_a_host_listing_is_one_query_and_one_point_read(seeded: InventoryRepository, counter: RequestCounter) -> None:
    counter.reset()
    page = seeded.list_vms(host="hv02", page_size=500, require_host=True)
    assert len(page.items) == 9
    assert dict(counter.counts) == {"GET": 2}  # the host's partition, and its entity's state beside it


def test_each_page_of_the_whole_listing_is_two_reads(seeded: InventoryRepository, counter: RequestCounter) -> None:
    counter.reset()
    pages = 0
    continuation = None
    while True:
        page = seeded.list_vms(page_size=10, continuation=continuation)
        pages += 1
        continuation = page.continuation
        if continuation is None:
            break
    assert pages >= 5
    assert dict(counter.counts) == {"GET": 2 * pages}  # a page of VMs and the states of its hosts, per page


def test_an_unknown_host_is_not_found_only_when_required(seeded: InventoryRepository) -> None:
    with pytest.raises(NotFound):
        seeded.list_vms(host="nope", require_host=True)
    with pytest.raises(NotFound):
        seeded.list_vms(host="nope", stale=True, require_host=True)
    assert seeded.list_vms(host="nope").items == []
    assert seeded.list_vms(host="hv06").items != []  # rows without a host entity are still listed
    seeded.apply_snapshot("empty", {}, [], T0)
    assert seeded.list_vms(host="empty", require_host=True).items == []


def test_a_tampered_page_start_reads_every_host(seeded: InventoryRepository) -> None:
    from functions.storage import encode_continuation

    token = encode_continuation({"PartitionKey": "hv/02", "RowKey": ""})  # not a key the app writes
    page = seeded.list_vms(page_size=100, continuation=token)
    assert all(vm.host != "hv/02" for vm in page.items)
