"""The job service: job reads with live progress, cancellation, and the decisions on creates awaiting approval.

A job read asks the workflow for its live progress while the job runs, and reconciles a record whose workflow can
no longer finish it (see :meth:`functions.jobs.submission.JobSubmitter.reconcile`), so a job never shows
``Running`` for ever. A decision is an external event to the waiting workflow (``workflows/approval_wait.py``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from functions.auth import Permission
from functions.errors import Forbidden, InvalidState, NotFound
from functions.joblog.store import JobLog
from functions.jobs.records import JobStore, JobSummary
from functions.jobs.submission import JobSubmitter, WorkflowClient
from functions.models.jobs import Job, JobPatch, JobStatus, StepRecord
from functions.models.json import JsonObject
from functions.models.paging import Page
from functions.provisioning.approvals import APPROVAL_EVENT, ApprovalDecision, Decision
from functions.services.audit import AuditTrail, Caller

__all__ = ["JobFilters", "JobService", "JobState", "Progress"]

_PROGRESS = ("step", "index", "total", "host", "vm_id", "guest_state")


@dataclass(frozen=True)
class JobFilters:
    """What a job listing is filtered by."""

    status: JobStatus | None = None
    kind: str | None = None
    vm_id: str | None = None
    requested_by: str | None = None


@dataclass(frozen=True)
class Progress:
    """Where a running job is, from its workflow's custom status: the step, its position, host, VM, guest state."""

    step: str | None = None
    index: int | None = None
    total: int | None = None
    host: str | None = None
    vm_id: str | None = None
    guest_state: str | None = None

    @classmethod
    def from_custom_status(cls, custom: Mapping[str, Any]) -> Progress:
        """Read the progress fields of a workflow's custom status."""
        index, total = custom.get("index"), custom.get("total")
        return cls(
            step=custom.get("step"),
            index=None if index is None else int(index),
            total=None if total is None else int(total),
            host=custom.get("host"),
            vm_id=custom.get("vm_id"),
            guest_state=custom.get("guest_state"),
        )

    def to_json(self) -> JsonObject:
        """``{"step", "index", "total", "host", "vm_id", "guest_state"}``."""
        return {name: getattr(self, name) for name in _PROGRESS}


@dataclass(frozen=True)
class JobState:
    """A job as callers see it: the record and, while it runs, the workflow's live progress and steps."""

    job: Job
    progress: Progress | None = None
    steps: tuple[StepRecord, ...] = ()

    def to_view(self) -> JsonObject:
        """The job document with ``progress`` (and live ``steps``) while it runs."""
        view = self.job.to_view()
        if self.progress is not None:
            view["progress"] = self.progress.to_json()
        if self.steps:
            view["steps"] = [step.to_json() for step in self.steps]
        return view


