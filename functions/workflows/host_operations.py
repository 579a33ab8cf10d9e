"""Long host work in the background: start it with one activity, then watch it with durable timers until it ends.

No activity may outlive the Functions host's ``functionTimeout``, and an image copy of hundreds of GB can: so a
step whose work is long starts it on the host as a *background operation* (a scheduled task there, see
``functions/hyperv/scripts/start_operation.ps1``) and returns at once with the operation's id. The orchestration
then polls its status — one short activity each time, never a connection held while waiting — between durable
timers (:func:`next_wait`): the first after ``Timing.host_poll_interval``, then half the time the work still needs
at the speed it has shown (at most :data:`MAX_WAIT`), or — while it reports no progress — half as long again as the
last wait. Every check adds about eight events to the history, so a copy of four hours costs some thirty checks,
not the thousand a fixed interval would.

- The operation id is ``<job id>.<kind>.<attempt>``: deterministic, so an activity that runs twice finds the
  operation its first run started instead of starting another.
- The step's record names the operation and its progress (custom status while it runs, the job record once it has
  started), so callers and operators can find it on the host.
- A failure the host reports as transient (``HostOperationFailed``: an I/O error, a worker that died) starts a new
  attempt after the usual backoff, up to ``Timing.retry_attempts``; a permanent one fails the step.
- A status check that fails transiently (the host briefly unreachable) is retried by the next poll: the work goes
  on without us. Only the deadline ends the wait.
- Past the deadline, or on a cancel, the work is stopped on the host before the step fails (the compensation then
  removes what it wrote; it stops any work still running too, should the stop not reach the host).

Deterministic like every orchestrator: time from the context, settings from the input.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from datetime import datetime, timedelta
from typing import Any

from functions.errors import StepError
from functions.models.jobs import JobPatch
from functions.models.json import JsonObject
from functions.provisioning import contracts as c
from functions.provisioning.payloads import HostOperation, OperationRef, StartOperationPayload
from functions.workflows.flow import CanceledError, Gen, StepFlow

__all__ = ["MAX_WAIT", "TIME_LIMIT_MARGIN", "next_wait", "operation_id", "run_host_operation"]

TIME_LIMIT_MARGIN = 600
"""Seconds the host lets an operation run past the workflow's deadline (the workflow stops it at the deadline)."""
MAX_WAIT = 600.0
"""The longest wait between two checks of an operation that reports its progress (seconds)."""
_MAX_TIME_LIMIT = 604800
_GROWTH = 1.5
_MAX_INTERVALS = 12

StartFor = Callable[[str, int], StartOperationPayload]
"""Builds the start payload for an operation id and the host-side time limit (seconds)."""


def operation_id(job_id: str, kind: str, attempt: int) -> str:
    """The id of a job's ``attempt``-th operation of ``kind`` (deterministic: a repeated start finds it)."""
    return f"{job_id}.{kind}.{attempt}"


def next_wait(previous: float, base: float, operation: HostOperation, elapsed: float) -> float:
    """Seconds to wait before the next check of ``operation``, checked ``elapsed`` seconds after it started.

    Half the time the work still needs at the speed it has shown so far, between ``base`` and :data:`MAX_WAIT`: few
    checks while much is left, closer ones as the end nears. Without progress to go by, the ``previous`` wait half as
    long again, at most twelve times ``base``.
    """
    done, total = operation.bytes_done, operation.bytes_total
    if done <= 0 or total <= done or elapsed <= 0:
        return min(previous * _GROWTH, base * _MAX_INTERVALS)
    still_needed = (total - done) * elapsed / done
    return max(base, min(still_needed / 2, MAX_WAIT))


def progress(operation: HostOperation) -> JsonObject:
    """What a step's record shows of its operation."""
    return {
        "id": operation.id,
        "kind": operation.kind,
        "state": operation.state,
        "percent": operation.percent,
        "bytes_done": operation.bytes_done,
        "bytes_total": operation.bytes_total,
    }


