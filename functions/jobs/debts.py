"""Cleanup debts: compensation a job could not finish because the host was unreachable, kept until it is done.

A create that fails while its host is down cannot remove what it made; that removal becomes a **debt**, one row per
host and job in ``<prefix>CleanupDebts`` (PartitionKey = host, RowKey = job id): the VM's name and id (if known),
since when, how many attempts, the last error. The inventory sync settles a host's debts whenever it reaches the host
(:meth:`functions.provisioning.steps.Provisioner.settle_cleanup_debts`) and deletes each row once the removal
succeeded; until then the inventory marks the job's VMs as orphaned. Rows hold no secrets.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient, TableServiceClient, UpdateMode

from functions.inventory.keys import decode_key, encode_key
from functions.storage import Tables

__all__ = ["CleanupDebt", "CleanupDebts"]


@dataclass(frozen=True)
class CleanupDebt:
    """One job's unfinished compensation on one host."""

    host: str
    job_id: str
    vm_name: str
    vm_id: str | None
    since: str
    attempts: int = 0
    last_error: str | None = None
    last_attempt: str | None = None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class CleanupDebts:
    """The cleanup-debt table."""

    def __init__(
        self, service: TableServiceClient, prefix: str, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.table_name = f"{prefix}CleanupDebts"
        self._clock = clock
        self._tables = Tables(service, self.table_name)

    def _table(self) -> TableClient:
        return self._tables.client()

    def record(self, host: str, job_id: str, vm_name: str, vm_id: str | None, error: str) -> CleanupDebt:
        """Record (or keep) the debt of ``job_id`` on ``host``; returns it. Repeatable."""
        now = _iso(self._clock())
        entity = {
            "PartitionKey": encode_key(host.lower()),
            "RowKey": encode_key(job_id),
            "host": host,
            "vm_name": vm_name,
            "vm_id": vm_id,
            "since": now,
            "attempts": 0,
            "last_error": error[:500],
        }
        try:
            self._table().create_entity({k: v for k, v in entity.items() if v is not None})
        except ResourceExistsError:
            existing = self.get(host, job_id)
            if existing is not None:
                return existing
        return CleanupDebt(host, job_id, vm_name, vm_id, now, 0, error[:500])

    def get(self, host: str, job_id: str) -> CleanupDebt | None:
        """The debt of ``job_id`` on ``host``, or ``None``."""
        try:
            row = self._table().get_entity(encode_key(host.lower()), encode_key(job_id))
        except ResourceNotFoundError:
            return None
        return self._debt(row)

    @staticmethod
    def _debt(row: dict[str, object]) -> CleanupDebt:
        vm_id = row.get("vm_id")
        error = row.get("last_error")
        attempt = row.get("last_attempt")
        return CleanupDebt(
            host=str(row.get("host") or decode_key(str(row["PartitionKey"]))),
            job_id=decode_key(str(row["RowKey"])),
            vm_name=str(row["vm_name"]),
            vm_id=None if vm_id is None else str(vm_id),
            since=str(row["since"]),
            attempts=int(str(row.get("attempts", 0))),
            last_error=None if error is None else str(error),
            last_attempt=None if attempt is None else str(attempt),
        )

    def pending(self, host: str) -> list[CleanupDebt]:
        """Every open debt on ``host``, oldest first."""
        rows = self._table().query_entities("PartitionKey eq @host", parameters={"host": encode_key(host.lower())})
        return sorted((self._debt(dict(row)) for row in rows), key=lambda debt: debt.since)

    def attempted(self, debt: CleanupDebt, error: str) -> None:
        """Note a failed attempt to settle ``debt``."""
        entity = {
            "PartitionKey": encode_key(debt.host.lower()),
            "RowKey": encode_key(debt.job_id),
            "attempts": debt.attempts + 1,
            "last_error": error[:500],
            "last_attempt": _iso(self._clock()),
        }
        with contextlib.suppress(ResourceNotFoundError):
            self._table().update_entity(entity, mode=UpdateMode.MERGE)

    def settle(self, debt: CleanupDebt) -> None:
        """Delete a settled debt (already gone is fine)."""
        with contextlib.suppress(ResourceNotFoundError):
            self._table().delete_entity(encode_key(debt.host.lower()), encode_key(debt.job_id))

    def now(self) -> str:
        """The table's clock as ISO 8601 text."""
        return _iso(self._clock())
