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
from typing import Any

import azure.durable_functions as df

from functions.models.inventory import HostSyncSummary
from functions.models.jobs import JobPatch, JobStatus
from functions.models.json import JsonObject
from functions.provisioning import contracts as c
from functions.provisioning.payloads import JobUpdate, PruneResult
from functions.provisioning.workflow_data import HostFailure, SyncOutput

__all__ = ["bp", "summarise"]

bp = df.Blueprint()


def summarise(
    hosts: Sequence[HostSyncSummary], pruned: PruneResult | None, started: datetime, finished: datetime
) -> SyncOutput:
    """The orchestration's output: totals and the failed hosts with their errors."""
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
    )


@bp.function_name(name=c.INVENTORY_SYNC.name)
@bp.orchestration_trigger(context_name="context")
def inventory_sync(context: df.DurableOrchestrationContext) -> Generator[Any, Any, JsonObject]:
    """Sync every host in the input; the output summarises the run."""
    spec = c.INVENTORY_SYNC.input.load(context.get_input())
    started = context.current_utc_datetime
    if spec.job_id:
        running = JobUpdate(spec.job_id, JobPatch(status=JobStatus.RUNNING))
        yield context.call_activity(c.JOB_UPDATE.name, c.JOB_UPDATE.payload.dump(running))
    tasks = [context.call_activity(c.INVENTORY_COLLECT_HOST.name, host) for host in spec.hosts]
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
    pruned: PruneResult | None = None
    if spec.prune:
        raw = yield context.call_activity(c.INVENTORY_PRUNE.name, c.INVENTORY_PRUNE.payload.dump(spec.hosts))
        pruned = c.INVENTORY_PRUNE.result.load(raw)
    summary = summarise(summaries, pruned, started, context.current_utc_datetime).to_json()
    if spec.job_id:
        final = JobPatch(status=JobStatus.SUCCEEDED, result=summary, finished=context.current_utc_datetime.isoformat())
        yield context.call_activity(c.JOB_UPDATE.name, c.JOB_UPDATE.payload.dump(JobUpdate(spec.job_id, final)))
    return summary
