"""The activity span: one per Durable activity invocation, in its job's trace, naming its job and host.

:func:`activity_span` is entered by the one activity wrapper (``functions.workflows.activities.register_activity``)
and by the two client-binding lease activities. It reads the job id and host from the activity's JSON payload
(``job_id`` and ``host`` at its top level, as the contracts' payloads have them; a bare string payload is a host
name), marks the work as that job's (:func:`~functions.telemetry.spans.job_scope`) so the WinRM spans inside carry
the job id, and puts the span in the job's trace. The wrapper marks a failure with the StepError's category
(:func:`~functions.telemetry.spans.mark_failed`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

from opentelemetry.trace import Span

from functions.models.inventory import STILL_RUNNING, HostSyncSummary
from functions.telemetry import names
from functions.telemetry.instruments import record_host_sync
from functions.telemetry.spans import job_scope, start_span

__all__ = ["activity_span", "payload_job", "record_host_syncs"]


def payload_job(payload: Any) -> tuple[str | None, str | None]:
    """(job id, host) named by an activity payload, where it names them."""
    if isinstance(payload, str):
        return None, payload
    if not isinstance(payload, dict):
        return None, None
    job_id, host = payload.get("job_id"), payload.get("host")
    return (job_id if isinstance(job_id, str) else None), (host if isinstance(host, str) else None)


@contextlib.contextmanager
def activity_span(name: str, payload: Any) -> Iterator[Span]:
    """The span of activity ``name`` run with ``payload`` (see the module docstring)."""
    job_id, host = payload_job(payload)
    with (
        job_scope(job_id),
        start_span(f"{names.SPAN_ACTIVITY}{name}", {names.ACTIVITY: name, names.HOST: host}, in_job_trace=True) as span,
    ):
        yield span


def record_host_syncs(summaries: Iterable[HostSyncSummary]) -> None:
    """Record host syncs from their summaries; a host whose collection is still running is left out (not known yet)."""
    for summary in summaries:
        if summary.error == STILL_RUNNING:
            continue
        record_host_sync(summary.host, summary.ok, summary.duration_s)
