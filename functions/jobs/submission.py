"""Submitting jobs: one job record and one Durable instance per workflow run, deduplicated and idempotent.

- **One running job per target**: a claim row per target (``create_vm:<host or any>:<name>``, ``vm:<vm id>`` for
  every job that changes an existing VM …) holds the current job and a sequence number, updated with an ETag
  condition. A second submit of the same job (same kind, same action) while it runs returns that job instead of
  starting another; a different job on a busy target is a :class:`~functions.errors.Conflict` naming the running
  one (a restart sent while a stop runs is never answered with the stop). Job ids
  (also the Durable instance ids: one scheme for every workflow) come from the kind, target and sequence
  (``create-vm-hv01-web01-1``), so the extension's duplicate-instance rule backs the claim up.
- **Live means live**: a claimed job counts as running only while its instance does. A record left ``Pending`` or
  ``Running`` by an instance that failed, was terminated, completed without its final record write, or never
  started is reconciled from the instance's status (:meth:`JobSubmitter.reconcile`) and the target is free again.
- **Idempotency-Key**: the same key (per caller) with the same body returns the same job; with a different body it
  is a :class:`~functions.errors.Conflict`. Bodies are compared by an HMAC under a key derived from the sealing key,
  so the stored fingerprint tells a table reader nothing about the body (passwords included).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from functions.errors import Conflict
from functions.jobs.records import Claim, JobStore
from functions.models.durable import Orchestration
from functions.models.jobs import Job, JobError, JobPatch, JobStatus, JobTarget, Requester

__all__ = ["JobRequest", "JobSubmitter", "Submission", "WorkflowClient", "WorkflowStatus"]

STALE_PENDING = timedelta(minutes=2)
# A claim whose job record does not exist yet is another submit between taking the claim and writing the record
# (a few storage round trips); older than this, that submit died and the claim is taken over.
CLAIM_GRACE = timedelta(seconds=30)
CLAIM_RECHECK = 0.05
CLAIM_ATTEMPTS = 200
_ACTIVE = frozenset({"Running", "Pending", "ContinuedAsNew", "Suspended"})


@dataclass(frozen=True)
class WorkflowStatus:
    """What the Durable extension says about an instance: runtime status, custom status and output."""

    runtime_status: str | None
    custom_status: Any = None
    output: Any = None

    @property
    def active(self) -> bool:
        """Whether the instance is still running (or about to)."""
        return self.runtime_status in _ACTIVE


class WorkflowClient(Protocol):
    """Starting and asking about workflow instances (the Durable client of one invocation)."""

    def start(self, orchestration: Orchestration[Any], instance_id: str, payload: Any) -> None:
        """Start ``orchestration`` as ``instance_id`` with ``payload`` (its typed input)."""
        ...

    def status(self, instance_id: str) -> WorkflowStatus | None:
        """The instance's status, or ``None`` when there is no such instance."""
        ...

    def raise_event(self, instance_id: str, name: str, data: Any) -> None:
        """Send external event ``name`` to the instance."""
        ...


@dataclass(frozen=True)
class JobRequest:
    """Everything a submit needs: what to run, on what, for whom, and how to build the workflow's input."""

    kind: str
    orchestration: Orchestration[Any]
    target: JobTarget
    claim: str
    build_input: Callable[[str], Any]
    requested_by: Requester
    body: Any = None
    """What the caller sent (compared by fingerprint for Idempotency-Key reuse); never stored."""
    idempotency_key: str | None = None
    request: Mapping[str, Any] | None = None
    warnings: tuple[str, ...] = field(default=())
    scope: str | None = None
    """Claims of the same scope and target exclude each other across kinds (``vm``); default: the kind."""
    status: JobStatus = JobStatus.PENDING
    """The new job's status (``AwaitingApproval`` for a create known to need an approval)."""
    dedupe: bool = True
    """A running job of the same kind and action is this one (returned, not a conflict); False: it is a conflict
    (a change's body says what it does, and two different changes to one VM must not be taken for one)."""

    @property
    def claim_name(self) -> str:
        """The claim row this job takes."""
        return f"{self.scope or self.kind}:{self.claim}"

    def same_job(self, job: Job) -> bool:
        """Whether ``job`` is what this request asks for (same kind and action, for a request that dedupes)."""
        return self.dedupe and job.kind == self.kind and job.target.action == self.target.action


@dataclass(frozen=True)
class Submission:
    """The job a submit resulted in, and whether this submit created it (False: an existing job was returned)."""

    job: Job
    created: bool


_NOT_STARTED = frozenset({JobStatus.PENDING, JobStatus.AWAITING_APPROVAL})
"""What a job's record says before its workflow has written to it (it may be starting)."""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:60] or "x"


def _describe(job: Job) -> str:
    return f"{job.kind} {job.target.action}" if job.target.action else job.kind


def _error(category: str, message: str, *, transient: bool = False) -> JobError:
    return JobError(category, message, transient)


