"""The machinery every VM workflow shares: steps with progress, retries, cancellation and the job record.

:class:`StepFlow` wraps an orchestration context. ``call`` runs an activity through its typed contract, retrying
transient failures with exponential backoff (durable timers) and failing at once on permanent ones; it notices a
``cancel`` event but never abandons an activity mid-way. ``status`` records step transitions in custom status (live
progress) and step starts in the job record. :func:`run_job` runs a workflow body, and on failure or cancellation
runs its compensation, writes the final job record and fails the orchestration with the original error.
Everything here is deterministic: time comes from the context, settings from the input.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import replace
from datetime import timedelta
from typing import Any, Protocol, TypeVar

import azure.durable_functions as df

from functions.errors import StepError
from functions.models.durable import Activity
from functions.models.jobs import JobPatch, JobStatus, JobTarget, StepRecord, StepStatus
from functions.models.json import JsonObject
from functions.provisioning.contracts import JOB_UPDATE
from functions.provisioning.payloads import JobUpdate, TargetFields, VmTarget
from functions.provisioning.workflow_data import CleanupReport, CleanupStatus, Timing

__all__ = ["CanceledError", "Gen", "Output", "StepFlow", "run_job"]

Gen = Generator[Any, Any, Any]
P = TypeVar("P")
R = TypeVar("R")


class CanceledError(Exception):
    """The job was canceled: by a caller (no message), or for the reason given (an approval rejected or expired)."""


class StepFlow:
    """One workflow run: its plan, progress, retries and cancellation."""

    def __init__(
        self,
        context: df.DurableOrchestrationContext,
        *,
        job_id: str,
        timing: Timing,
        plan: list[str],
        host: str | None = None,
        vm_id: str | None = None,
    ) -> None:
        self.ctx = context
        self.job_id = job_id
        self.timing = timing
        self.plan = plan
        self.host = host
        self.vm_id = vm_id
        self.guest_state: str | None = None
        self.guest_agent: str | None = None  # the agent the guest data was published to (version 3 on)
        self.waiting_in: str | None = None  # the child orchestration a guest wait runs in (version 3 on)
        self.steps: list[StepRecord] = []
        self.job_target: JobTarget | None = None  # written with the next step start when it changes
        self.warnings: list[str] = []  # added to the job's warnings when it ends
        self.cancel = context.wait_for_external_event("cancel")

    # -- progress ------------------------------------------------------------------------------------------------

    def stamp(self) -> str:
        """The orchestration's current time (replay-safe)."""
        return str(self.ctx.current_utc_datetime.isoformat())

    def custom_status(self, step: str | None = None) -> JsonObject:
        """What callers see while the job runs."""
        step = step or (self.steps[-1].name if self.steps else "starting")
        index = self.plan.index(step) + 1 if step in self.plan else len(self.plan)
        extra = {"guest_agent": self.guest_agent, "waiting_in": self.waiting_in}
        return {
            "step": step,
            "index": index,
            "total": len(self.plan),
            "host": self.host,
            "vm_id": self.vm_id,
            "guest_state": self.guest_state,
            "steps": [s.to_json() for s in self.steps],
        } | {name: value for name, value in extra.items() if value}

    def publish_status(self, step: str | None = None) -> None:
        """Refresh the custom status."""
        self.ctx.set_custom_status(self.custom_status(step))

    def status(self, step: str, state: StepStatus) -> Gen:
        """Record a step transition; a step's start is also written to the job record."""
        position = next((i for i, s in enumerate(self.steps) if s.name == step), None)
        if position is None:
            self.steps.append(StepRecord(step, state, started=self.stamp()))
            position = len(self.steps) - 1
        finished = self.stamp() if state != StepStatus.RUNNING else self.steps[position].finished
        self.steps[position] = replace(self.steps[position], status=state, finished=finished)
        self.publish_status(step)
        if state == StepStatus.RUNNING:
            target, self.job_target = self.job_target, None
            patch = JobPatch(status=JobStatus.RUNNING, current_step=step, steps=tuple(self.steps), target=target)
            yield from self.job_update(patch)

    def note_operation(self, step: str, operation: JsonObject) -> None:
        """Name the host operation that runs ``step`` in the background (and its progress) in the step's record."""
        position = next(i for i, s in enumerate(self.steps) if s.name == step)
        self.steps[position] = replace(self.steps[position], operation=operation)
        self.publish_status(step)

    def step(self, name: str, activity: Activity[P, R], payload: P) -> Generator[Any, Any, R]:
        """Run one step: mark it running, call its activity, mark it done; returns the activity's result."""
        yield from self.status(name, StepStatus.RUNNING)
        result = yield from self.call(activity, payload)
        yield from self.status(name, StepStatus.SUCCEEDED)
        return result

    def job_update(self, patch: JobPatch) -> Gen:
        """Apply ``patch`` to the job record (retried like any step; not cancellable)."""
        yield from self.call(JOB_UPDATE, JobUpdate(self.job_id, patch), cancellable=False)

    def target(self) -> VmTarget:
        """The common activity payload: job, host and VM."""
        assert self.host is not None, "the host is known once placement ran"
        return VmTarget(job_id=self.job_id, host=self.host, vm_id=self.vm_id)

    def target_fields(self) -> TargetFields:
        """The fields of :meth:`target`, to build a step's own payload type from."""
        target = self.target()
        return {"job_id": target.job_id, "host": target.host, "vm_id": target.vm_id}

    # -- calling activities --------------------------------------------------------------------------------------

    def check_cancel(self) -> None:
        """Raise :class:`CanceledError` if a cancel event arrived."""
        if self.cancel.is_completed:
            raise CanceledError()

    def call(
        self, activity: Activity[P, R], payload: P, *, cancellable: bool = True, defer_cancel: bool = False
    ) -> Generator[Any, Any, R]:
        """Call ``activity``: transient failures retried with exponential backoff, permanent ones raised at once.

        ``defer_cancel``: a cancel that arrives meanwhile is recorded (:meth:`check_cancel` sees it later) but does not
        end this call, which returns its result (for a step whose outcome the compensation must know).
        """
        listen = cancellable or defer_cancel
        data = activity.payload.dump(payload)
        attempt = 0
        while True:
            attempt += 1
            task = self.ctx.call_activity(activity.name, data)
            try:
                if listen and not self.cancel.is_completed:
                    yield self.ctx.task_any([task, self.cancel])
                result = yield task  # never abandoned mid-way: wait for it, then act on a cancel
            except Exception as exc:
                error = StepError.from_exception(exc)
                if not error.transient or attempt >= self.timing.retry_attempts:
                    raise error from None
                delay = self.timing.retry_first_interval * (2 ** (attempt - 1))
                yield from self.wait(delay, cancellable=cancellable and not defer_cancel)
                continue
            if cancellable and not defer_cancel:
                self.check_cancel()
            return activity.result.load(result)

    def wait(self, seconds: float, *, cancellable: bool = True) -> Gen:
        """A durable timer; a cancel event ends it early with :class:`CanceledError`."""
        if cancellable:
            self.check_cancel()
        timer = self.ctx.create_timer(self.ctx.current_utc_datetime + timedelta(seconds=seconds))
        if not cancellable:
            yield timer
            return
        winner = yield self.ctx.task_any([timer, self.cancel])
        if winner is not timer:
            timer.cancel()
            raise CanceledError()


