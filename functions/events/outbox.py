"""The outbox and dead-letter tables: events are stored before anything tries to deliver them.

- ``<prefix>Events``: PartitionKey ``out``, RowKey = event id. The event's body, the sinks still owed it, its
  attempts and when it is next due. Adding an event that is already there changes nothing (same id, same event),
  so emitters may run twice. A row is deleted once every sink has it.
- ``<prefix>EventsFailed``: PartitionKey ``failed``, RowKey = event id. What was still owed when the retry horizon
  passed, with the last error (a status code or an exception's class name: never a receiver's URL or body).
  :meth:`EventOutbox.retry` puts it back into the outbox with the same id, owed to the same sinks.

Times are stored as fixed-width ISO 8601 UTC text, so the due query compares them as strings.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableServiceClient, UpdateMode

from functions.events.catalog import OutgoingEvent
from functions.models.json import JsonObject
from functions.storage import Tables, decode_continuation, encode_continuation

__all__ = ["EventOutbox", "FailedEvent", "PendingEvent", "stamp"]

_CHUNK = 30_000  # characters per string property (the service allows 32K UTF-16 code units)
_CHUNKS = 30  # a body of up to 900,000 characters (an entity is at most 1 MiB)


def stamp(moment: datetime) -> str:
    """``moment`` as the fixed-width UTC text the tables store (sortable as a string)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _body_properties(body: bytes) -> dict[str, str]:
    text = body.decode()
    parts = [text[i : i + _CHUNK] for i in range(0, len(text), _CHUNK)] or [""]
    if len(parts) > _CHUNKS:
        raise ValueError(f"an event of {len(text)} characters does not fit a table row")
    return {f"body_{index}": part for index, part in enumerate(parts)}


def _body(row: Any) -> bytes:
    return "".join(row.get(f"body_{index}", "") for index in range(_CHUNKS)).encode()


@dataclass(frozen=True)
class PendingEvent:
    """An outbox row: the event, the sinks still owed it, how often it was tried, when it was stored and is due."""

    event: OutgoingEvent
    sinks: tuple[str, ...]
    attempts: int
    created: datetime
    due: datetime
    etag: str


@dataclass(frozen=True)
class FailedEvent:
    """A dead-lettered event: what the API shows at ``GET /api/v1/events/failed``."""

    event: OutgoingEvent
    sinks: tuple[str, ...]
    attempts: int
    created: str
    failed_at: str
    last_error: str

    def to_json(self, labels: Callable[[str], str]) -> JsonObject:
        """The public document (sinks by their safe labels; the event as it would be delivered)."""
        return {
            "id": self.event.id,
            "type": self.event.type,
            "subject": self.event.subject,
            "sinks": [labels(sink) for sink in self.sinks],
            "attempts": self.attempts,
            "created": self.created,
            "failed_at": self.failed_at,
            "last_error": self.last_error,
            "event": json.loads(self.event.body),
        }


def _event(row: Any) -> OutgoingEvent:
    return OutgoingEvent(str(row["RowKey"]), str(row["type"]), str(row["subject"]), _body(row))


