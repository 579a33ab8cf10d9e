"""The read side of the VMs table: the columns a VM record is read from, the query filters, and the record itself.

A VM listing reads only :data:`VM_COLUMNS` (``$select``): every property the sync writes for a VM
(``functions.inventory.sync.vm_record`` plus the repository's ``started_at``) and the partition key (the host),
without the row key, the timestamp, the content hash and the schema version, which no record shows. A field the host
script gains reaches the API once it is added to ``VmInfo`` and here (``tests/unit/inventory/test_vm_columns.py``
fails until both agree). The host's state on a VM (cluster, connection, last collection) comes from
:data:`HOST_STATE_COLUMNS` of its host entity.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from functions.inventory.entities import from_entity
from functions.inventory.keys import decode_key
from functions.models.inventory import HostRecord, VmRecord
from functions.models.json import JsonObject

__all__ = ["HOST_STATE_COLUMNS", "VM_COLUMNS", "vm_clauses", "vm_from_entity"]

VM_COLUMNS = (
    "PartitionKey",  # the host (not selected when the query names it)
    "id",
    "name",
    "state",
    "creation_time",
    "notes",
    "version",
    "generation",
    "startup_memory_gb",
    "minimum_memory_gb",
    "maximum_memory_gb",
    "dynamic_memory_enabled",
    "memory_gb",
    "processor_count",
    "os_name",
    "networks_json",
    "ip_addresses_json",
    "disks_json",
    "clustered",
    "configuration_path",
    "checkpoint_count",
    "cpu_cores",
    "os_family",
    "orphaned_by_job",
    "started_at",
    "lease_json",  # the copy of the VM's lease (functions/leases/store.py)
    "lease_expires_at",
)
"""What a VM record is read from: the properties a VM entity can hold, as the sync writes them."""

HOST_STATE_COLUMNS = ("RowKey", "name", "cluster", "connected", "last_seen")
"""What a VM record takes from its host's entity (a :class:`HostRecord` read from these has no facts)."""


def vm_from_entity(entity: Mapping[str, Any], hosts: Mapping[str, HostRecord], *, host: str | None = None) -> VmRecord:
    """The record a VM entity holds, on its host as ``hosts`` knows it (by name; missing: its entity is gone).

    The host is the entity's partition, or ``host`` when the query named it (and did not select the partition key).
    """
    name = host if host is not None else decode_key(str(entity["PartitionKey"]))
    return VmRecord.from_stored(from_entity(entity), host=hosts.get(name), host_name=name)


def vm_clauses(
    *, state: str | None, name_prefix: str | None, expiring_before: str | None = None
) -> tuple[list[str], JsonObject]:
    """The filter clauses (joined with ``and``) and their parameters for a VM's state, name prefix and lease.

    ``expiring_before`` (a moment as leases store it) keeps the VMs whose lease expires by then (a row without a
    lease has no ``lease_expires_at`` and never matches).
    """
    clauses: list[str] = []
    parameters: JsonObject = {}
    if expiring_before is not None:
        clauses.append("lease_expires_at le @lease_before")
        parameters["lease_before"] = expiring_before
    if state is not None:
        clauses.append("state eq @state")
        parameters["state"] = state
    if name_prefix:
        clauses.append("name ge @lo and name lt @hi")
        parameters["lo"] = name_prefix
        parameters["hi"] = name_prefix[:-1] + chr(ord(name_prefix[-1]) + 1)
    return clauses, parameters
