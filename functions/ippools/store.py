"""The IP pool table: pool definitions and their allocations, kept consistent with Table Storage's conditions.

One table (``{prefix}IpPools``), one partition per pool: the pool row (RowKey ``~pool``) holds the definition and a
generation; each allocation is a row keyed by its address. Because rows of a partition can change together in one
entity-group transaction:

- **An allocation** is one transaction: *insert* the address's row (fails if any allocation holds it: insert-if-
  absent) and *update* the pool row under its ETag (fails if the pool changed since it was read). Two creates
  racing for one address: one insert wins, the other retries with the next address; a replace racing with an
  allocation: one of them fails its ETag and re-reads. So every allocation is inside its pool's current ranges.
- **A replace** reads the pool row, then the allocations, and writes under the pool row's ETag: an allocation made
  after the read changes that ETag, so the replace re-reads and sees it. A replace that would leave an allocated
  address outside the pool is refused (``Conflict``). **A delete** works the same way and is refused while any
  address is allocated.
- **A release** deletes the allocation row if it still belongs to the job (or the VM) that asks: repeatable.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableServiceClient, TableTransactionError, UpdateMode

from functions.errors import Conflict, NotFound
from functions.models.ip_pools import IpPoolSpec
from functions.storage import Tables

__all__ = ["Allocation", "PoolRecord", "PoolStore", "PoolUsage"]

POOL_ROW = "~pool"
ATTEMPTS = 400


@dataclass(frozen=True)
class Allocation:
    """One allocated address: its pool, the create job that took it, the VM (name, and id once it exists)."""

    pool: str
    address: str
    job_id: str
    vm_name: str | None
    vm_id: str | None
    host: str | None
    since: str

    def to_json(self) -> dict[str, Any]:
        """The allocation as the pool view lists it."""
        return {
            "address": self.address,
            "vm_id": self.vm_id,
            "vm_name": self.vm_name,
            "job_id": self.job_id,
            "since": self.since,
        }


@dataclass(frozen=True)
class PoolUsage:
    """How many addresses a pool can hand out, how many are allocated and how many are free."""

    total: int
    allocated: int

    @property
    def free(self) -> int:
        """Addresses still free."""
        return max(0, self.total - self.allocated)


@dataclass(frozen=True)
class PoolRecord:
    """A stored pool: its name, definition, when it was last written, and its allocations."""

    name: str
    spec: IpPoolSpec
    updated: str
    allocations: tuple[Allocation, ...]

    @property
    def usage(self) -> PoolUsage:
        """The pool's usage."""
        return PoolUsage(self.spec.total(), len(self.allocations))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _allocation(pool: str, row: dict[str, Any]) -> Allocation:
    return Allocation(
        pool=pool,
        address=str(row["RowKey"]),
        job_id=str(row.get("job_id", "")),
        vm_name=row.get("vm_name"),
        vm_id=row.get("vm_id"),
        host=row.get("host"),
        since=str(row.get("since", "")),
    )


