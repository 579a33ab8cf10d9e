"""Job records in Table Storage: one per workflow, listable beyond the Durable status API and surviving purges.

- ``<prefix>Jobs``: the job document, PartitionKey ``job``, RowKey = job id (point reads).
- ``<prefix>JobList``: a projection for listing newest first (RowKey = inverted creation time + id) with the
  filterable fields (status, kind, VM, requester). It is rewritten with every status change; if a crash leaves it
  behind, the next update of the job repairs it.
- ``<prefix>JobKeys``: idempotency keys and "one running create per VM" claims → job id (with a body hash).

Documents never hold secrets: workflows store public request data only (guest secrets travel sealed).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableServiceClient, UpdateMode

from functions.inventory.keys import encode_key
from functions.settings import get_settings
from functions.storage import table_service

__all__ = [
    "FINAL_STATUSES",
    "InvalidContinuationError",
    "JobPage",
    "JobStore",
    "get_job_store",
    "set_job_store",
]

FINAL_STATUSES = frozenset({"Succeeded", "Failed", "Canceled"})
_JSON_FIELDS = ("target", "steps", "error", "result", "cleanup", "requested_by", "request")
_LIST_FIELDS = ("id", "kind", "status", "created", "updated", "vm_id", "host", "name", "requester_id", "current_step")
_MAX_TIME_MS = 10**13


class InvalidContinuationError(ValueError):
    """A continuation token this store did not issue."""


@dataclass
class JobPage:
    """A page of job summaries and the token for the next page."""

    items: list[dict[str, Any]]
    continuation: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _to_entity(job: Mapping[str, Any]) -> dict[str, Any]:
    entity: dict[str, Any] = {}
    for key, value in job.items():
        if key in _JSON_FIELDS or isinstance(value, dict | list):
            entity[f"{key}_json"] = json.dumps(value, default=str)
        elif value is not None:
            entity[key] = value
    return entity


def _from_entity(entity: Mapping[str, Any]) -> dict[str, Any]:
    job: dict[str, Any] = {field: None for field in _JSON_FIELDS}
    for key, value in entity.items():
        if key in ("PartitionKey", "RowKey"):
            continue
        if key.endswith("_json"):
            job[key.removesuffix("_json")] = json.loads(value)
        else:
            job[key] = value
    job["steps"] = job.get("steps") or []
    return job


class JobStore:
    """Create, update, read and list job records."""

    def __init__(self, service: TableServiceClient, prefix: str, *, clock: Callable[[], datetime] = _now) -> None:
        self._service = service
        self.jobs_table = f"{prefix}Jobs"
        self.list_table = f"{prefix}JobList"
        self.keys_table = f"{prefix}JobKeys"
        self._clock = clock
        self._ready = False

    def ensure_tables(self) -> None:
        """Create the tables if missing."""
        for name in (self.jobs_table, self.list_table, self.keys_table):
            with contextlib.suppress(ResourceExistsError):
                self._service.create_table(name)
        self._ready = True

    def _table(self, name: str) -> Any:
        if not self._ready:
            self.ensure_tables()
        return self._service.get_table_client(name)

    @staticmethod
    def _list_key(job: Mapping[str, Any]) -> str:
        created = datetime.fromisoformat(str(job["created"]).replace("Z", "+00:00"))
        inverted = _MAX_TIME_MS - int(created.timestamp() * 1000)
        return f"{inverted:013d}_{encode_key(str(job['id']))}"

    def _write_list(self, job: Mapping[str, Any]) -> None:
        target = job.get("target") or {}
        requester = job.get("requested_by") or {}
        row = {
            "PartitionKey": "list",
            "RowKey": self._list_key(job),
            **{k: job.get(k) for k in _LIST_FIELDS if job.get(k) is not None},
            "vm_id": target.get("vm_id"),
            "host": target.get("host"),
            "name": target.get("name"),
            "requester_id": requester.get("id"),
        }
        self._table(self.list_table).upsert_entity(
            {k: v for k, v in row.items() if v is not None}, mode=UpdateMode.REPLACE
        )

    def create(self, job: Mapping[str, Any]) -> dict[str, Any]:
        """Store a new job (``id``, ``kind``, ``target``, ``requested_by`` …); fails if the id exists."""
        now = _iso(self._clock())
        document = {"status": "Pending", "steps": [], "created": now, "updated": now, **job}
        entity = {"PartitionKey": "job", "RowKey": encode_key(str(job["id"])), **_to_entity(document)}
        self._table(self.jobs_table).create_entity(entity)
        self._write_list(document)
        return _from_entity(entity)

    def get(self, job_id: str) -> dict[str, Any] | None:
        """One job, or ``None``."""
        try:
            return _from_entity(self._table(self.jobs_table).get_entity("job", encode_key(job_id)))
        except ResourceNotFoundError:
            return None

    def update(self, job_id: str, patch: Mapping[str, Any]) -> dict[str, Any] | None:
        """Merge ``patch`` into the job (optimistic concurrency; a final status is never overwritten)."""
        table = self._table(self.jobs_table)
        for _ in range(10):
            try:
                entity = table.get_entity("job", encode_key(job_id))
            except ResourceNotFoundError:
                return None
            job = _from_entity(entity)
            if job.get("status") in FINAL_STATUSES and patch.get("status") not in (None, job.get("status")):
                return job  # a replayed, older update must not reopen a finished job
            job.update(patch)
            job["updated"] = _iso(self._clock())
            replacement = {"PartitionKey": "job", "RowKey": encode_key(job_id), **_to_entity(job)}
            try:
                table.update_entity(
                    replacement,
                    mode=UpdateMode.REPLACE,
                    etag=entity.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
            except ResourceModifiedError:
                continue
            self._write_list(job)
            return job
        raise RuntimeError(f"job {job_id} kept changing while it was updated")

    def list(
        self,
        *,
        status: str | None = None,
        kind: str | None = None,
        vm_id: str | None = None,
        requester_id: str | None = None,
        page_size: int = 50,
        continuation: str | None = None,
    ) -> JobPage:
        """Job summaries, newest first, filtered; continue with the returned token."""
        clauses, parameters = ["PartitionKey eq 'list'"], {}
        for name, value in (("status", status), ("kind", kind), ("vm_id", vm_id), ("requester_id", requester_id)):
            if value is not None:
                clauses.append(f"{name} eq @{name}")
                parameters[name] = value
        token: Any = None
        if continuation:
            try:
                padded = continuation + "=" * (-len(continuation) % 4)
                token = json.loads(base64.urlsafe_b64decode(padded.encode()))
                if not isinstance(token, dict) or not all(isinstance(v, str) for v in token.values()):
                    raise ValueError
            except (ValueError, binascii.Error, UnicodeDecodeError):
                raise InvalidContinuationError("continuation token is not valid") from None
        pager = (
            self._table(self.list_table)
            .query_entities(" and ".join(clauses), parameters=parameters, results_per_page=page_size)
            .by_page(continuation_token=token)
        )
        items = [{k: v for k, v in row.items() if k not in ("PartitionKey", "RowKey")} for row in next(pager, iter(()))]
        next_token = pager.continuation_token
        encoded = base64.urlsafe_b64encode(json.dumps(next_token).encode()).decode().rstrip("=") if next_token else None
        return JobPage(items=items, continuation=encoded)

    # -- idempotency and one-running-create claims ----------------------------------------------------------------

    def claim_key(self, key: str, job_id: str, fingerprint: str) -> tuple[str, str]:
        """Bind ``key`` to ``job_id`` unless it is bound already; returns the bound (job id, fingerprint)."""
        table = self._table(self.keys_table)
        row = {"PartitionKey": "key", "RowKey": encode_key(key), "job_id": job_id, "fingerprint": fingerprint}
        try:
            table.create_entity(row)
        except ResourceExistsError:
            existing = table.get_entity("key", encode_key(key))
            return str(existing["job_id"]), str(existing.get("fingerprint", ""))
        return job_id, fingerprint

    def bound_key(self, key: str) -> tuple[str, str] | None:
        """The (job id, fingerprint) ``key`` is bound to, or None."""
        try:
            row = self._table(self.keys_table).get_entity("key", encode_key(key))
        except ResourceNotFoundError:
            return None
        return str(row["job_id"]), str(row.get("fingerprint", ""))

    def get_claim(self, target: str) -> tuple[dict[str, Any] | None, str | None]:
        """The claim on ``target`` (its current job id and sequence) and its ETag, or (None, None)."""
        try:
            row = self._table(self.keys_table).get_entity("claim", encode_key(target))
        except ResourceNotFoundError:
            return None, None
        return {"job_id": str(row["job_id"]), "sequence": int(row["sequence"])}, str(row.metadata["etag"])

    def set_claim(self, target: str, job_id: str, sequence: int, etag: str | None) -> bool:
        """Point the claim on ``target`` at ``job_id`` if it is unchanged since ``etag``; False if another won."""
        table = self._table(self.keys_table)
        row = {"PartitionKey": "claim", "RowKey": encode_key(target), "job_id": job_id, "sequence": sequence}
        try:
            if etag is None:
                table.create_entity(row)
            else:
                table.update_entity(row, etag=etag, match_condition=MatchConditions.IfNotModified)
        except (ResourceExistsError, ResourceModifiedError):
            return False
        return True

    def release_key(self, key: str, job_id: str) -> None:
        """Drop ``key`` if it still points to ``job_id`` (so a finished job's claim can be taken again)."""
        table = self._table(self.keys_table)
        try:
            existing = table.get_entity("key", encode_key(key))
        except ResourceNotFoundError:
            return
        if existing.get("job_id") == job_id:
            with contextlib.suppress(ResourceNotFoundError, ResourceModifiedError):
                table.delete_entity(
                    "key",
                    encode_key(key),
                    etag=existing.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )


class _Holder:
    lock = threading.Lock()
    store: JobStore | None = None


def get_job_store() -> JobStore:
    """The process-wide job store."""
    with _Holder.lock:
        if _Holder.store is None:
            _Holder.store = JobStore(table_service(), get_settings().storage.table_prefix)
        return _Holder.store


def set_job_store(store: JobStore | None) -> None:
    """Inject a store (tests) or clear the cached one."""
    with _Holder.lock:
        _Holder.store = store
