"""The columns a VM listing selects hold everything a VM record and its API view show.

A listing reads ``VM_COLUMNS`` only; a property the sync writes but the projection leaves out would silently vanish
from the API. These tests derive what the sync writes from ``VmInfo`` itself, so a field added there fails here until
the projection has it too.
"""

from __future__ import annotations

from typing import Any

from functions.api.views import VmView
from functions.hyperv.models import VmInfo
from functions.inventory.entities import from_entity, to_properties
from functions.inventory.host_entity import HOST_FIELDS, host_record
from functions.inventory.sync import vm_record
from functions.inventory.vm_entity import HOST_STATE_COLUMNS, VM_COLUMNS, vm_from_entity
from functions.models.inventory import VmRecord

EVERY_FIELD: dict[str, Any] = {
    "id": "5F0C3D6E-1111-2222-3333-444455556666",
    "name": "web01",
    "state": "Running",
    "creation_time": "2026-01-02T03:04:05Z",
    "notes": "line one\naetherv-job: job-7\nü",
    "version": "10.0",
    "generation": 1,
    "startup_memory_gb": 2.0,
    "minimum_memory_gb": 0.5,
    "maximum_memory_gb": 8.0,
    "dynamic_memory_enabled": True,
    "memory_gb": 3.5,
    "processor_count": 4,
    "os_name": "Ubuntu 24.04.1 LTS",
    "networks": [
        {
            "id": "nic-1",
            "name": "Network Adapter",
            "switch": "External",
            "vlan_id": 12,
            "mac_address": "00:15:5D:01:02:03",
            "ip_addresses": ["192.168.10.5", "2001:db8::5"],
        }
    ],
    "ip_addresses": ["192.168.10.5", "2001:db8::5"],
    "disks": [
        {
            "id": "disk-1",
            "name": "web01.vhdx",
            "path": "C:\\Hyper-V\\web01\\web01.vhdx",
            "type": "Dynamic",
            "capacity_gb": 30.0,
            "file_size_gb": 4.5,
            "controller_type": "SCSI",
            "controller_number": 0,
            "controller_location": 1,
        }
    ],
    "uptime_seconds": 3600,
    "clustered": True,
    "configuration_path": "C:\\Hyper-V\\web01",
    "checkpoint_count": 2,
}
"""A VM with every field of ``VmInfo`` set (none left at a default that the sync would not write)."""


def stored_properties() -> dict[str, Any]:
    """The properties the sync writes for :data:`EVERY_FIELD` (as ``apply_snapshot`` stores the record)."""
    record = vm_record(VmInfo.model_validate(EVERY_FIELD), orphan_jobs={"job-7"})
    record.pop("uptime_seconds")  # the repository keeps started_at instead
    record["started_at"] = "2026-01-02T04:00:00.000000Z"
    return {"PartitionKey": "hv01", "RowKey": record["id"].lower(), **to_properties(record)}


def test_the_sample_sets_every_field_of_vminfo() -> None:
    assert set(EVERY_FIELD) == set(VmInfo.model_fields)


def test_every_property_the_sync_writes_is_selected() -> None:
    written = set(stored_properties())
    assert written - set(VM_COLUMNS) == {"RowKey"}
    assert "orphaned_by_job" in written and "started_at" in written


def test_every_vminfo_field_has_its_column() -> None:
    columns = set(VM_COLUMNS)
    missing = [
        name
        for name in VmInfo.model_fields
        if name != "uptime_seconds" and name not in columns and f"{name}_json" not in columns
    ]
    assert missing == []


def test_a_record_read_through_the_projection_equals_the_whole_entity() -> None:
    entity = stored_properties() | {"content_hash": "0" * 32, "schema_version": 1}
    projected = {name: entity.get(name) for name in VM_COLUMNS}  # a selected property an entity lacks is null
    whole = VmRecord.from_stored(from_entity(entity), host=None, host_name="hv01")
    assert vm_from_entity(projected, {}) == whole
    assert whole.details["orphaned_by_job"] == "job-7"


def test_every_field_of_the_vm_view_comes_from_a_column_or_the_host() -> None:
    from_host = {"host", "cluster", "stale", "last_seen"}
    derived = {
        "uptime_seconds": "started_at",
        "created_at": "creation_time",
        "orphaned": "orphaned_by_job",
        "nics": "networks",
    }
    columns = {name.removesuffix("_json") for name in VM_COLUMNS}
    for name in VmView.model_fields:
        if name in from_host:
            continue
        assert derived.get(name, name) in columns, name


def test_a_host_state_read_gives_what_a_vm_takes_from_its_host() -> None:
    entity = {
        "PartitionKey": "hosts",
        "RowKey": "hv01",
        "name": "hv01",
        "cluster": "hvclu01",
        "connected": False,
        "last_seen": "2026-01-02T04:00:00.000000Z",
        "last_attempt": "2026-01-02T04:05:00.000000Z",
        "disconnected_since": "2026-01-02T04:05:00.000000Z",
        "error": "HostUnreachable: timed out",
        "vm_count": 3,
        "facts_json": '{"total_memory_gb": 64}',
        "vm_ids": "a\nb\nc",
    }
    full = host_record({name: entity[name] for name in HOST_FIELDS if name in entity})
    state = host_record({name: entity[name] for name in HOST_STATE_COLUMNS})
    assert (state.name, state.cluster, state.connected, state.last_seen) == (
        full.name,
        full.cluster,
        full.connected,
        full.last_seen,
    )
    record = vm_from_entity(stored_properties(), {"hv01": state})
    assert record == VmRecord.from_stored(from_entity(stored_properties()), host=full, host_name="hv01")
    assert (record.stale, record.cluster, record.last_seen) == (True, "hvclu01", "2026-01-02T04:00:00.000000Z")
