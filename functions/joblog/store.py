"""The job log table: ``<prefix>JobLog``, PartitionKey = the job id (base64url), RowKey = when the entry was written.

The RowKey is the writer's clock in nanoseconds (fixed width) and a random suffix, so a page read after a token
never misses a later write: entries are ordered by when they were stored, and each carries its own ``at`` (when it
happened: a step's start from the orchestration's clock, a host line from the activity's). A job keeps at most
:data:`MAX_ENTRIES` entries: appends beyond them are dropped, and one last entry says so.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from azure.data.tables import TableClient, TableServiceClient, UpdateMode

from functions.joblog.entries import LogEntry
from functions.storage import Tables

__all__ = ["MAX_ENTRIES", "JobLog", "LogPage"]

MAX_ENTRIES = 2000
"""Most entries one job keeps."""
_BATCH = 100  # entities per table transaction


@dataclass(frozen=True)
class LogPage:
    """Entries after a token, and the token to read on from (``None`` when nothing was stored yet)."""

    entries: list[LogEntry]
    next: str | None
    more: bool


def _partition(job_id: str) -> str:
    """The job's PartitionKey: its id in URL-safe base64 (no character the service refuses in a key)."""
    return base64.urlsafe_b64encode(job_id.encode()).decode()


class JobLog:
    """Append to and read job logs."""

    def __init__(self, service: TableServiceClient, prefix: str) -> None:
        self.table_name = f"{prefix}JobLog"
        self._tables = Tables(service, self.table_name)

    def _table(self) -> TableClient:
        return self._tables.client()

    def _count(self, partition: str) -> int:
        rows = self._table().query_entities("PartitionKey eq @pk", parameters={"pk": partition}, select=["RowKey"])
        return sum(1 for _ in rows)

    def append(self, job_id: str, entries: Sequence[LogEntry]) -> None:
        """Store ``entries`` (in order) in ``job_id``'s log, up to :data:`MAX_ENTRIES` for the job."""
        if not entries:
            return
        partition = _partition(job_id)
        room = MAX_ENTRIES - self._count(partition)
        if room <= 0:
            return
        kept = list(entries[:room])
        if len(entries) > room:
            last = kept[-1]
            kept[-1] = LogEntry(
                last.at, "warning", "workflow", f"the log reached {MAX_ENTRIES} entries; later ones are dropped"
            )
        base = time.time_ns()
        rows = [
            {
                "PartitionKey": partition,
                "RowKey": f"{base + index:020d}-{uuid.uuid4().hex[:8]}",
                "entry": json.dumps(entry.to_json(), ensure_ascii=False),
            }
            for index, entry in enumerate(kept)
        ]
        table = self._table()
        for start in range(0, len(rows), _BATCH):
            table.submit_transaction(
                [("upsert", row, {"mode": UpdateMode.REPLACE}) for row in rows[start : start + _BATCH]]
            )

    def page(self, job_id: str, *, after: str | None = None, limit: int = 200) -> LogPage:
        """Up to ``limit`` entries stored after ``after`` (a token from an earlier page), oldest first."""
        clauses, parameters = ["PartitionKey eq @pk"], {"pk": _partition(job_id)}
        if after:
            clauses.append("RowKey gt @after")
            parameters["after"] = after
        rows = self._table().query_entities(" and ".join(clauses), parameters=parameters, results_per_page=limit + 1)
        found: list[tuple[str, LogEntry]] = []
        for row in rows:
            found.append((str(row["RowKey"]), LogEntry.from_json(json.loads(row["entry"]))))
            if len(found) > limit:
                break
        more = len(found) > limit
        found = found[:limit]
        token = found[-1][0] if found else after
        return LogPage([entry for _, entry in found], token, more)