class JobSubmitter:
    """Creates job records and starts their workflows (see the module docstring)."""

    def __init__(
        self,
        store: JobStore,
        fingerprint_key: bytes,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self._fingerprint_key = fingerprint_key
        self._clock = clock
        self._sleep = sleep

    def fingerprint(self, body: Any) -> str:
        """A keyed hash of a request body (HMAC-SHA256 of its canonical JSON)."""
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()
        return hmac.new(self._fingerprint_key, canonical, hashlib.sha256).hexdigest()

    def submit(self, workflows: WorkflowClient, request: JobRequest) -> Submission:
        """Create the job record and start its workflow, unless an equivalent job exists (see module docs)."""
        body_fingerprint = self.fingerprint({"kind": request.kind, "body": request.body})
        key_name = f"idem:{request.requested_by.id}:{request.idempotency_key}" if request.idempotency_key else None
        if key_name is not None:
            existing = self._idempotent_job(key_name, body_fingerprint)
            if existing is not None:
                return Submission(existing, created=False)
        claim_name = request.claim_name
        for _ in range(CLAIM_ATTEMPTS):
            claim, etag = self.store.get_claim(claim_name)
            if claim is not None:
                current = self.store.get(claim.job_id)
                if current is None and self._being_created(claim):
                    self._sleep(CLAIM_RECHECK)  # another submit took the claim and is writing the job's record
                    continue
                if current is not None:
                    current = self.reconcile(workflows, current)
                    if not current.final:
                        if not request.same_job(current):
                            raise Conflict(
                                f"job {current.id} ({_describe(current)}) is running on this target; "
                                "try again when it has finished",
                                extra={"job_id": current.id},
                            )
                        if key_name is not None:
                            self.store.claim_key(key_name, current.id, body_fingerprint)
                        return Submission(current, created=False)
            sequence = claim.sequence + 1 if claim is not None else 1
            job_id = f"{request.kind.replace('_', '-')}-{_slug(request.claim)}-{sequence}"
            if self.store.set_claim(claim_name, job_id, sequence, etag):
                break
        else:
            raise Conflict(f"the target {request.claim} kept changing; try again")
        job = self.store.create(
            self.store.new_job(
                id=job_id,
                kind=request.kind,
                target=request.target,
                requested_by=request.requested_by,
                request=dict(request.request) if request.request is not None else None,
                idempotency_key=request.idempotency_key,
                warnings=request.warnings,
                status=request.status,
            )
        )
        if key_name is not None:
            bound_id, bound_fingerprint = self.store.claim_key(key_name, job_id, body_fingerprint)
            if bound_id != job_id and bound_fingerprint != body_fingerprint:  # a concurrent submit took the key
                patch = JobPatch(status=JobStatus.FAILED, error=_error("Conflict", "Idempotency-Key reused"))
                self.store.update(job_id, patch)
                raise Conflict("the Idempotency-Key was used with a different request body")
        try:
            workflows.start(request.orchestration, job_id, request.build_input(job_id))
        except Exception as exc:
            failed = _error("StartFailed", "the workflow could not be started", transient=True)
            self.store.update(job_id, JobPatch(status=JobStatus.FAILED, error=failed, finished=self.store.now()))
            raise RuntimeError(f"could not start {request.orchestration.name} for job {job_id}") from exc
        return Submission(job, created=True)

    def _being_created(self, claim: Claim) -> bool:
        return claim.taken is None or self._clock() - claim.taken < CLAIM_GRACE

    def _idempotent_job(self, key_name: str, body_fingerprint: str) -> Job | None:
        bound = self.store.bound_key(key_name)
        if bound is None:
            return None
        if not hmac.compare_digest(bound[1], body_fingerprint):
            raise Conflict("the Idempotency-Key was used with a different request body")
        return self.store.get(bound[0])

    def _age(self, job: Job) -> timedelta:
        try:
            created = datetime.fromisoformat(job.created.replace("Z", "+00:00"))
        except ValueError:
            return timedelta(0)
        return self._clock() - created

    def reconcile(self, workflows: WorkflowClient, job: Job) -> Job:
        """``job`` as its instance says it is: a record the instance can no longer finish is finalized now.

        A job whose instance is running is returned as it is. So is a ``Pending`` (or ``AwaitingApproval``) job
        younger than :data:`STALE_PENDING` without an instance (its start may be in flight). Otherwise the record is
        written final from the instance's status: ``Completed`` → Succeeded (with the output as result), ``Failed`` or
        ``Terminated`` → Failed, no instance → Failed (``NeverStarted``).
        """
        if job.final:
            return job
        status = workflows.status(job.id)
        if status is not None and status.active:
            return job
        if status is None and job.status in _NOT_STARTED and self._age(job) <= STALE_PENDING:
            return job
        now = self.store.now()
        if status is None:
            patch = JobPatch(
                status=JobStatus.FAILED,
                error=_error("NeverStarted", "the workflow never started or its history was purged"),
                finished=now,
            )
        elif status.runtime_status == "Completed":
            result = status.output if isinstance(status.output, dict) else None
            patch = JobPatch(status=JobStatus.SUCCEEDED, result=result, finished=now)
        else:
            text = str(status.output or status.runtime_status)[:500]
            patch = JobPatch(status=JobStatus.FAILED, error=_error("WorkflowFailed", text), finished=now)
        return self.store.update(job.id, patch) or job