class PoolStore:
    """Reads and conditional writes of the IP pool table (see the module docstring). Thread-safe."""

    def __init__(
        self,
        service: TableServiceClient,
        prefix: str,
        *,
        clock: Callable[[], str] = _now,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.table_name = f"{prefix}IpPools"
        self._clock = clock
        self._sleep = sleep
        self._tables = Tables(service, self.table_name)

    def _table(self) -> TableClient:
        return self._tables.client()

    def _backoff(self, attempt: int) -> None:
        self._sleep(random.uniform(0, min(0.2, 0.005 * (attempt + 1))))  # noqa: S311 - jitter, not security

    # -- reads ---------------------------------------------------------------------------------------------------

    def _pool_row(self, name: str) -> tuple[dict[str, Any], str] | None:
        try:
            entity = self._table().get_entity(name, POOL_ROW)
        except ResourceNotFoundError:
            return None
        return dict(entity), str(entity.metadata["etag"])

    def _allocation_rows(self, name: str) -> list[dict[str, Any]]:
        rows = self._table().query_entities(
            "PartitionKey eq @p and RowKey ne @r", parameters={"p": name, "r": POOL_ROW}
        )
        return [dict(r) for r in rows]

    def get(self, name: str) -> PoolRecord | None:
        """One pool with its allocations, or ``None``."""
        found = self._pool_row(name)
        if found is None:
            return None
        row, _ = found
        return self._record(name, row, self._allocation_rows(name))

    def _record(self, name: str, row: dict[str, Any], allocations: Iterable[dict[str, Any]]) -> PoolRecord:
        spec = IpPoolSpec.model_validate(json.loads(str(row["definition"])))
        allocated = sorted(
            (_allocation(name, a) for a in allocations), key=lambda a: tuple(map(int, a.address.split(".")))
        )
        return PoolRecord(name, spec, str(row.get("updated", "")), tuple(allocated))

    def all(self) -> list[PoolRecord]:
        """Every pool with its allocations, by name."""
        pools: dict[str, dict[str, Any]] = {}
        allocations: dict[str, list[dict[str, Any]]] = {}
        for entity in self._table().list_entities():
            row = dict(entity)
            if row["RowKey"] == POOL_ROW:
                pools[str(row["PartitionKey"])] = row
            else:
                allocations.setdefault(str(row["PartitionKey"]), []).append(row)
        return [self._record(name, pools[name], allocations.get(name, ())) for name in sorted(pools)]

    def definitions(self) -> dict[str, IpPoolSpec]:
        """Every pool's definition by name (for the overlap rule)."""
        return {record.name: record.spec for record in self.all()}

    # -- pool writes ---------------------------------------------------------------------------------------------

    def put(self, name: str, spec: IpPoolSpec) -> bool:
        """Create or replace a pool; ``True`` if it was created. ``Conflict`` if an allocation would fall outside."""
        definition = spec.model_dump_json()
        for attempt in range(ATTEMPTS):
            found = self._pool_row(name)
            entity: dict[str, Any] = {
                "PartitionKey": name,
                "RowKey": POOL_ROW,
                "definition": definition,
                "updated": self._clock(),
            }
            if found is None:
                try:
                    self._table().create_entity({**entity, "generation": 0})
                    return True
                except ResourceExistsError:
                    self._backoff(attempt)
                    continue
            row, etag = found
            outside = [a["RowKey"] for a in self._allocation_rows(name) if not spec.holds(str(a["RowKey"]))]
            if outside:
                shown = ", ".join(sorted(outside)[:10])
                raise Conflict(
                    f"pool {name} has allocated addresses the new definition does not hold ({shown}); "
                    "release them (delete their VMs) or keep them in a range",
                    extra={"pool": name, "addresses": sorted(outside)},
                )
            entity["generation"] = int(row.get("generation", 0)) + 1
            try:
                self._table().update_entity(
                    entity, mode=UpdateMode.REPLACE, etag=etag, match_condition=MatchConditions.IfNotModified
                )
                return False
            except (ResourceModifiedError, ResourceNotFoundError):
                self._backoff(attempt)
        raise Conflict(f"pool {name} kept changing; try again")

    def delete(self, name: str) -> None:
        """Delete a pool (``NotFound`` if there is none, ``Conflict`` while any address is allocated)."""
        for attempt in range(ATTEMPTS):
            found = self._pool_row(name)
            if found is None:
                raise NotFound(f"IP pool {name} does not exist")
            allocations = self._allocation_rows(name)
            if allocations:
                raise Conflict(
                    f"pool {name} has {len(allocations)} allocated address(es); delete their VMs first",
                    extra={"pool": name, "allocated": len(allocations)},
                )
            try:
                self._table().delete_entity(
                    name, POOL_ROW, etag=found[1], match_condition=MatchConditions.IfNotModified
                )
                return
            except ResourceModifiedError:
                self._backoff(attempt)
        raise Conflict(f"pool {name} kept changing; try again")

    # -- allocations ---------------------------------------------------------------------------------------------

    def allocate(
        self, name: str, *, job_id: str, vm_name: str | None, host: str | None, skip: Collection[str] = ()
    ) -> tuple[Allocation, IpPoolSpec]:
        """The next free address of pool ``name`` for ``job_id`` (the one it already holds, if any), atomically.

        ``skip``: addresses never to hand out (the inventory reports them on VMs). ``NotFound`` without the pool;
        ``Conflict`` when no address is free.
        """
        for attempt in range(ATTEMPTS):
            found = self._pool_row(name)
            if found is None:
                raise NotFound(f"IP pool {name} does not exist")
            row, etag = found
            record = self._record(name, row, self._allocation_rows(name))
            held = next((a for a in record.allocations if a.job_id == job_id), None)
            if held is not None:
                return held, record.spec
            taken = {a.address for a in record.allocations} | set(skip)
            address = next((a for a in record.spec.candidates() if a not in taken), None)
            if address is None:
                raise Conflict(
                    f"IP pool {name} has no free address ({record.usage.allocated} allocated of "
                    f"{record.usage.total}{', others in use by VMs' if skip else ''})",
                    extra={"pool": name},
                )
            since = self._clock()
            allocation_row = {"PartitionKey": name, "RowKey": address, "job_id": job_id, "since": since}
            allocation_row |= {k: v for k, v in (("vm_name", vm_name), ("host", host)) if v is not None}
            touch = {"PartitionKey": name, "RowKey": POOL_ROW, "generation": int(row.get("generation", 0)) + 1}
            try:
                self._table().submit_transaction(
                    [
                        ("create", allocation_row),
                        (
                            "update",
                            touch,
                            {"mode": UpdateMode.MERGE, "etag": etag, "match_condition": MatchConditions.IfNotModified},
                        ),
                    ]
                )
            except TableTransactionError:
                self._backoff(attempt)  # the address was taken or the pool changed: read again
                continue
            return Allocation(name, address, job_id, vm_name, None, host, since), record.spec
        raise Conflict(f"IP pool {name} is too busy; try again", extra={"pool": name})

    def _allocation_row(self, name: str, address: str) -> tuple[dict[str, Any], str] | None:
        try:
            entity = self._table().get_entity(name, address)
        except ResourceNotFoundError:
            return None
        return dict(entity), str(entity.metadata["etag"])

    def bind_vm(self, name: str, address: str, job_id: str, vm_id: str) -> bool:
        """Record the VM id on the job's allocation (repeatable); ``False`` if the job holds no such allocation."""
        for attempt in range(ATTEMPTS):
            found = self._allocation_row(name, address)
            if found is None or found[0].get("job_id") != job_id:
                return False
            if found[0].get("vm_id") == vm_id:
                return True
            patch = {"PartitionKey": name, "RowKey": address, "vm_id": vm_id}
            try:
                self._table().update_entity(
                    patch, mode=UpdateMode.MERGE, etag=found[1], match_condition=MatchConditions.IfNotModified
                )
                return True
            except (ResourceModifiedError, ResourceNotFoundError):
                self._backoff(attempt)
        return False

    def release(self, name: str, address: str, job_id: str) -> bool:
        """Release the address if ``job_id`` still holds it (repeatable); ``True`` if a row was removed."""
        found = self._allocation_row(name, address)
        if found is None or found[0].get("job_id") != job_id:
            return False
        return self._delete(name, address, found[1])

    def release_vm(self, vm_id: str) -> list[Allocation]:
        """Release every address allocated to the VM ``vm_id`` (repeatable); returns what was released."""
        rows = self._table().query_entities("vm_id eq @v", parameters={"v": vm_id})
        released: list[Allocation] = []
        for entity in rows:
            row = dict(entity)
            if row["RowKey"] == POOL_ROW:
                continue
            if self._delete(str(row["PartitionKey"]), str(row["RowKey"]), str(entity.metadata["etag"])):
                released.append(_allocation(str(row["PartitionKey"]), row))
        return released

    def _delete(self, name: str, address: str, etag: str) -> bool:
        try:
            self._table().delete_entity(name, address, etag=etag, match_condition=MatchConditions.IfNotModified)
        except ResourceModifiedError:
            return False
        return True
