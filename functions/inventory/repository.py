"""The inventory repository: batched, diff-based, concurrency-safe writes of hosts and VMs (reads: ``reads.py``).

Tables (names from ``AETHERV_TABLE_PREFIX``):

- ``<prefix>Hosts``: one entity per configured host (PartitionKey ``hosts``): connection state, last successful
  collection (``last_seen``), last error, host facts, and the write lease described below.
- ``<prefix>Vms``: one entity per VM, partitioned by host, RowKey = VM id; scalar fields as properties, nested
  lists as JSON; each with a content hash and schema version.

A host's entity lists the ids of the VMs its last snapshot held (``vm_ids``), so a VM is found by id without an
index table (see :mod:`functions.inventory.reads`).

Staleness is derived, not written: every VM row was present at its host's last successful collection (vanished
VMs are deleted then), so a VM's ``last_seen`` is its host's ``last_seen`` and it is ``stale`` exactly when its host
is disconnected. An unreachable host therefore costs one write and keeps all its last-known VMs.

Writes are diff-based (unchanged VMs are not rewritten; a sync without changes writes only the host entity, its
heartbeat) and batched (entity group transactions of at most 100 operations, one partition each): a host's first
sync is one transaction per 100 VMs and the host entity. Concurrent writers of one host (the timer sync and a
single-host refresh) are ordered through the host entity: a snapshot older than the one stored is dropped; changing
the VM rows of a known host needs a short lease taken with an ETag condition; the final host update is conditional
too. A host's first sync takes no lease: its entity is created last, and a writer that finds it created meanwhile
starts over under the rules above (two first syncs racing can leave the older snapshot's rows until the host's next
sync, which diffs against them). A crash mid-write leaves rows that the next sync diffs against and repairs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableClient, TableErrorCode, TableServiceClient, TableTransactionError, UpdateMode

from functions.inventory.entities import SCHEMA_VERSION, content_hash, to_properties
from functions.inventory.host_entity import vm_ids_properties
from functions.inventory.keys import decode_key, encode_key
from functions.inventory.reads import HOSTS_PARTITION, InventoryReads
from functions.leases.store import LeaseStore
from functions.models.json import JsonObject

__all__ = ["InventoryRepository", "WriteStats"]

log = logging.getLogger(__name__)

BATCH_LIMIT = 100
LEASE_SECONDS = 60
WRITE_ATTEMPTS = 50  # conditional writes of one host's entity before a snapshot gives way (each re-reads first)
STARTED_AT_TOLERANCE = timedelta(seconds=120)


@dataclass
class WriteStats:
    """What one write operation did to the tables (for summaries and the benchmark)."""

    entities_written: int = 0
    entities_deleted: int = 0
    transactions: int = 0
    skipped: str | None = None
    state_changes: list[tuple[JsonObject, str]] = field(default_factory=list)
    """VMs whose stored state changed (their new record, their previous state): what ``vm.state_changed`` reports."""
    reconnected_since: str | None = None
    """Set when a snapshot reconnected a host recorded unreachable: since when it was."""
    disconnected_since: str | None = None
    """Set when a host recorded reachable was marked unreachable: since when (what ``host.disconnected`` reports)."""

    def add(self, other: WriteStats) -> None:
        """Accumulate ``other`` into this summary."""
        self.entities_written += other.entities_written
        self.entities_deleted += other.entities_deleted
        self.transactions += other.transactions


@dataclass
class _Diff:
    upserts: list[JsonObject] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    state_changes: list[tuple[JsonObject, str]] = field(default_factory=list)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_iso(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _chunks(items: Sequence[Any], size: int = BATCH_LIMIT) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class InventoryRepository(InventoryReads):
    """Hosts and VMs in Table Storage: the writes, and the reads of :class:`InventoryReads`.

    One instance per process; thread-safe (the SDK clients are).
    """

    def __init__(
        self,
        service: TableServiceClient,
        prefix: str,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(service, prefix)
        self._clock = clock
        self._sleep = sleep
        self._leases: LeaseStore | None = None

    # -- plumbing ------------------------------------------------------------------------------------------------

    def _write_host(self, entity: JsonObject, etag: str | None) -> str:
        """Create (``etag`` None) or conditionally replace the host entity; returns the new ETag."""
        table = self._table(self.hosts_table)
        entity = {key: value for key, value in entity.items() if value is not None}
        if etag is None:
            metadata = table.create_entity(entity)
        else:
            metadata = table.update_entity(
                entity, mode=UpdateMode.REPLACE, etag=etag, match_condition=MatchConditions.IfNotModified
            )
        return str(metadata["etag"])

    def _submit(self, table: TableClient, operations: list[tuple[Any, ...]], stats: WriteStats) -> None:
        """Write ``operations`` in transactions of at most 100 (one partition each), idempotently.

        A transaction fails whole when one of its deletes finds its row already gone (another writer, such as a
        concurrent sync, removed it): the chunk is then done operation by operation, where deleting a row that is
        gone is success. Every operation is an upsert or a delete, so doing one twice changes nothing.
        """
        for chunk in _chunks(operations):
            try:
                table.submit_transaction(list(chunk))
                stats.transactions += 1
            except TableTransactionError as exc:
                if getattr(exc, "error_code", None) != TableErrorCode.RESOURCE_NOT_FOUND:
                    raise
                log.info("a row of a transaction on %s was already gone; writing one by one", table.table_name)
                for operation in chunk:
                    self._one(table, operation)
            for operation in chunk:
                if operation[0] == "delete":
                    stats.entities_deleted += 1
                else:
                    stats.entities_written += 1

    @staticmethod
    def _one(table: TableClient, operation: tuple[Any, ...]) -> None:
        kind, entity = operation[0], operation[1]
        if kind == "delete":
            with contextlib.suppress(ResourceNotFoundError):
                table.delete_entity(entity["PartitionKey"], entity["RowKey"])
        else:
            options = operation[2] if len(operation) > 2 else {}
            table.upsert_entity(entity, **options)

    # -- write side -----------------------------------------------------------------------------------------------

    def _vm_rows(self, host: str) -> dict[str, JsonObject]:
        table = self._table(self.vms_table)
        rows = table.query_entities(
            "PartitionKey eq @pk",
            parameters={"pk": encode_key(host)},
            select=["RowKey", "content_hash", "started_at", "state"],
        )
        return {row["RowKey"]: dict(row) for row in rows}

    def _diff(self, host: str, vms: Sequence[Mapping[str, Any]], collected_at: datetime) -> _Diff:
        stored = self._vm_rows(host)
        diff = _Diff()
        seen: set[str] = set()
        for vm in vms:
            record = dict(vm)
            vm_id = str(record["id"]).lower()
            row_key = encode_key(vm_id)
            if row_key in seen:
                log.warning("inventory of %s lists VM %s twice; keeping the first", host, vm_id)
                continue
            seen.add(row_key)
            record["id"] = vm_id
            uptime = record.pop("uptime_seconds", None)
            started = collected_at - timedelta(seconds=float(uptime)) if isinstance(uptime, int | float) else None
            previous = stored.get(row_key)
            previous_started = _parse_iso(previous.get("started_at")) if previous else None
            if started and previous_started and abs(started - previous_started) <= STARTED_AT_TOLERANCE:
                started = previous_started
            record["started_at"] = _iso(started) if started and record.get("state") == "Running" else None
            digest = content_hash(record)
            if previous is not None and previous.get("state") and previous.get("state") != record.get("state"):
                diff.state_changes.append((record, str(previous["state"])))
            if previous is None or previous.get("content_hash") != digest:
                diff.upserts.append(
                    {
                        "PartitionKey": encode_key(host),
                        "RowKey": row_key,
                        "content_hash": digest,
                        "schema_version": SCHEMA_VERSION,
                        **to_properties(record),
                    }
                )
        diff.deletes = sorted(set(stored) - seen)
        if diff.upserts:  # a rewritten row keeps showing its VM's lease (functions/leases/store.py)
            copies = self._lease_copies()
            for row in diff.upserts:
                row.update(copies.get(str(row["RowKey"]), {}))
        return diff

    def _lease_copies(self) -> dict[str, JsonObject]:
        """The lease copy of each VM with a lease, by row key (one query; none while the lease table is absent)."""
        if self._leases is None:
            self._leases = LeaseStore(self._service, self.vms_table.removesuffix("Vms"))
        return self._leases.copies()

    def _apply_diff(self, host: str, diff: _Diff, stats: WriteStats) -> None:
        vms = self._table(self.vms_table)
        operations: list[tuple[Any, ...]] = [("upsert", row, {"mode": UpdateMode.REPLACE}) for row in diff.upserts]
        operations += [("delete", {"PartitionKey": encode_key(host), "RowKey": key}) for key in diff.deletes]
        self._submit(vms, operations, stats)

    def apply_snapshot(
        self,
        host: str,
        facts: Mapping[str, Any],
        vms: Sequence[Mapping[str, Any]],
        collected_at: datetime,
        *,
        max_wait: float = 30.0,
    ) -> WriteStats:
        """Store a host's collected facts and VMs as of ``collected_at``; returns what was written.

        A snapshot older than the stored one is dropped (``skipped``). While another writer holds the host's lease,
        a newer snapshot waits for it (up to ``max_wait`` seconds); an older or equal one is dropped.
        """
        stats = WriteStats()
        facts_record = dict(facts)
        cluster = facts_record.pop("cluster", None)
        deadline = time.monotonic() + max_wait
        conflicts = 0
        while conflicts < WRITE_ATTEMPTS:
            entity, etag = self._get_host_with_etag(host)
            stored_at = _parse_iso(entity.get("last_seen")) if entity else None
            if stored_at is not None and stored_at >= collected_at:
                stats.skipped = "a newer or equal snapshot is already stored"
                return stats
            lease_until = _parse_iso(entity.get("lease_until")) if entity else None
            if entity and lease_until and lease_until > self._clock():
                lease_at = _parse_iso(entity.get("lease_collected_at"))
                if lease_at is not None and lease_at >= collected_at:
                    stats.skipped = "another writer is storing a newer or equal snapshot"
                    return stats
                if time.monotonic() >= deadline:
                    stats.skipped = "another writer holds the host's lease"
                    return stats
                self._sleep(0.2)
                continue
            diff = self._diff(host, vms, collected_at)
            base = {
                "PartitionKey": HOSTS_PARTITION,
                "RowKey": encode_key(host),
                "name": host,
                "configured": True,
                "schema_version": SCHEMA_VERSION,
            }
            final = {
                **base,
                "cluster": cluster,
                "connected": True,
                "last_seen": _iso(collected_at),
                "last_attempt": _iso(collected_at),
                "vm_count": len(vms),
                "facts_json": json.dumps(facts_record, sort_keys=True, default=str),
                **vm_ids_properties(list(dict.fromkeys(encode_key(str(vm["id"]).lower()) for vm in vms))),
            }
            try:
                if entity is None:  # a first sync: the rows, then the entity (created: a racing first sync loses)
                    self._apply_diff(host, diff, stats)
                elif diff.upserts or diff.deletes:
                    lease = {
                        **entity,
                        "lease_owner": uuid.uuid4().hex,
                        "lease_until": _iso(self._clock() + timedelta(seconds=LEASE_SECONDS)),
                        "lease_collected_at": _iso(collected_at),
                    }
                    etag = self._write_host(lease, etag)
                    stats.entities_written += 1
                    try:
                        self._apply_diff(host, diff, stats)
                    except Exception:
                        self._release_lease(lease, etag)  # the next sync need not wait for it to expire
                        raise
                self._write_host(final, etag)
                stats.entities_written += 1
                stats.state_changes = diff.state_changes
                if entity is not None and entity.get("connected") is False:
                    stats.reconnected_since = str(entity.get("disconnected_since") or entity.get("last_seen") or "")
                return stats
            except (ResourceModifiedError, ResourceExistsError, ResourceNotFoundError):
                # another writer stored a snapshot, or a prune removed the host, under this one: read again
                log.info("inventory of %s changed concurrently; re-reading", host)
                conflicts += 1
        stats.skipped = f"the host's entity changed under {WRITE_ATTEMPTS} attempts in a row"
        return stats

    def _release_lease(self, lease: JsonObject, etag: str) -> None:
        """Give up a lease this writer holds (best effort: if the entity changed, it is no longer ours to drop)."""
        released = {key: value for key, value in lease.items() if not key.startswith("lease_")}
        with contextlib.suppress(Exception):
            self._write_host(released, etag)

    def mark_unreachable(self, host: str, error: str, at: datetime) -> WriteStats:
        """Record that collecting ``host`` failed at ``at``; its last-known VMs are kept (and read as stale)."""
        stats = WriteStats()
        for _ in range(10):
            entity, etag = self._get_host_with_etag(host)
            record: JsonObject = (
                dict(entity) if entity else {"PartitionKey": HOSTS_PARTITION, "RowKey": encode_key(host)}
            )
            record.update(
                name=host,
                configured=True,
                schema_version=SCHEMA_VERSION,
                connected=False,
                error=error[:1000],
                last_attempt=_iso(at),
            )
            if not entity or entity.get("connected", False) or not entity.get("disconnected_since"):
                record["disconnected_since"] = _iso(at)
            try:
                self._write_host(record, etag)
                stats.entities_written += 1
                if entity and entity.get("connected", False):
                    stats.disconnected_since = str(record["disconnected_since"])
                return stats
            except (ResourceModifiedError, ResourceExistsError):
                continue
        stats.skipped = "host entity kept changing"
        return stats

    def mark_store_failed(self, host: str, error: str, at: datetime) -> None:
        """Record on the host's row that storing its last collection failed (its data stays as last stored)."""
        entity, etag = self._get_host_with_etag(host)
        if entity is None:
            return
        entity.update(error=error[:1000], last_attempt=_iso(at), store_failed=True)
        with contextlib.suppress(ResourceModifiedError, ResourceNotFoundError):
            self._write_host(entity, etag)

    def _delete_partition(self, host: str, stats: WriteStats) -> None:
        rows = self._vm_rows(host)
        operations: list[tuple[Any, ...]] = [
            ("delete", {"PartitionKey": encode_key(host), "RowKey": key}) for key in rows
        ]
        self._submit(self._table(self.vms_table), operations, stats)

    def prune_hosts(self, configured: Collection[str]) -> WriteStats:
        """Remove hosts (and their VMs) that are no longer configured."""
        stats = WriteStats()
        keep = {name.lower() for name in configured}
        hosts = self._table(self.hosts_table).query_entities("PartitionKey eq 'hosts'", select=["RowKey", "name"])
        for entity in list(hosts):
            name = str(entity.get("name") or decode_key(entity["RowKey"]))
            if name.lower() in keep:
                continue
            self._delete_partition(name, stats)
            try:
                self._table(self.hosts_table).delete_entity(HOSTS_PARTITION, entity["RowKey"])
                stats.entities_deleted += 1
            except ResourceNotFoundError:
                pass
        return stats

    def remove_vm(self, host: str, vm_id: str) -> WriteStats:
        """Remove one VM from the inventory (after the delete workflow removed it from the host)."""
        stats = WriteStats()
        key = encode_key(vm_id.lower())
        try:
            self._table(self.vms_table).delete_entity(encode_key(host), key)
            stats.entities_deleted += 1
        except ResourceNotFoundError:
            pass
        return stats
