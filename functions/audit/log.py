"""Audit records in Table Storage, newest first (RowKey = inverted time + random suffix), with paging.

Every write through the API is recorded: the caller (object id, app id, display name, identity type), the action,
the target, the job id, the client IP and the outcome (HTTP status). Records hold no request bodies and no secrets.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from azure.data.tables import TableClient, TableServiceClient

from functions.models.json import JsonObject
from functions.models.paging import Page
from functions.storage import Tables, decode_continuation, encode_continuation

__all__ = ["AuditLog", "AuditRecord"]

_MAX_MS = 10**13


@dataclass(frozen=True)
class AuditRecord:
    """One audited write: when, who (the caller's identity fields), what, on what, its job, from where, the outcome."""

    at: str
    who: JsonObject
    action: str
    target: JsonObject
    outcome: int
    job_id: str | None = None
    client_ip: str | None = None
    detail: str | None = None

    def to_json(self) -> JsonObject:
        """The record as stored and listed."""
        return {
            "at": self.at,
            "who": self.who,
            "action": self.action,
            "target": self.target,
            "job_id": self.job_id,
            "client_ip": self.client_ip,
            "outcome": self.outcome,
            "detail": self.detail,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuditRecord:
        """Parse a stored record."""
        return cls(
            at=str(data["at"]),
            who=dict(data.get("who") or {}),
            action=str(data["action"]),
            target=dict(data.get("target") or {}),
            outcome=int(data["outcome"]),
            job_id=data.get("job_id"),
            client_ip=data.get("client_ip"),
            detail=data.get("detail"),
        )


class AuditLog:
    """Append and list audit records."""

    def __init__(
        self, service: TableServiceClient, prefix: str, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.table_name = f"{prefix}Audit"
        self._clock = clock
        self._tables = Tables(service, self.table_name)

    def _table(self) -> TableClient:
        return self._tables.client()

    def record(
        self,
        *,
        who: Mapping[str, Any],
        action: str,
        target: Mapping[str, Any],
        outcome: int,
        job_id: str | None = None,
        client_ip: str | None = None,
        detail: str | None = None,
    ) -> AuditRecord:
        """Append one record; returns it."""
        now = self._clock()
        entry = AuditRecord(
            at=now.isoformat().replace("+00:00", "Z"),
            who=dict(who),
            action=action,
            target=dict(target),
            outcome=outcome,
            job_id=job_id,
            client_ip=client_ip,
            detail=detail,
        )
        row_key = f"{_MAX_MS - int(now.timestamp() * 1000):013d}_{uuid.uuid4().hex[:8]}"
        self._table().create_entity(
            {
                "PartitionKey": "audit",
                "RowKey": row_key,
                "actor_id": str(who.get("object_id") or ""),
                "action": action,
                "record_json": json.dumps(entry.to_json(), default=str),
            }
        )
        return entry

    def list(
        self, *, page_size: int = 50, continuation: str | None = None, actor_id: str | None = None
    ) -> Page[AuditRecord]:
        """A page of records (newest first) and the token for the next one."""
        token = decode_continuation(continuation) if continuation else None
        query = "PartitionKey eq 'audit'" + (" and actor_id eq @actor" if actor_id else "")
        parameters = {"actor": actor_id} if actor_id else {}
        pager: Any = (
            self._table()
            .query_entities(query, parameters=parameters, results_per_page=page_size)
            .by_page(continuation_token=cast(Any, token))
        )
        items = [AuditRecord.from_json(json.loads(row["record_json"])) for row in next(pager, iter(()))]
        next_token = pager.continuation_token
        return Page(items=items, continuation=encode_continuation(next_token) if next_token else None)