class Output(Protocol):
    """What a workflow body returns: its output, as JSON for the orchestration's output and the job's result."""

    def to_json(self) -> JsonObject:
        """The output document."""
        ...


def run_job(
    flow: StepFlow,
    body: Callable[[], Generator[Any, Any, Output]],
    compensate: Callable[[], Generator[Any, Any, CleanupReport]] | None = None,
    *,
    status: JobStatus = JobStatus.RUNNING,
) -> Generator[Any, Any, JsonObject]:
    """Run ``body``; on failure or cancel, compensate, record the outcome and fail with the original error.

    ``status`` is the job's status while it starts (``AwaitingApproval`` for a create that waits for one first).
    """
    start = JobPatch(status=status, started=flow.stamp(), steps=(), plan=tuple(flow.plan))
    yield from flow.job_update(start)
    try:
        output = yield from body()
    except Exception as exc:
        canceled = isinstance(exc, CanceledError)
        reason = str(exc) if canceled and str(exc) else "the job was canceled"
        error = StepError("Canceled", reason) if canceled else StepError.from_exception(exc)
        failed_step = next((s.name for s in reversed(flow.steps) if s.status == StepStatus.RUNNING), None)
        ended = StepStatus.CANCELED if canceled else StepStatus.FAILED
        flow.steps = [
            replace(s, status=ended, finished=flow.stamp()) if s.status == StepStatus.RUNNING else s for s in flow.steps
        ]
        flow.ctx.set_custom_status({**flow.custom_status(failed_step), "step": "compensating"})
        report = (yield from compensate()) if compensate is not None else CleanupReport(CleanupStatus.NOTHING)
        cleanup = report.to_json()
        status = JobStatus.CANCELED if canceled else JobStatus.FAILED
        yield from flow.job_update(
            JobPatch(
                status=status,
                failed_step=failed_step,
                error=error.job_error(),
                cleanup=cleanup,
                steps=tuple(flow.steps),
                finished=flow.stamp(),
                fields=frozenset({"failed_step"}) if failed_step is None else frozenset(),
            )
        )
        flow.ctx.set_custom_status({**flow.custom_status(failed_step), "step": str(status).lower(), "cleanup": cleanup})
        raise StepError(error.category, f"{error.message} (cleanup: {report.status})") from None
    result = output.to_json()
    final = JobPatch(
        status=JobStatus.SUCCEEDED,
        result=result,
        steps=tuple(flow.steps),
        finished=flow.stamp(),
        add_warnings=tuple(flow.warnings) or None,
    )
    yield from flow.job_update(final)
    flow.ctx.set_custom_status({**flow.custom_status(), "step": "done"})
    return result
