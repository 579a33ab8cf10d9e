"""Inventory sync orchestration: fan out one collect activity per host, wait for all or a deadline, prune, summarise.

Each activity collects one host over WinRM and writes the result to Table Storage itself, returning only a small
summary, so snapshots never travel through orchestration history. A dead or slow host cannot fail the others: its
activity reports the error (and marks the host disconnected), and the orchestration stops waiting at a deadline,
reporting hosts still running as timed out (their activities still finish and write). Pure: no I/O, clock or
settings — the starter puts the host list and the deadline in the input.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskBase

from functions.errors import StepError
from functions.models.durable import Activity
from functions.models.inventory import HostSyncSummary
from functions.models.jobs import JobPatch, JobStatus
from functions.models.json import JsonObject
from functions.provisioning import contracts as c
from functions.provisioning.payloads import JobUpdate, PruneResult
from functions.provisioning.workflow_data import HostFailure, SyncInput, SyncOutput
from functions.workflows.flow import Gen

__all__ = ["bp", "summarise"]

bp = df.Blueprint()
P = TypeVar("P")
R = TypeVar("R")


def summarise(
    hosts: Sequence[HostSyncSummary],
    pruned: PruneResult | None,
    started: datetime,
    finished: datetime,
    *,
    prune_error: str | None = None,
) -> SyncOutput:
    """The orchestration's output: totals, the failed hosts with their errors, and a prune that failed."""
    failed = tuple(HostFailure(h.host, h.error) for h in hosts if not h.ok)
    return SyncOutput(
        hosts=len(hosts),
        succeeded=len(hosts) - len(failed),
        failed=failed,
        vms=sum(h.vms for h in hosts),
        entities_written=sum(h.written for h in hosts),
        entities_deleted=sum(h.deleted for h in hosts) + (pruned.deleted if pruned else 0),
        slowest_host_s=max((float(h.duration_s) for h in hosts), default=0.0),
        started=started.isoformat(),
        finished=finished.isoformat(),
        prune_error=prune_error,
    )


# Activities are retried on failure (a storage outage, a restarted worker): three attempts, 2 s apart (Python cannot
# send a backoff coefficient; the extension's default is 1).
_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=2000, max_number_of_attempts=3)


def _call(context: df.DurableOrchestrationContext, activity: Activity[P, R], payload: P) -> TaskBase:
    return context.call_activity_with_retry(activity.name, _RETRY, activity.payload.dump(payload))


def _collect(context: df.DurableOrchestrationContext, spec: SyncInput, started: datetime) -> Gen:
    """Collect every host (each its own activity), until all answered or the deadline; one summary per host."""
    tasks = [_call(context, c.INVENTORY_COLLECT_HOST, host) for host in spec.hosts]
    if tasks:
        deadline = context.create_timer(started + timedelta(seconds=spec.deadline_seconds))
        everything = context.task_all(tasks)
        winner = yield context.task_any([everything, deadline])
        if winner is everything:
            deadline.cancel()
    summaries: list[HostSyncSummary] = []
    for host, task in zip(spec.hosts, tasks, strict=True):
        if not task.is_completed:
            summaries.append(HostSyncSummary(host, ok=False, error="timed out; the collection is still running"))
        elif task.state.name == "FAILED":
            summaries.append(HostSyncSummary(host, ok=False, error=str(task.result)[:500]))
        else:
            summaries.append(c.INVENTORY_COLLECT_HOST.result.load(task.result))
    return summaries


@bp.function_name(name=c.INVENTORY_SYNC.name)
@bp.orchestration_trigger(context_name="context")
def inventory_sync(context: df.DurableOrchestrationContext) -> Generator[Any, Any, JsonObject]:
    """Sync every host in the input; the output summarises the run. The job (if any) always ends."""
    spec = c.INVENTORY_SYNC.input.load(context.get_input())
    started = context.current_utc_datetime
    try:
        if spec.job_id:
            yield _call(context, c.JOB_UPDATE, JobUpdate(spec.job_id, JobPatch(status=JobStatus.RUNNING)))
        summaries = yield from _collect(context, spec, started)
        pruned: PruneResult | None = None
        prune_error: str | None = None
        if spec.prune:
            try:
                raw = yield _call(context, c.INVENTORY_PRUNE, spec.hosts)
                pruned = c.INVENTORY_PRUNE.result.load(raw)
            except Exception as exc:  # the hosts are synced; a prune that failed is reported, and retried next time
                prune_error = StepError.from_exception(exc).message
        summary = summarise(summaries, pruned, started, context.current_utc_datetime, prune_error=prune_error)
    except Exception as exc:
        if spec.job_id:
            error = StepError.from_exception(exc).job_error()
            ended = JobPatch(status=JobStatus.FAILED, error=error, finished=context.current_utc_datetime.isoformat())
            yield _call(context, c.JOB_UPDATE, JobUpdate(spec.job_id, ended))
        raise
    output = summary.to_json()
    if spec.job_id:
        final = JobPatch(status=JobStatus.SUCCEEDED, result=output, finished=context.current_utc_datetime.isoformat())
        yield _call(context, c.JOB_UPDATE, JobUpdate(spec.job_id, final))
    return output
