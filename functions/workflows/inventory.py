"""Inventory sync orchestration: fan collect activities out over the hosts, wait for all or a deadline, prune.

Each activity collects and writes its hosts to Table Storage itself, returning only a small summary per host, so
snapshots never travel through orchestration history. An input with ``hosts_per_activity`` (what the service starts
today) hands each activity a batch of that many hosts, which it syncs at once (:mod:`functions.inventory.batch`): a
worker runs only a few activities at a time, and one episode per batch instead of per host keeps the history short.
An input without it (instances started by earlier builds) gets one activity per host, as it was recorded. A dead or
slow host cannot fail the others: its summary reports the error (and the host is marked disconnected), a batch
reports the hosts still running when the sync's deadline nears, and the orchestration stops waiting at the
deadline, reporting hosts still running as timed out (their collections still finish and write). Pure: no I/O,
clock or settings — the starter puts the host list, the batch size and the deadline in the input.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskBase

from functions.errors import StepError
from functions.models.durable import Activity
from functions.models.inventory import STILL_RUNNING, HostBatch, HostSyncSummary
from functions.models.jobs import JobPatch, JobStatus
from functions.models.json import JsonObject
from functions.provisioning import contracts as c
from functions.provisioning.payloads import JobUpdate, PruneResult
from functions.provisioning.workflow_data import HostFailure, SyncInput, SyncOutput
from functions.workflows.flow import Gen

__all__ = ["bp", "report_by", "summarise"]

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


def report_by(started: datetime, deadline_seconds: float) -> datetime:
    """When a batch reports the hosts it still waits for: a tenth of the deadline (at most 30 s) before it."""
    return started + timedelta(seconds=deadline_seconds - min(30.0, deadline_seconds / 10))


def _wait(context: df.DurableOrchestrationContext, tasks: list[TaskBase], started: datetime, seconds: float) -> Gen:
    """Wait until every task has ended or the deadline has come."""
    if tasks:
        deadline = context.create_timer(started + timedelta(seconds=seconds))
        everything = context.task_all(tasks)
        winner = yield context.task_any([everything, deadline])
        if winner is everything:
            deadline.cancel()


def _collect(context: df.DurableOrchestrationContext, spec: SyncInput, started: datetime) -> Gen:
    """Collect every host (each its own activity), until all answered or the deadline; one summary per host."""
    tasks = [_call(context, c.INVENTORY_COLLECT_HOST, host) for host in spec.hosts]
    yield from _wait(context, tasks, started, spec.deadline_seconds)
    summaries: list[HostSyncSummary] = []
    for host, task in zip(spec.hosts, tasks, strict=True):
        if not task.is_completed:
            summaries.append(HostSyncSummary(host, ok=False, error=STILL_RUNNING))
        elif task.state.name == "FAILED":
            summaries.append(HostSyncSummary(host, ok=False, error=str(task.result)[:500]))
        else:
            summaries.append(c.INVENTORY_COLLECT_HOST.result.load(task.result))
    return summaries


def _collect_batches(
    context: df.DurableOrchestrationContext, spec: SyncInput, per_activity: int, started: datetime
) -> Gen:
    """Collect the hosts in batches of ``per_activity`` (each batch one activity); one summary per host."""
    batches = [spec.hosts[i : i + per_activity] for i in range(0, len(spec.hosts), per_activity)]
    by = report_by(started, spec.deadline_seconds).isoformat()
    tasks = [_call(context, c.INVENTORY_COLLECT_HOSTS, HostBatch(batch, by)) for batch in batches]
    yield from _wait(context, tasks, started, spec.deadline_seconds)
    summaries: list[HostSyncSummary] = []
    for batch, task in zip(batches, tasks, strict=True):
        if not task.is_completed:
            summaries += [HostSyncSummary(host, ok=False, error=STILL_RUNNING) for host in batch]
        elif task.state.name == "FAILED":
            summaries += [HostSyncSummary(host, ok=False, error=str(task.result)[:500]) for host in batch]
        else:
            reported = {summary.host: summary for summary in c.INVENTORY_COLLECT_HOSTS.result.load(task.result)}
            missing = "the batch's activity did not report this host"
            summaries += [reported.get(host) or HostSyncSummary(host, ok=False, error=missing) for host in batch]
    return summaries


@bp.function_name(name=c.INVENTORY_SYNC.name)
@bp.orchestration_trigger(context_name="context")
def inventory_sync(context: df.DurableOrchestrationContext) -> Generator[Any, Any, JsonObject]:
    """Sync every host in the input; the output summarises the run. The job (if any) always ends."""
    spec = c.INVENTORY_SYNC.input.load(context.get_input())
    per_activity = spec.hosts_per_activity
    started = context.current_utc_datetime
    try:
        if spec.job_id:
            yield _call(context, c.JOB_UPDATE, JobUpdate(spec.job_id, JobPatch(status=JobStatus.RUNNING)))
        if per_activity is None:
            summaries = yield from _collect(context, spec, started)
        else:
            summaries = yield from _collect_batches(context, spec, per_activity, started)
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
