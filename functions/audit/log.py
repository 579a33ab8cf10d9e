"""Audit records in Table Storage, newest first (RowKey = inverted time + random suffix), with paging.

Every write through the API is recorded: the caller (object id, app id, display name, identity type), the action,
the target, the job id, the client IP and the outcome (HTTP status). Records hold no request bodies and no secrets.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableServiceClient

from functions.settings import get_settings
from functions.storage import table_service

__all__ = ["AuditLog", "InvalidAuditContinuationError", "get_audit_log", "set_audit_log"]

_MAX_MS = 10**13


class InvalidAuditContinuationError(ValueError):
    """A continuation token this log did not issue."""


class AuditLog:
    """Append and list audit records."""

    def __init__(
        self, service: TableServiceClient, prefix: str, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._service = service
        self.table_name = f"{prefix}Audit"
        self._clock = clock
        self._ready = False

    def _table(self) -> Any:
        if not self._ready:
            with contextlib.suppress(ResourceExistsError):
                self._service.create_table(self.table_name)
            self._ready = True
        return self._service.get_table_client(self.table_name)

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
    ) -> dict[str, Any]:
        """Append one record; returns it."""
        now = self._clock()
        entry = {
            "at": now.isoformat().replace("+00:00", "Z"),
            "who": dict(who),
            "action": action,
            "target": dict(target),
            "job_id": job_id,
            "client_ip": client_ip,
            "outcome": outcome,
            "detail": detail,
        }
        row_key = f"{_MAX_MS - int(now.timestamp() * 1000):013d}_{uuid.uuid4().hex[:8]}"
        self._table().create_entity(
            {
                "PartitionKey": "audit",
                "RowKey": row_key,
                "actor_id": str(who.get("object_id") or ""),
                "action": action,
                "record_json": json.dumps(entry, default=str),
            }
        )
        return entry

    def list(self, *, page_size: int = 50, continuation: str | None = None, actor_id: str | None = None) -> Any:
        """A page of records (newest first) and the token for the next one."""
        token: Any = None
        if continuation:
            try:
                token = json.loads(base64.urlsafe_b64decode((continuation + "=" * (-len(continuation) % 4)).encode()))
                if not isinstance(token, dict):
                    raise ValueError
            except (ValueError, binascii.Error, UnicodeDecodeError):
                raise InvalidAuditContinuationError("continuation token is not valid") from None
        query = "PartitionKey eq 'audit'" + (" and actor_id eq @actor" if actor_id else "")
        parameters = {"actor": actor_id} if actor_id else {}
        pager = (
            self._table()
            .query_entities(query, parameters=parameters, results_per_page=page_size)
            .by_page(continuation_token=token)
        )
        items = [json.loads(row["record_json"]) for row in next(pager, iter(()))]
        next_token = pager.continuation_token
        encoded = base64.urlsafe_b64encode(json.dumps(next_token).encode()).decode().rstrip("=") if next_token else None
        return items, encoded


class _Holder:
    lock = threading.Lock()
    log: AuditLog | None = None


def get_audit_log() -> AuditLog:
    """The process-wide audit log."""
    with _Holder.lock:
        if _Holder.log is None:
            _Holder.log = AuditLog(table_service(), get_settings().storage.table_prefix)
        return _Holder.log


def set_audit_log(log: AuditLog | None) -> None:
    """Inject a log (tests) or clear the cached one."""
    with _Holder.lock:
        _Holder.log = log
