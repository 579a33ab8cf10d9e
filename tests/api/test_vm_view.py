"""The VM view built without the model is the model's own document: same fields, values, types and key order.

``vm_view`` builds a VM's document directly when every value already has the type :class:`VmView` would give it,
and lets the model validate and dump it otherwise. These tests hold the direct build to the model's document for the
inventory the simulated lab syncs, for odd but valid records, for random ones, and check that values the model would
change or refuse are left to the model.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from functions.api.views import (
    DISK_SHAPE,
    NIC_SHAPE,
    VM_SHAPE,
    DiskView,
    NicView,
    VmView,
    direct_vm_view,
    validated_vm_view,
    vm_fields,
    vm_view,
)
from functions.hyperv.models import HostInventory
from functions.inventory.entities import from_entity, to_properties
from functions.inventory.sync import vm_record
from functions.models.inventory import HostRecord, VmRecord
from tools.hvsim.models import Backend
from tools.hvsim.operations.inventory import collect_inventory
from tools.hvsim.seed import seed_lab

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOST = HostRecord(name="hv01", cluster="hvclu01", clustered=True, connected=True, last_seen="2026-03-01T11:58:00Z")


def record(stored: dict[str, Any], host: HostRecord | None = HOST) -> VmRecord:
    """The record a VM entity holding ``stored`` reads as (through the Table properties, as the repository does)."""
    entity = {"PartitionKey": "hv01", "RowKey": str(stored["id"]), **to_properties(stored)}
    return VmRecord.from_stored(from_entity(entity), host=host, host_name="hv01")


def text(document: Any) -> str:
    return json.dumps(document)  # key order included


def the_model_agrees(vm: VmRecord) -> dict[str, Any]:
    """``vm_view`` of ``vm`` (after checking it is exactly the model's document)."""
    fields = vm_fields(vm, NOW)
    document = vm_view(vm, NOW)
    assert text(document) == text(validated_vm_view(fields))
    return document


def test_the_shapes_list_the_models_fields_in_order() -> None:
    assert [name for name, *_ in VM_SHAPE] == list(VmView.model_fields)
    assert [name for name, *_ in DISK_SHAPE] == list(DiskView.model_fields)
    assert [name for name, *_ in NIC_SHAPE] == list(NicView.model_fields)


def test_every_vm_the_lab_syncs_is_built_directly_and_equals_the_models_document() -> None:
    backend = Backend()
    count = 0
    for host in seed_lab(backend, hosts=3, vms_per_host=40):
        inventory = HostInventory.model_validate(collect_inventory(host, {}))
        for vm in inventory.vms:
            stored = vm_record(vm)
            stored.pop("uptime_seconds")
            stored["started_at"] = "2026-03-01T10:00:00.000000Z" if vm.state == "Running" else None
            synced = record(stored)
            direct = direct_vm_view(synced, NOW)
            assert direct is not None, stored
            assert text(direct) == text(validated_vm_view(vm_fields(synced, NOW)))
            count += 1
    assert count == 120


ODD: list[dict[str, Any]] = [
    {"id": "a1", "name": "bare", "state": "Off"},  # no optional field at all
    {"id": "a2", "name": "", "state": "Unknown", "ip_addresses": [], "networks": [], "disks": []},
    {
        "id": "a3",
        "name": "many-ips",
        "state": "Running",
        "started_at": "2026-03-01T11:00:00.000000Z",
        "ip_addresses": ["10.0.0.1", "10.0.0.2", "fd00::1", "192.168.1.1"],
        "networks": [
            {"id": "n1", "name": "a", "ip_addresses": ["10.0.0.1", "10.0.0.2"]},  # switch, vlan, MAC missing
            {"id": "n2", "name": "b", "switch": None, "vlan_id": 0, "mac_address": "00:15:5D:00:00:01"},
        ],
    },
    {
        "id": "a4",
        "name": "notes",
        "state": "Saved",
        "notes": 'first line\nsecond — ü 漢字 "quoted" \\ back\naetherv-job: job-1',
        "orphaned_by_job": "job-1",
        "creation_time": "2020-02-29T00:00:00Z",
    },
    {
        "id": "a5",
        "name": "whole-numbers",
        "state": "Running",
        "memory_gb": 4,
        "startup_memory_gb": 2,
        "cpu_cores": 8,
        "generation": 1,
        "disks": [{"path": "D:\\x.vhdx", "capacity_gb": 64, "file_size_gb": 0, "controller_number": 3}],
        "started_at": "2026-03-01T12:00:30.000000Z",  # in the future: uptime 0
    },
    {
        "id": "a6",
        "name": "extras",
        "state": "Paused",
        "os_family": "windows",
        "os_name": "Windows Server 2025",
        "clustered": True,
        "dynamic_memory_enabled": False,
        "minimum_memory_gb": 0.5,
        "future_field": "added by a newer host script",
        "future_count": 3,
        "future_ratio": 0.25,
    },
]


@pytest.mark.parametrize("stored", ODD, ids=[str(vm["name"]) or "empty-name" for vm in ODD])
def test_odd_records_read_as_the_model_reads_them(stored: dict[str, Any]) -> None:
    vm = record(stored)
    assert direct_vm_view(vm, NOW) is not None
    document = the_model_agrees(vm)
    assert document["host"] == "hv01" and document["cluster"] == "hvclu01"


def test_a_vm_without_its_host_entity_reads_as_stale_in_the_default_cluster() -> None:
    document = the_model_agrees(record(ODD[0], host=None))
    assert (document["stale"], document["cluster"], document["last_seen"]) == (True, "Default", None)


def test_whole_numbers_become_floats_where_the_model_says_float() -> None:
    document = the_model_agrees(record(ODD[4]))
    assert type(document["memory_gb"]) is float and type(document["disks"][0]["capacity_gb"]) is float
    assert type(document["cpu_cores"]) is int and document["uptime_seconds"] == 0


UNVOUCHED: list[dict[str, Any]] = [
    {"id": "b1", "name": "x", "state": "Off", "generation": True},  # the model turns a bool into an int
    {"id": "b2", "name": "x", "state": "Off", "future_list": [1, (2, 3)]},  # structured extras: the model's JSON
    {"id": "b3", "name": "x", "state": "Off", "future_float": math.inf},  # the model dumps infinity as null
    {"id": "b4", "name": "x", "state": "Off", "disks": [{"capacity_gb": "64"}]},  # a string the model parses
    {"id": "b5", "name": "x", "state": "Off", "networks": [{"vlan_id": 2.0}]},
]


@pytest.mark.parametrize("stored", UNVOUCHED, ids=[vm["id"] for vm in UNVOUCHED])
def test_values_the_model_would_change_are_left_to_the_model(stored: dict[str, Any]) -> None:
    vm = VmRecord.from_stored(stored, host=HOST, host_name="hv01")  # straight, not through Table properties
    assert direct_vm_view(vm, NOW) is None
    the_model_agrees(vm)


@pytest.mark.parametrize(
    "stored",
    [
        {"id": "c1", "name": "x", "state": "Off", "os_family": "beos"},
        {"id": "c2", "name": "x", "state": "Off", "disks": None},
        {"id": "c3", "name": "x", "state": "Off", "notes": 7},
    ],
)
def test_values_the_model_refuses_are_still_refused(stored: dict[str, Any]) -> None:
    vm = VmRecord.from_stored(stored, host=HOST, host_name="hv01")
    assert direct_vm_view(vm, NOW) is None
    with pytest.raises(ValidationError):
        vm_view(vm, NOW)


RANDOM_FIELDS = (
    "startup_memory_gb",
    "generation",
    "notes",
    "os_name",
    "os_family",
    "clustered",
    "creation_time",
    "orphaned_by_job",
    "version",
    "future",
    # names the view fills in itself: a stored field by that name never shows
    "host",
    "cluster",
    "stale",
    "last_seen",
    "created_at",
    "orphaned",
    "uptime_seconds",
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**31), max_value=2**31 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
_ITEMS = st.dictionaries(
    st.sampled_from(["id", "name", "path", "type", "capacity_gb", "switch", "vlan_id", "ip_addresses", "extra"]),
    st.one_of(_SCALARS, st.lists(st.text(max_size=5), max_size=3)),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(
    fields=st.dictionaries(
        st.sampled_from(RANDOM_FIELDS),
        _SCALARS,
        max_size=8,
    ),
    typed=st.fixed_dictionaries(  # the record's typed fields (the repository reads them as numbers)
        {},
        optional={
            "memory_gb": st.one_of(st.integers(0, 4096), st.floats(0, 4096)),
            "cpu_cores": st.integers(1, 240),
        },
    ),
    disks=st.one_of(st.none(), st.lists(_ITEMS, max_size=3)),
    networks=st.one_of(st.none(), st.lists(_ITEMS, max_size=3)),
    ips=st.lists(st.text(max_size=8), max_size=4),
)
def test_random_records_read_as_the_model_reads_them(
    fields: dict[str, Any], typed: dict[str, Any], disks: Any, networks: Any, ips: list[str]
) -> None:
    stored: dict[str, Any] = {"id": "r1", "name": "random", "state": "Running", **fields, **typed}
    stored["ip_addresses"] = ips
    if disks is not None:
        stored["disks"] = disks
    if networks is not None:
        stored["networks"] = networks
    vm = record(stored)
    fields_of_view = vm_fields(vm, NOW)
    event("built directly" if direct_vm_view(vm, NOW) is not None else "left to the model")
    try:
        expected = validated_vm_view(fields_of_view)
    except ValidationError:
        with pytest.raises(ValidationError):
            vm_view(vm, NOW)
        return
    assert text(vm_view(vm, NOW)) == text(expected)


def test_a_leased_vm_shows_its_lease_as_the_model_does_and_not_the_filter_column() -> None:
    lease = {
        "expires_at": "2026-03-02T12:00:00Z",
        "requested_by": {"id": "alice", "name": "Alice", "type": "user", "app_id": None},
        "set_by": {"id": "alice", "name": "Alice", "type": "user", "app_id": None},
        "set_at": "2026-03-01T12:00:00Z",
        "version": 2,
        "warned_at": None,
        "expired_at": None,
        "delete_job_id": None,
        "delete_attempts": 0,
    }
    vm = record({"id": "l1", "name": "leased", "state": "Running", "lease": lease})
    vm = VmRecord.from_stored({**vm.to_json(), "lease_expires_at": lease["expires_at"]}, host=HOST, host_name="hv01")
    assert direct_vm_view(vm, NOW) is not None
    document = the_model_agrees(vm)
    assert document["lease"] == lease and "lease_expires_at" not in document
    assert the_model_agrees(record({"id": "l2", "name": "free", "state": "Off"}))["lease"] is None
