"""Job records in Table Storage: one per workflow, listable beyond the Durable status API and surviving purges.

- ``<prefix>Jobs``: the job document (:class:`~functions.models.jobs.Job`), PartitionKey ``job``, RowKey = job id.
- ``<prefix>JobList``: a projection for listing newest first (RowKey = inverted creation time + id) with the
  filterable fields (status, kind, VM, requester). It is rewritten with every status change; if a crash leaves it
  behind, the next update of the job repairs it.
- ``<prefix>JobKeys``: idempotency keys (→ job id and a keyed fingerprint of the body) and the claims that keep one
  running job per target (→ current job id and a sequence number).

Documents never hold secrets: workflows store public request data only (guest secrets travel sealed).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, cast

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableServiceClient, UpdateMode

from functions.inventory.keys import encode_key
from functions.models.jobs import Job, JobPatch, JobStatus
from functions.models.json import JsonObject
from functions.models.paging import Page
from functions.storage import Tables, decode_continuation, encode_continuation

__all__ = ["Claim", "JobObserver", "JobStore", "JobSummary"]

_LIST_FIELDS = ("id", "kind", "status", "created", "updated", "vm_id", "host", "name", "requester_id", "current_step")
_MAX_TIME_MS = 10**13


class JobObserver(Protocol):
    """Told of every job the store writes (events, the job log): after the write, in the writer's thread.

    It may be told twice of the same state (an activity that runs twice writes twice); an error it raises fails the
    write's caller, which retries.
    """

    def job_changed(self, job: Job, *, before: Job | None) -> None:
        """``job`` was stored; ``before`` is what it replaced.

        ``None``: the job was created; ``job`` itself: a write that changed nothing was repeated.
        """
        ...


@dataclass(frozen=True)
class JobSummary:
    """A row of the job list: what ``GET /api/v1/jobs`` shows per job."""

    id: str
    kind: str
    status: JobStatus
    created: str
    updated: str
    vm_id: str | None = None
    host: str | None = None
    name: str | None = None
    requester_id: str | None = None
    current_step: str | None = None

    def to_json(self) -> JsonObject:
        """The row's fields that are set."""
        row = {name: getattr(self, name) for name in _LIST_FIELDS}
        row["status"] = str(self.status)
        return {key: value for key, value in row.items() if value is not None}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> JobSummary:
        """Parse a list row."""
        return cls(
            id=str(row["id"]),
            kind=str(row["kind"]),
            status=JobStatus(str(row["status"])),
            created=str(row.get("created", "")),
            updated=str(row.get("updated", "")),
            **{name: row.get(name) for name in _LIST_FIELDS[5:]},
        )


@dataclass(frozen=True)
class Claim:
    """The current job of a target, the claim's sequence number (the next job gets one more) and when it was taken."""

    job_id: str
    sequence: int
    taken: datetime | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _to_entity(document: Mapping[str, Any]) -> JsonObject:
    entity: JsonObject = {}
    for key, value in document.items():
        if isinstance(value, dict | list) or key in ("request", "error", "result", "cleanup"):
            entity[f"{key}_json"] = json.dumps(value, default=str)
        elif value is not None:
            entity[key] = value
    return entity


def _from_entity(entity: Mapping[str, Any]) -> Job:
    document: JsonObject = {}
    for key, value in entity.items():
        if key in ("PartitionKey", "RowKey"):
            continue
        if key.endswith("_json"):
            document[key.removesuffix("_json")] = json.loads(value)
        else:
            document[key] = value
    return Job.from_json(document)


