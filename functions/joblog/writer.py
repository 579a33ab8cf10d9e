"""The job store's observer that writes a job's own story to its log.

That is: its creation, each step's start and end, each status, warnings, the approval decision, the error and what
the cleanup did.

Every entry is derived from the difference between the stored job and what it replaced, so a repeated write (an
activity that ran twice) adds nothing. Times are the job's own: a step's ``started``/``finished`` (the
orchestration's clock), the job's ``updated`` otherwise. Job documents hold no secrets, nor does this log.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from functions.joblog.entries import Level, LogEntry
from functions.joblog.store import JobLog
from functions.models.jobs import Job, JobStatus, StepRecord, StepStatus
from functions.models.json import JsonObject

__all__ = ["JobLogWriter", "job_entries"]

_QUIET = frozenset({"system:inventory-schedule"})
_ENDED = {StepStatus.SUCCEEDED: "succeeded", StepStatus.FAILED: "failed", StepStatus.CANCELED: "canceled"}


def _seconds(start: str | None, end: str | None) -> str:
    if start is None or end is None:
        return ""
    try:
        began = datetime.fromisoformat(start.replace("Z", "+00:00"))
        delta = datetime.fromisoformat(end.replace("Z", "+00:00")) - began
    except ValueError:
        return ""
    return f" after {delta.total_seconds():.1f} s"


def _step_entries(job: Job, before: Job | None) -> list[LogEntry]:
    earlier = {step.name: step for step in (before.steps if before else ())}
    entries: list[LogEntry] = []
    host = job.target.host
    for step in job.steps:
        old: StepRecord | None = earlier.get(step.name)
        if old is None and step.started:
            entries.append(LogEntry(step.started, "info", "workflow", f"step {step.name} started", step.name, host))
        ended = _ENDED.get(step.status)
        if ended and (old is None or old.status != step.status):
            level: Level = (
                "info" if step.status == StepStatus.SUCCEEDED else "error" if ended == "failed" else "warning"
            )
            at = step.finished or job.updated
            message = f"step {step.name} {ended}{_seconds(step.started, step.finished)}"
            entries.append(LogEntry(at, level, "workflow", message, step.name, host))
    return entries


def _cleanup_entries(cleanup: JsonObject, at: str, host: str | None) -> list[LogEntry]:
    status = str(cleanup.get("status"))
    level: Level = "info" if status in ("Succeeded", "Nothing to clean up") else "warning"
    entries = [
        LogEntry(
            at,
            level,
            "cleanup",
            f"cleanup {status}" + (f": {cleanup['reason']}" if cleanup.get("reason") else ""),
            None,
            host,
        )
    ]
    for action in cleanup.get("actions") or ():
        entries.append(LogEntry(at, "info", "cleanup", str(action), None, host))
    report = cleanup.get("host") or {}
    for vm in report.get("vms_removed") or ():
        entries.append(LogEntry(at, "info", "cleanup", f"removed VM {vm}", None, host))
    for path in report.get("folders_removed") or ():
        entries.append(LogEntry(at, "info", "cleanup", f"removed folder {path}", None, host))
    for path in report.get("deleted_files") or ():
        entries.append(LogEntry(at, "info", "cleanup", f"deleted {path}", None, host))
    for path in report.get("kept_files") or ():
        entries.append(LogEntry(at, "warning", "cleanup", f"kept {path} (not the job's)", None, host))
    if cleanup.get("error"):
        error = cleanup["error"]
        entries.append(
            LogEntry(
                at, "error", "cleanup", f"cleanup error: {error.get('category')}: {error.get('message')}", None, host
            )
        )
    return entries


def job_entries(job: Job, before: Job | None) -> list[LogEntry]:
    """The entries the change from ``before`` (``None``: just created) to ``job`` stands for."""
    if before is job:
        return []
    at, host = job.updated, job.target.host
    entries: list[LogEntry] = []
    if before is None:
        who = job.requested_by.name or job.requested_by.id or "someone"
        target = job.target.name or job.target.vm_id or job.target.host or ""
        entries.append(
            LogEntry(
                job.created,
                "info",
                "workflow",
                f"{job.kind} {target} requested by {who}".replace("  ", " "),
                None,
                host,
            )
        )
    entries += _step_entries(job, before)
    if before is None or before.status != job.status:
        if job.status == JobStatus.AWAITING_APPROVAL:
            why = job.approval.required_by if job.approval else None
            entries.append(
                LogEntry(at, "info", "workflow", "waiting for an approval" + (f": {why}" if why else ""), None, host)
            )
        elif job.status == JobStatus.FAILED and job.error is not None:
            message = f"job failed: {job.error.category}: {job.error.message}"
            entries.append(LogEntry(at, "error", "workflow", message, job.failed_step, host))
        elif job.status == JobStatus.CANCELED:
            reason = job.error.message if job.error else "canceled"
            entries.append(LogEntry(at, "warning", "workflow", f"job canceled: {reason}", None, host))
        elif job.status == JobStatus.SUCCEEDED:
            entries.append(LogEntry(at, "info", "workflow", "job succeeded", None, host))
    if job.approval and job.approval.decision and not (before and before.approval and before.approval.decision):
        by = job.approval.decided_by.name if job.approval.decided_by else "the deadline"
        reason = f": {job.approval.reason}" if job.approval.reason else ""
        entries.append(
            LogEntry(
                job.approval.decided_at or at,
                "info",
                "workflow",
                f"approval {job.approval.decision} by {by}{reason}",
                None,
                host,
            )
        )
    for warning in job.warnings:
        if before is None or warning not in before.warnings:
            entries.append(LogEntry(at, "warning", "workflow", warning, None, host))
    if job.cleanup and not (before and before.cleanup == job.cleanup):
        entries += _cleanup_entries(job.cleanup, at, host)
    return entries


class JobLogWriter:
    """Writes :func:`job_entries` of every stored job to the job log."""

    def __init__(self, log: Callable[[], JobLog]) -> None:
        self._log = log

    def job_changed(self, job: Job, *, before: Job | None) -> None:
        """``job`` was stored (``before``: what it replaced)."""
        if job.requested_by.id in _QUIET:
            return
        entries = job_entries(job, before)
        if entries:
            self._log().append(job.id, entries)
