"""Job and step telemetry from the job record: counters, durations, and the step and job spans.

Orchestrators replay: a span or metric emitted from orchestrator code would repeat at every replay (or need
``context.is_replaying`` checks that still double up when an episode is retried). So step and job telemetry is
taken from where a job's progress is *stored*: :class:`JobTelemetry`, an observer of the job store, calls
:func:`job_changed` with the record before and after each applied change. That runs in the ``job_update``
activity (or the API's own updates), once per change that really lands:

- a change is applied by an ETag-checked replace, and a repeated or replayed update (at-least-once activities)
  finds the change already in ``before`` — nothing new, so nothing is emitted twice;
- a step is reported once, when its record first shows it finished (``finished`` set, status final), with the
  start and end times the workflow wrote (orchestration time, not the activity's), so step spans have their true
  extent even though they are emitted afterwards;
- a job is counted started when its record first gets ``started``, and completed (with its duration and a job span)
  when it first reaches a final status.

Step and job spans are placed in the job's trace (:func:`functions.telemetry.spans.job_context`).
"""

from __future__ import annotations

import logging

from opentelemetry.trace import Status, StatusCode

from functions.models.jobs import Job, StepRecord, StepStatus
from functions.telemetry import names
from functions.telemetry.instruments import instruments
from functions.telemetry.spans import iso_to_ns, job_context, tracer

__all__ = ["JobTelemetry", "job_changed"]

log = logging.getLogger(__name__)

_FINAL_STEPS = frozenset({StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.CANCELED})


def _finished(step: StepRecord | None) -> bool:
    return step is not None and step.finished is not None and step.status in _FINAL_STEPS


def _seconds(start: str | None, end: str | None) -> float | None:
    first, last = iso_to_ns(start), iso_to_ns(end)
    if first is None or last is None:
        return None
    return max(0.0, (last - first) / 1e9)


def job_changed(before: Job, after: Job) -> None:
    """Record what the change from ``before`` to ``after`` (one job's stored record) newly tells. Never raises."""
    try:
        _record(before, after)
    except Exception:
        log.warning("telemetry: recording job %s failed", after.id, exc_info=True)


def _record(before: Job, after: Job) -> None:
    meters = instruments()
    host = after.target.host or ""
    previous = {step.name: step for step in before.steps}
    for step in after.steps:
        if _finished(step) and not _finished(previous.get(step.name)):
            _step(after, step, host)
    if before.started is None and after.started is not None:
        meters.jobs_started.add(1, {names.DIM_KIND: after.kind})
    if after.final and not before.final:
        status = str(after.status)
        meters.jobs_completed.add(1, {names.DIM_KIND: after.kind, names.DIM_STATUS: status})
        seconds = _seconds(after.started or after.created, after.finished or after.updated)
        if seconds is not None:
            meters.job_duration.record(seconds, {names.DIM_KIND: after.kind, names.DIM_STATUS: status})
        _span(
            f"{names.SPAN_JOB}{after.kind}",
            after,
            after.started or after.created,
            after.finished or after.updated,
            {names.HOST: host or None, names.STATUS: status, names.STEP: after.failed_step},
            failed=None if status == "Succeeded" else (after.error.category if after.error else status),
        )


def _step(job: Job, step: StepRecord, host: str) -> None:
    meters = instruments()
    status = str(step.status)
    dimensions = {names.DIM_KIND: job.kind, names.DIM_STEP: step.name, names.DIM_STATUS: status, names.DIM_HOST: host}
    seconds = _seconds(step.started, step.finished)
    if seconds is not None:
        meters.step_duration.record(seconds, dimensions)
        if step.name in names.GUEST_WAIT_STEPS:
            meters.guest_wait.record(
                seconds, {names.DIM_STEP: step.name, names.DIM_STATUS: status, names.DIM_HOST: host}
            )
    failed = None
    if step.status != StepStatus.SUCCEEDED:
        failed = job.error.category if job.error is not None and job.failed_step == step.name else status
    _span(
        f"{names.SPAN_STEP}{step.name}",
        job,
        step.started,
        step.finished,
        {names.HOST: host or None, names.STEP: step.name, names.STATUS: status},
        failed=failed,
    )


def _span(
    name: str,
    job: Job,
    start: str | None,
    end: str | None,
    attributes: dict[str, str | None],
    *,
    failed: str | None,
) -> None:
    """A finished span from ``start`` to ``end`` in the job's trace."""
    first, last = iso_to_ns(start), iso_to_ns(end)
    if first is None or last is None:
        return
    values = {key: value for key, value in attributes.items() if value is not None}
    values |= {names.JOB_ID: job.id, names.JOB_KIND: job.kind, names.OUTCOME: "ok" if failed is None else "error"}
    if failed is not None:
        values[names.ERROR_CATEGORY] = failed
    span = tracer().start_span(name, context=job_context(job.id), attributes=values, start_time=first)
    if failed is not None:
        span.set_status(Status(StatusCode.ERROR, failed))
    span.end(end_time=max(first, last))


class JobTelemetry:
    """The job store's observer (:class:`functions.jobs.records.JobObserver`) that records :func:`job_changed`."""

    def job_changed(self, job: Job, *, before: Job | None) -> None:
        """``job`` was stored: record what changed since ``before`` (a creation or a repeated write: nothing)."""
        if before is not None and before is not job:
            job_changed(before, job)
