"""The machinery every VM workflow shares: steps with progress, retries, cancellation and the job record.

:class:`StepFlow` wraps an orchestration context. ``call`` runs an activity, retrying transient failures with
exponential backoff (durable timers) and failing at once on permanent ones; it notices a ``cancel`` event but
never abandons an activity mid-way. ``status`` records step transitions in custom status (live progress) and step
starts in the job record. :func:`run_job` runs a workflow body, and on failure or cancellation runs its
compensation, writes the final job record and fails the orchestration with the original error. Everything here is
deterministic: time comes from the context, settings from the input.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from functions.workflows import vm_activities as act
from functions.workflows.errors import StepError

__all__ = ["CanceledError", "Gen", "StepFlow", "Timing", "run_job"]

Gen = Generator[Any, Any, Any]


class CanceledError(Exception):
    """The job was canceled by a caller."""


@dataclass(frozen=True)
class Timing:
    """Deadlines and intervals (from settings, resolved by the starter — orchestrators cannot read settings)."""

    key_timeout: float = 600
    apply_timeout: float = 1800
    poll_interval: float = 5
    publish_delay: float = 30
    retry_attempts: int = 4
    retry_first_interval: float = 5
    slot_retry_interval: float = 5
    clone_slots: int = 2

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Timing:
        """Build from the input's ``timing`` object (unknown keys ignored)."""
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


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
        self.steps: list[dict[str, Any]] = []
        self.job_target: dict[str, Any] | None = None  # written with the next step start when it changes
        self.cancel = context.wait_for_external_event("cancel")

    # -- progress ------------------------------------------------------------------------------------------------

    def stamp(self) -> str:
        """The orchestration's current time (replay-safe)."""
        return str(self.ctx.current_utc_datetime.isoformat())

    def custom_status(self, step: str | None = None) -> dict[str, Any]:
        """What callers see while the job runs."""
        step = step or (self.steps[-1]["name"] if self.steps else "starting")
        index = self.plan.index(step) + 1 if step in self.plan else len(self.plan)
        return {
            "step": step,
            "index": index,
            "total": len(self.plan),
            "host": self.host,
            "vm_id": self.vm_id,
            "guest_state": self.guest_state,
            "steps": self.steps,
        }

    def publish_status(self, step: str | None = None) -> None:
        """Refresh the custom status."""
        self.ctx.set_custom_status(self.custom_status(step))

    def status(self, step: str, state: str) -> Gen:
        """Record a step transition; a step's start is also written to the job record."""
        entry = next((s for s in self.steps if s["name"] == step), None)
        if entry is None:
            entry = {"name": step, "status": state, "started": self.stamp(), "finished": None}
            self.steps.append(entry)
        entry["status"] = state
        if state != "Running":
            entry["finished"] = self.stamp()
        self.publish_status(step)
        if state == "Running":
            patch: dict[str, Any] = {"status": "Running", "current_step": step, "steps": self.steps}
            if self.job_target is not None:
                patch["target"], self.job_target = self.job_target, None
            yield from self.job_update(patch)

    def step(self, name: str, activity: Any, payload: dict[str, Any]) -> Gen:
        """Run one step: mark it running, call its activity, mark it done; returns the activity's result."""
        yield from self.status(name, "Running")
        result = yield from self.call(activity, payload)
        yield from self.status(name, "Succeeded")
        return result

    def job_update(self, patch: dict[str, Any]) -> Gen:
        """Merge ``patch`` into the job record (retried like any step; not cancellable)."""
        yield from self.call(act.job_update, {"job_id": self.job_id, "patch": patch}, cancellable=False)

    def target(self, **extra: Any) -> dict[str, Any]:
        """The common activity payload: job, host and VM."""
        return {"job_id": self.job_id, "host": self.host, "vm_id": self.vm_id, **extra}

    # -- calling activities --------------------------------------------------------------------------------------

    def check_cancel(self) -> None:
        """Raise :class:`CanceledError` if a cancel event arrived."""
        if self.cancel.is_completed:
            raise CanceledError()

    def call(self, activity: Any, payload: dict[str, Any], *, cancellable: bool = True) -> Gen:
        """Call ``activity``: transient failures retried with exponential backoff, permanent ones raised at once."""
        attempt = 0
        while True:
            attempt += 1
            task = self.ctx.call_activity(activity, payload)
            try:
                if cancellable and not self.cancel.is_completed:
                    yield self.ctx.task_any([task, self.cancel])
                result = yield task  # never abandoned mid-way: wait for it, then act on a cancel
            except Exception as exc:
                error = StepError.from_exception(exc)
                if not error.transient or attempt >= self.timing.retry_attempts:
                    raise error from None
                delay = self.timing.retry_first_interval * (2 ** (attempt - 1))
                yield from self.wait(delay, cancellable=cancellable)
                continue
            if cancellable:
                self.check_cancel()
            return result

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


def run_job(
    flow: StepFlow, body: Callable[[], Gen], compensate: Callable[[], Gen] | None = None
) -> Generator[Any, Any, dict[str, Any]]:
    """Run ``body``; on failure or cancel, compensate, record the outcome and fail with the original error."""
    yield from flow.job_update({"status": "Running", "started": flow.stamp(), "steps": []})
    try:
        result: dict[str, Any] = yield from body()
    except Exception as exc:
        canceled = isinstance(exc, CanceledError)
        error = StepError("Canceled", "the job was canceled") if canceled else StepError.from_exception(exc)
        failed_step = next((s["name"] for s in reversed(flow.steps) if s["status"] == "Running"), None)
        for step in flow.steps:
            if step["status"] == "Running":
                step["status"] = "Canceled" if canceled else "Failed"
                step["finished"] = flow.stamp()
        flow.ctx.set_custom_status({**flow.custom_status(failed_step), "step": "compensating"})
        cleanup = (yield from compensate()) if compensate is not None else {"status": "Nothing to clean up"}
        status = "Canceled" if canceled else "Failed"
        yield from flow.job_update(
            {
                "status": status,
                "failed_step": failed_step,
                "error": error.to_json(),
                "cleanup": cleanup,
                "steps": flow.steps,
                "finished": flow.stamp(),
            }
        )
        flow.ctx.set_custom_status({**flow.custom_status(failed_step), "step": status.lower(), "cleanup": cleanup})
        raise StepError(error.category, f"{error.message} (cleanup: {cleanup.get('status')})") from None
    yield from flow.job_update({"status": "Succeeded", "result": result, "steps": flow.steps, "finished": flow.stamp()})
    flow.ctx.set_custom_status({**flow.custom_status(), "step": "done"})
    return result
