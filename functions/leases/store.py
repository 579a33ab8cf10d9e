"""The lease table, and the copy of each lease on its VM's row of the VMs table.

``<prefix>Leases`` holds one entity per VM with a lease (PartitionKey ``leases``, RowKey the VM id): the lease
document (:class:`~functions.models.leases.Lease`) and its expiry. It is the one the lease workflow and the API read
and write, with ETags: every change raises the lease's ``version``.

The VM listing reads pages straight from the VMs table, so each VM row carries a copy of its lease
(``lease_json``, ``lease_expires_at``): the listing shows and filters leases in the same query, with no read per
VM. The copy follows the lease: a change writes the lease, then its copy; the inventory sync writes the copies of
the leases onto the rows it rewrites (:meth:`LeaseStore.copies`, one query, only when a host's rows changed); the
lease workflow writes the copy again each time it wakes. A copy that missed a change (a sync that read the leases
just before it) is put right by the next of these.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableServiceClient, UpdateMode

from functions.inventory.keys import encode_key
from functions.models.json import JsonObject
from functions.models.leases import Lease
from functions.storage import Tables

__all__ = ["LEASE_COPY_COLUMNS", "LeaseStore", "leases_table"]

PARTITION = "leases"
LEASE_COPY_COLUMNS = ("lease_json", "lease_expires_at")
"""The properties of a VM row that hold its lease's copy."""
_ATTEMPTS = 10


def leases_table(prefix: str) -> str:
    """The name of the lease table."""
    return f"{prefix}Leases"


def copy_properties(lease: Lease | None) -> JsonObject:
    """The properties of a VM row that show ``lease`` (``None``: no lease)."""
    if lease is None:
        return {}
    return {"lease_json": json.dumps(lease.view(), sort_keys=True), "lease_expires_at": lease.expires_at}


class LeaseStore:
    """Reads and writes leases (see the module docstring). Thread-safe (the SDK clients are)."""

    def __init__(self, service: TableServiceClient, prefix: str) -> None:
        self._service = service
        self.table_name = leases_table(prefix)
        self.vms_table = f"{prefix}Vms"
        self._tables = Tables(service, self.table_name)

    def _table(self) -> TableClient:
        return self._tables.client()

    def get(self, vm_id: str) -> Lease | None:
        """The VM's lease, or ``None``."""
        lease, _ = self.get_with_etag(vm_id)
        return lease

    def get_with_etag(self, vm_id: str) -> tuple[Lease | None, str | None]:
        """The VM's lease and the ETag to change it with (``None, None``: no lease)."""
        try:
            entity = self._table().get_entity(PARTITION, encode_key(vm_id.lower()))
        except ResourceNotFoundError:
            return None, None
        return Lease.from_json(json.loads(entity["lease_json"])), str(entity.metadata["etag"])

    def put(self, lease: Lease, etag: str | None) -> bool:
        """Write ``lease`` (``etag`` None: only if the VM has none); False if the stored lease changed meanwhile."""
        entity = {
            "PartitionKey": PARTITION,
            "RowKey": encode_key(lease.vm_id.lower()),
            "lease_json": json.dumps(lease.to_json(), sort_keys=True),
            "expires_at": lease.expires_at,
        }
        try:
            if etag is None:
                self._table().create_entity(entity)
            else:
                self._table().update_entity(
                    entity, mode=UpdateMode.REPLACE, etag=etag, match_condition=MatchConditions.IfNotModified
                )
        except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
            return False
        return True

    def delete(self, vm_id: str, etag: str | None = None) -> bool:
        """Remove the VM's lease (with ``etag``: only that version); False if it changed meanwhile."""
        try:
            if etag is None:
                self._table().delete_entity(PARTITION, encode_key(vm_id.lower()))
            else:
                self._table().delete_entity(
                    PARTITION, encode_key(vm_id.lower()), etag=etag, match_condition=MatchConditions.IfNotModified
                )
        except ResourceNotFoundError:
            return True
        except ResourceModifiedError:
            return False
        return True

    def copies(self) -> dict[str, JsonObject]:
        """The copy properties of every lease, by VM row key (one query of the lease table)."""
        client = self._service.get_table_client(self.table_name)  # a read never creates the table
        try:
            rows = client.query_entities(f"PartitionKey eq '{PARTITION}'", select=["RowKey", "lease_json"])
            return {str(row["RowKey"]): copy_properties(Lease.from_json(json.loads(row["lease_json"]))) for row in rows}
        except ResourceNotFoundError:  # no lease was ever set
            return {}

    def write_copy(self, host: str, vm_id: str, lease: Lease | None) -> bool:
        """Show ``lease`` (``None``: none) on the VM's row on ``host``; False if the row is not there."""
        vms = self._service.get_table_client(self.vms_table)
        key = (encode_key(host), encode_key(vm_id.lower()))
        wanted = copy_properties(lease)
        for _ in range(_ATTEMPTS):
            try:
                row = vms.get_entity(*key)
            except ResourceNotFoundError:
                return False
            current = {name: row.get(name) for name in LEASE_COPY_COLUMNS if row.get(name) is not None}
            if current == wanted:
                return True
            entity: dict[str, Any] = {k: v for k, v in row.items() if k not in LEASE_COPY_COLUMNS}
            entity.update(wanted)
            try:
                vms.update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=row.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
                return True
            except ResourceModifiedError:
                continue
            except ResourceNotFoundError:
                return False
        return False


def lease_of(details: Mapping[str, Any]) -> JsonObject | None:
    """The lease a VM record's details show (the copy on its row), or ``None``."""
    lease = details.get("lease")
    return dict(lease) if isinstance(lease, Mapping) else None