class EventOutbox:
    """The two tables, with the writes the emitters, the delivery pass and the API make."""

    def __init__(
        self, service: TableServiceClient, prefix: str, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.outbox_table = f"{prefix}Events"
        self.failed_table = f"{prefix}EventsFailed"
        self._clock = clock
        self._tables = Tables(service, self.outbox_table, self.failed_table)

    def _table(self, name: str) -> TableClient:
        return self._tables.client(name)

    def add(self, events: Iterable[OutgoingEvent], sinks: Sequence[str]) -> int:
        """Store ``events`` owed to ``sinks`` and due now; returns how many were new (an id already stored is kept)."""
        if not sinks:
            return 0
        table, added = self._table(self.outbox_table), 0
        for event in events:
            try:
                table.create_entity(self._pending_row(event, sinks))
                added += 1
            except ResourceExistsError:
                continue
        return added

    def _pending_row(self, event: OutgoingEvent, sinks: Sequence[str]) -> dict[str, Any]:
        """The outbox row of ``event``, owed to ``sinks``, never tried, due now."""
        now = stamp(self._clock())
        return {
            "PartitionKey": "out",
            "RowKey": event.id,
            "type": event.type,
            "subject": event.subject,
            "sinks": json.dumps(list(sinks)),
            "attempts": 0,
            "created": now,
            "due": now,
            "last_error": "",
            **_body_properties(event.body),
        }

    def due(self, limit: int = 100) -> list[PendingEvent]:
        """Up to ``limit`` events due now, the longest waiting first."""
        rows = self._table(self.outbox_table).query_entities(
            "PartitionKey eq 'out' and due le @now", parameters={"now": stamp(self._clock())}, results_per_page=limit
        )
        pending = []
        for row in rows:
            pending.append(
                PendingEvent(
                    event=_event(row),
                    sinks=tuple(json.loads(row["sinks"])),
                    attempts=int(row["attempts"]),
                    created=_parse(row["created"]),
                    due=_parse(row["due"]),
                    etag=str(row.metadata["etag"]),
                )
            )
            if len(pending) >= limit:
                break
        return sorted(pending, key=lambda item: item.due)

    def next_due(self) -> datetime | None:
        """When the earliest pending event is due (``None``: the outbox is empty)."""
        rows = self._table(self.outbox_table).query_entities("PartitionKey eq 'out'", select=["due"])
        return min((_parse(row["due"]) for row in rows), default=None)

    def delivered(self, item: PendingEvent) -> None:
        """Every sink has ``item``: remove it."""
        with contextlib.suppress(ResourceNotFoundError, ResourceModifiedError):
            self._table(self.outbox_table).delete_entity(
                "out", item.event.id, etag=item.etag, match_condition=MatchConditions.IfNotModified
            )

    def reschedule(self, item: PendingEvent, sinks: Sequence[str], due: datetime, error: str) -> None:
        """``sinks`` still lack ``item``: try again at ``due``."""
        patch = {
            "PartitionKey": "out",
            "RowKey": item.event.id,
            "sinks": json.dumps(list(sinks)),
            "attempts": item.attempts + 1,
            "due": stamp(due),
            "last_error": error[:500],
        }
        with contextlib.suppress(ResourceNotFoundError, ResourceModifiedError):
            self._table(self.outbox_table).update_entity(
                patch, mode=UpdateMode.MERGE, etag=item.etag, match_condition=MatchConditions.IfNotModified
            )

    def dead_letter(self, item: PendingEvent, sinks: Sequence[str], error: str) -> None:
        """The horizon passed with ``sinks`` still lacking ``item``: move it to the dead-letter table."""
        row = {
            "PartitionKey": "failed",
            "RowKey": item.event.id,
            "type": item.event.type,
            "subject": item.event.subject,
            "sinks": json.dumps(list(sinks)),
            "attempts": item.attempts + 1,
            "created": stamp(item.created),
            "failed_at": stamp(self._clock()),
            "last_error": error[:500],
            **_body_properties(item.event.body),
        }
        self._table(self.failed_table).upsert_entity(row, mode=UpdateMode.REPLACE)
        self.delivered(item)

    def failed(self, limit: int = 100, continuation: str | None = None) -> tuple[list[FailedEvent], str | None]:
        """Dead-lettered events, a page at a time (``continuation``: the token the previous page returned)."""
        token = decode_continuation(continuation) if continuation else None
        pager: Any = (
            self._table(self.failed_table)
            .query_entities("PartitionKey eq 'failed'", results_per_page=limit)
            .by_page(continuation_token=cast(Any, token))
        )
        items = [_failed(row) for row in next(pager, iter(()))]
        next_token = pager.continuation_token
        return items, encode_continuation(next_token) if next_token else None

    def get_failed(self, event_id: str) -> FailedEvent | None:
        """One dead-lettered event, or ``None``."""
        try:
            return _failed(self._table(self.failed_table).get_entity("failed", event_id))
        except ResourceNotFoundError:
            return None

    def retry(self, event_id: str) -> FailedEvent | None:
        """Put a dead-lettered event back into the outbox (same id, same sinks, due now, a new horizon)."""
        failed = self.get_failed(event_id)
        if failed is None:
            return None
        row = self._pending_row(failed.event, failed.sinks)
        self._table(self.outbox_table).upsert_entity(row, mode=UpdateMode.REPLACE)
        with contextlib.suppress(ResourceNotFoundError):
            self._table(self.failed_table).delete_entity("failed", event_id)
        return failed


def _failed(row: Any) -> FailedEvent:
    return FailedEvent(
        event=_event(row),
        sinks=tuple(json.loads(row["sinks"])),
        attempts=int(row["attempts"]),
        created=str(row["created"]),
        failed_at=str(row["failed_at"]),
        last_error=str(row.get("last_error", "")),
    )