class JobStore:
    """Create, update, read and list job records; hold idempotency keys and target claims."""

    def __init__(
        self,
        service: TableServiceClient,
        prefix: str,
        *,
        clock: Callable[[], datetime] = _now,
        observers: Sequence[JobObserver] = (),
    ) -> None:
        self._service = service
        self.observers = tuple(observers)
        self.jobs_table = f"{prefix}Jobs"
        self.list_table = f"{prefix}JobList"
        self.keys_table = f"{prefix}JobKeys"
        self._clock = clock
        self._tables = Tables(service, self.jobs_table, self.list_table, self.keys_table)

    def now(self) -> str:
        """The store's clock, as the ISO 8601 text it writes."""
        return _iso(self._clock())

    def ensure_tables(self) -> None:
        """Create the tables if missing."""
        self._tables.ensure()

    def _table(self, name: str) -> TableClient:
        return self._tables.client(name)

    @staticmethod
    def _list_key(job: Job) -> str:
        created = datetime.fromisoformat(job.created.replace("Z", "+00:00"))
        inverted = _MAX_TIME_MS - int(created.timestamp() * 1000)
        return f"{inverted:013d}_{encode_key(job.id)}"

    def _write_list(self, job: Job) -> None:
        summary = JobSummary(
            id=job.id,
            kind=job.kind,
            status=job.status,
            created=job.created,
            updated=job.updated,
            vm_id=job.target.vm_id,
            host=job.target.host,
            name=job.target.name,
            requester_id=job.requested_by.id,
            current_step=job.current_step,
        )
        row = {"PartitionKey": "list", "RowKey": self._list_key(job), **summary.to_json()}
        self._table(self.list_table).upsert_entity(row, mode=UpdateMode.REPLACE)

    def create(self, job: Job) -> Job:
        """Store a new job; fails (``ResourceExistsError``) if the id exists."""
        entity = {"PartitionKey": "job", "RowKey": encode_key(job.id), **_to_entity(job.to_json())}
        self._table(self.jobs_table).create_entity(entity)
        self._write_list(job)
        self._tell(job, None)
        return job

    def _tell(self, job: Job, before: Job | None) -> None:
        for observer in self.observers:
            observer.job_changed(job, before=before)

    def new_job(self, *, status: JobStatus = JobStatus.PENDING, **fields: Any) -> Job:
        """A job created now, ``Pending`` unless said otherwise (not stored yet)."""
        now = self.now()
        return Job(status=status, created=now, updated=now, **fields)

    def get(self, job_id: str) -> Job | None:
        """One job, or ``None``."""
        try:
            return _from_entity(self._table(self.jobs_table).get_entity("job", encode_key(job_id)))
        except ResourceNotFoundError:
            return None

    def update(self, job_id: str, patch: JobPatch) -> Job | None:
        """Apply ``patch`` to the job (optimistic concurrency; a final status is never overwritten)."""
        table = self._table(self.jobs_table)
        for _ in range(10):
            try:
                entity = table.get_entity("job", encode_key(job_id))
            except ResourceNotFoundError:
                return None
            job = _from_entity(entity)
            updated = job.with_patch(patch, self.now())
            if updated is job:  # a replayed, older update must not reopen a finished job
                if patch.status is not None and patch.status == job.status:
                    self._tell(job, job)  # a repeated write: tell again (what it caused may be lost)
                return job
            replacement = {"PartitionKey": "job", "RowKey": encode_key(job_id), **_to_entity(updated.to_json())}
            try:
                table.update_entity(
                    replacement,
                    mode=UpdateMode.REPLACE,
                    etag=entity.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
            except ResourceModifiedError:
                continue
            self._write_list(updated)
            self._tell(updated, job)
            return updated
        raise RuntimeError(f"job {job_id} kept changing while it was updated")

    def list(
        self,
        *,
        status: JobStatus | None = None,
        kind: str | None = None,
        vm_id: str | None = None,
        requester_id: str | None = None,
        page_size: int = 50,
        continuation: str | None = None,
    ) -> Page[JobSummary]:
        """Job summaries, newest first, filtered; continue with the returned token."""
        clauses, parameters = ["PartitionKey eq 'list'"], {}
        filters = (("status", status and str(status)), ("kind", kind), ("vm_id", vm_id), ("requester_id", requester_id))
        for name, value in filters:
            if value is not None:
                clauses.append(f"{name} eq @{name}")
                parameters[name] = value
        token = decode_continuation(continuation) if continuation else None
        pager: Any = (
            self._table(self.list_table)
            .query_entities(" and ".join(clauses), parameters=parameters, results_per_page=page_size)
            .by_page(continuation_token=cast(Any, token))
        )
        items = [JobSummary.from_row(row) for row in next(pager, iter(()))]
        next_token = pager.continuation_token
        return Page(items=items, continuation=encode_continuation(next_token) if next_token else None)

    # -- idempotency keys and one-running-job claims ------------------------------------------------------------------

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

    def get_claim(self, target: str) -> tuple[Claim | None, str | None]:
        """The claim on ``target`` and its ETag, or (None, None)."""
        try:
            row = self._table(self.keys_table).get_entity("claim", encode_key(target))
        except ResourceNotFoundError:
            return None, None
        taken = row.metadata.get("timestamp")
        claim = Claim(str(row["job_id"]), int(row["sequence"]), taken if isinstance(taken, datetime) else None)
        return claim, str(row.metadata["etag"])

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