def run_host_operation(
    flow: StepFlow,
    step: str,
    kind: str,
    start_for: StartFor,
    *,
    timeout: float,
    while_waiting: Callable[[], Gen] | None = None,
) -> Generator[Any, Any, HostOperation]:
    """Run ``step``'s work as a background operation of ``kind`` on the flow's host; returns it once it succeeded.

    ``start_for(operation_id, time_limit_seconds)`` builds the start payload; ``timeout`` (seconds) bounds the whole
    step, every attempt included; ``while_waiting`` runs after every timer (e.g. renewing a throttle slot). Raises
    :class:`StepError` (the host's category; ``HostOperationTimeout`` past the deadline) or :class:`CanceledError`,
    after stopping the work on the host.
    """
    timing = flow.timing
    deadline = flow.ctx.current_utc_datetime + timedelta(seconds=timeout)
    attempt = 0
    while True:
        attempt += 1
        limit = _time_limit(flow, deadline)
        operation = yield from flow.call(
            c.HOST_OPERATION_START, start_for(operation_id(flow.job_id, kind, attempt), limit)
        )
        flow.note_operation(step, progress(operation))
        yield from flow.job_update(JobPatch(steps=tuple(flow.steps)))  # the job record names the host operation
        ref = OperationRef(**flow.target_fields(), operation_id=operation.id, folder=operation.folder)
        try:
            operation = yield from _watch(
                flow, step, ref, operation, deadline=deadline, timeout=timeout, while_waiting=while_waiting
            )
        except CanceledError:
            yield from stop(flow, ref)
            raise
        if operation.state == "succeeded":
            return operation
        error = operation.error
        category = error.category if error is not None else "HostOperationFailed"
        message = error.message if error is not None else f"operation {operation.id} ended {operation.state}"
        transient = operation.state == "failed" and category == "HostOperationFailed"
        if not transient or attempt >= timing.retry_attempts or flow.ctx.current_utc_datetime >= deadline:
            raise StepError(category, f"{message} (host operation {operation.id})", transient=transient)
        yield from flow.wait(timing.retry_first_interval * (2 ** (attempt - 1)))


def _time_limit(flow: StepFlow, deadline: datetime) -> int:
    left = (deadline - flow.ctx.current_utc_datetime).total_seconds()
    return int(min(max(left, 0) + TIME_LIMIT_MARGIN, _MAX_TIME_LIMIT))


def _watch(
    flow: StepFlow,
    step: str,
    ref: OperationRef,
    operation: HostOperation,
    *,
    deadline: datetime,
    timeout: float,
    while_waiting: Callable[[], Gen] | None,
) -> Generator[Any, Any, HostOperation]:
    """Poll ``operation`` between durable timers (see :func:`next_wait`) until it ends or the deadline passes."""
    base = flow.timing.host_poll_interval
    interval = base
    began = flow.ctx.current_utc_datetime
    while not operation.ended:
        moment = flow.ctx.current_utc_datetime
        if moment >= deadline:
            yield from stop(flow, ref)
            raise StepError(
                "HostOperationTimeout",
                f"the host operation {operation.id} did not finish within {timeout:g} s "
                f"({operation.percent:g} % done); it was stopped",
            )
        yield from flow.wait(min(interval, (deadline - moment).total_seconds()))
        if while_waiting is not None:
            yield from while_waiting()
        try:
            operation = yield from flow.call(c.HOST_OPERATION_STATUS, ref)
        except StepError as error:
            if not error.transient:
                raise
            interval = min(interval * _GROWTH, base * _MAX_INTERVALS)
            continue  # the host did not answer this time; the work goes on there
        flow.note_operation(step, progress(operation))
        elapsed = (flow.ctx.current_utc_datetime - began).total_seconds()
        interval = next_wait(interval, base, operation, elapsed)
    return operation


def stop(flow: StepFlow, ref: OperationRef) -> Gen:
    """Stop the operation's work on the host; a failure to reach it is left to the compensation (it stops it too)."""
    try:
        yield from flow.call(c.HOST_OPERATION_STOP, ref, cancellable=False)
    except StepError:
        flow.warnings.append(f"the host operation {ref.operation_id} could not be stopped; the cleanup stops it")