class JobService:
    """Job reads, cancellation and approval decisions (see the module docstring)."""

    def __init__(
        self, store: JobStore, submitter: JobSubmitter, audit: AuditTrail, *, log: JobLog | None = None
    ) -> None:
        self.store = store
        self.submitter = submitter
        self.audit = audit
        self.job_log = log

    def log(self, job_id: str, *, after: str | None, limit: int) -> JsonObject:
        """A page of the job's log after the token ``after`` (``NotFound``: no such job)."""
        self._job(job_id)
        if self.job_log is None:
            return {"job_id": job_id, "entries": [], "next": after, "more": False}
        page = self.job_log.page(job_id, after=after, limit=limit)
        return {"job_id": job_id, "entries": [e.to_json() for e in page.entries], "next": page.next, "more": page.more}

    def list(self, filters: JobFilters, *, page_size: int, continuation: str | None) -> Page[JobSummary]:
        """Job summaries, newest first."""
        return self.store.list(
            status=filters.status,
            kind=filters.kind,
            vm_id=filters.vm_id,
            requester_id=filters.requested_by,
            page_size=page_size,
            continuation=continuation,
        )

    def _job(self, job_id: str) -> Job:
        job = self.store.get(job_id)
        if job is None:
            raise NotFound(f"job {job_id} does not exist")
        return job

    def state(self, workflows: WorkflowClient, job_id: str) -> JobState:
        """The job with its live progress; a record its workflow can no longer finish is reconciled first."""
        return self.state_of(workflows, self._job(job_id))

    def state_of(self, workflows: WorkflowClient, job: Job) -> JobState:
        """:meth:`state` of a job already read."""
        if job.final:
            return JobState(job)
        status = workflows.status(job.id)
        if status is None or not status.active:
            job = self.submitter.reconcile(workflows, job)
            if job.final:
                return JobState(job)
        custom = status.custom_status if status is not None else None
        if not isinstance(custom, dict):
            return JobState(job)
        steps = tuple(StepRecord.from_json(step) for step in custom.get("steps") or ())
        progress = Progress.from_custom_status(custom)
        child = _waiting_in(custom)
        if child is not None:  # a guest wait runs in a child orchestration: its guest state is the live one
            waiting = workflows.status(child)
            live = waiting.custom_status if waiting is not None else None
            if isinstance(live, dict) and live.get("guest_state"):
                progress = replace(progress, guest_state=str(live["guest_state"]))
        return JobState(job, progress=progress, steps=steps)

    def cancel(self, workflows: WorkflowClient, job_id: str, caller: Caller) -> JobState:
        """Ask a running job to cancel (its requester or an admin); it compensates what it created."""
        with self.audit.write(caller, "cancel_job", {"job_id": job_id}) as record:
            job = self._job(job_id)
            record.job = job
            if job.requested_by.id != caller.object_id and not caller.can(Permission.ADMIN):
                raise Forbidden("only the job's requester or an admin can cancel it")
            job = self.submitter.reconcile(workflows, job)
            if job.final:
                raise InvalidState(f"job {job_id} already finished ({job.status})", str(job.status))
            if job.kind == "refresh_inventory":
                raise InvalidState("an inventory refresh cannot be canceled; it ends by itself", str(job.status))
            requester = caller.requester
            workflows.raise_event(job_id, "cancel", {"by": requester.id})
            running = workflows.status(job_id)
            child = _waiting_in(running.custom_status) if running is not None else None
            if child is not None:  # the guest wait the job is in stops too (it may just have ended: best effort)
                with contextlib.suppress(Exception):
                    workflows.raise_event(child, "cancel", {"by": requester.id})
            job = self.store.update(job_id, JobPatch(cancel_requested_by=requester)) or job
        return self.state_of(workflows, job)

    def decide(
        self,
        workflows: WorkflowClient,
        job_id: str,
        caller: Caller,
        decision: Decision,
        *,
        reason: str | None,
        separate_duties: bool = True,
    ) -> JobState:
        """An Admin's decision on a create awaiting approval, sent to its workflow (which records it; the first wins).

        The requester cannot decide on their own job (``Forbidden``) unless ``separate_duties`` is off — only in local
        mode, where every caller is the same local developer. A job that is not awaiting approval is ``InvalidState``.
        """
        action = "approve_job" if decision == "approved" else "reject_job"
        with self.audit.write(caller, action, {"job_id": job_id}) as record:
            job = self._job(job_id)
            record.job = job
            if separate_duties and job.requested_by.id is not None and job.requested_by.id == caller.object_id:
                raise Forbidden("the requester of a job cannot approve or reject it: another administrator decides")
            job = self.submitter.reconcile(workflows, job)
            if job.status != JobStatus.AWAITING_APPROVAL:
                raise InvalidState(f"job {job_id} is not awaiting approval (it is {job.status})", str(job.status))
            sent = ApprovalDecision(decision, caller.requester.to_json(), self.store.now(), reason)
            workflows.raise_event(job_id, APPROVAL_EVENT, sent.to_json())
        return self.state_of(workflows, job)


def _waiting_in(custom: object) -> str | None:
    """The child orchestration a running job's guest wait is in (its custom status names it), if any."""
    if not isinstance(custom, dict):
        return None
    child = custom.get("waiting_in")
    return str(child) if isinstance(child, str) and child else None
