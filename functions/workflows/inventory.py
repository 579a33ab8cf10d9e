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

from functions.workflows.inventory_activities import inventory_collect_host, inventory_prune
from functions.workflows.vm_activities import job_update

__all__ = ["INSTANCE_ID", "bp", "inventory_sync", "summarise"]

bp = df.Blueprint()
INSTANCE_ID = "inventory-sync"


def summarise(
    hosts: Sequence[dict[str, Any]], pruned: dict[str, Any], started: datetime, finished: datetime
) -> dict[str, Any]:
    """The orchestration's output: totals and the failed hosts with their errors."""
    failed = [{"host": h.get("host"), "error": h.get("error")} for h in hosts if not h.get("ok")]
    return {
        "hosts": len(hosts),
        "succeeded": len(hosts) - len(failed),
        "failed": failed,
        "vms": sum(int(h.get("vms") or 0) for h in hosts),
        "entities_written": sum(int(h.get("written") or 0) for h in hosts),
        "entities_deleted": sum(int(h.get("deleted") or 0) for h in hosts) + int(pruned.get("deleted") or 0),
        "slowest_host_s": max((float(h.get("duration_s") or 0) for h in hosts), default=0.0),
        "started": started.isoformat(),
        "finished": finished.isoformat(),
    }


@bp.orchestration_trigger(context_name="context")
def inventory_sync(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    """Sync every host in the input; the output summarises the run."""
    spec: dict[str, Any] = context.get_input() or {}
    hosts: list[str] = list(spec.get("hosts", []))
    started = context.current_utc_datetime
    job_id = spec.get("job_id")  # set when the API started the sync (the timer's runs have no job record)
    if job_id:
        yield context.call_activity(job_update, {"job_id": job_id, "patch": {"status": "Running"}})
    tasks = [context.call_activity(inventory_collect_host, host) for host in hosts]
    if tasks:
        deadline = context.create_timer(started + timedelta(seconds=float(spec.get("deadline_seconds", 600))))
        everything = context.task_all(tasks)
        winner = yield context.task_any([everything, deadline])
        if winner is everything:
            deadline.cancel()
    summaries: list[dict[str, Any]] = []
    for host, task in zip(hosts, tasks, strict=True):
        if not task.is_completed:
            summaries.append({"host": host, "ok": False, "error": "timed out; the collection is still running"})
        elif task.state.name == "FAILED":
            summaries.append({"host": host, "ok": False, "error": str(task.result)[:500]})
        else:
            summaries.append(task.result)
    pruned: dict[str, Any] = {}
    if spec.get("prune", True):
        pruned = yield context.call_activity(inventory_prune, hosts)
    summary = summarise(summaries, pruned, started, context.current_utc_datetime)
    if job_id:
        final = {"status": "Succeeded", "result": summary, "finished": context.current_utc_datetime.isoformat()}
        yield context.call_activity(job_update, {"job_id": job_id, "patch": final})
    return summary
