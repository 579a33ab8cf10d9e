"""The create workflow's guest waits (version 3 on): a sub-orchestration that polls the guest until it is ready.

A guest wait can last 40 minutes at the default timings, and every poll adds an activity, a timer and two episodes
to the history of whoever polls — which Azure Storage replays in full at every episode. So the create hands each
wait to a child orchestration (``<job id>:<step>``) that:

- polls ``vm_guest_status`` (a :class:`~functions.provisioning.guest_payloads.GuestCheck`), backing the interval
  off while nothing changes (up to :data:`MAX_BACKOFF` times the configured one) and starting over when the state
  changes; a poll that reads no state (agents rewrite their pool while they apply; a guest restarts) keeps the last
  one seen, so the job's guest state and log do not flicker to none;
- ends when the state is wanted (for the key: this run's key and a known agent), fails on ``provisioningfailed``
  or at the deadline, and — for the apply wait — completes an agent that never reports (HLVMM semantics) once the
  guest's integration services confirm the requested host name and address, with a warning;
- continues as new every :data:`POLLS_PER_GENERATION` polls, so its own history stays small too.

The create's history then holds two events per wait. The parent stops waiting on a cancel (the jobs service sends
the child the cancel as well); from create version 5 it then lets the child end, for at most :data:`CANCEL_GRACE`
seconds, before it compensates, so no poll of the child runs against a VM the compensation is removing. Pure, like
every orchestrator: time from the context, settings from the input.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df

from functions.errors import StepError
from functions.guest.capabilities import completion_overdue
from functions.provisioning import contracts as c
from functions.provisioning.guest_payloads import GuestStatusResult, GuestWaitInput, GuestWaitOutput
from functions.workflows.flow import CanceledError, StepFlow

__all__ = ["CANCEL_GRACE", "MAX_BACKOFF", "POLLS_PER_GENERATION", "bp", "child_id", "wait_for_guest"]

bp = df.Blueprint()

POLLS_PER_GENERATION = 12
"""Polls before the wait continues as new (each poll adds about eight history events)."""
MAX_BACKOFF = 6.0
"""The poll interval grows by half each unchanged poll, up to this many times the configured interval."""
CANCEL_GRACE = 60.0
"""How long a canceled parent waits for its guest wait to end (a poll in flight is one short WinRM call) before it
compensates anyway. A child the cancel did not reach keeps polling until then, and ends at its first poll after the
compensation removed the VM."""


def child_id(job_id: str, step: str) -> str:
    """The wait's instance id: the job's, then the step (``:`` is allowed in instance ids; ``/`` is not)."""
    return f"{job_id}:{step}"


def wait_for_guest(
    flow: StepFlow, spec: GuestWaitInput, *, let_end: bool = False
) -> Generator[Any, Any, GuestWaitOutput]:
    """The parent's side: run the wait as a child orchestration; a cancel ends the wait.

    ``let_end`` (create version 5 on): after a cancel, the child is given up to :data:`CANCEL_GRACE` seconds to end
    before :class:`CanceledError` is raised; earlier versions raise at once, as their history recorded.
    """
    flow.check_cancel()
    instance = child_id(flow.job_id, spec.step)
    flow.waiting_in = instance
    flow.publish_status()
    task = flow.ctx.call_sub_orchestrator(c.GUEST_WAIT.name, c.GUEST_WAIT.input.dump(spec), instance)
    try:
        winner = yield flow.ctx.task_any([task, flow.cancel])
        if winner is not task:
            if let_end:
                yield from _let_end(flow, task)
            raise CanceledError()
        try:
            result = yield task
        except Exception as exc:
            raise StepError.from_exception(exc) from None
    finally:
        flow.waiting_in = None
    output = GuestWaitOutput.from_json(result)
    flow.guest_state = output.status.state
    if output.warning:
        flow.warnings.append(output.warning)
    return output


def _let_end(flow: StepFlow, task: Any) -> Generator[Any, Any, None]:
    """Wait until the canceled child ``task`` ends (however it ends), or :data:`CANCEL_GRACE` passes."""
    timer = flow.ctx.create_timer(flow.ctx.current_utc_datetime + timedelta(seconds=CANCEL_GRACE))
    winner = yield flow.ctx.task_any([task, timer])
    if winner is not timer:
        timer.cancel()


def _arrived(status: GuestStatusResult, wanted: tuple[str, ...]) -> bool:
    if status.state not in wanted:
        return False
    if status.state != "waitingforaeskey":
        return True
    return status.key_usable and status.agent not in (None, "unknown")  # this run's key, a known agent


def _silent_but_confirmed(spec: GuestWaitInput, status: GuestStatusResult, moment: datetime) -> str | None:
    """The warning for an agent that does not report but whose guest shows what was asked, else ``None``."""
    if spec.published_at is None or not status.confirmed:
        return None
    waited = (moment - datetime.fromisoformat(spec.published_at)).total_seconds()
    if not completion_overdue(status.state, waited):
        return None
    also = " and address" if spec.check.ipv4 else ""
    return f"the guest's agent does not report completion; its integration services confirm the host name{also}"


def _poll(flow: StepFlow, spec: GuestWaitInput) -> Generator[Any, Any, GuestWaitOutput | GuestWaitInput]:
    """Up to one generation of polls: the output when the wait ended, else the input of the next generation."""
    deadline = datetime.fromisoformat(spec.deadline)
    interval = spec.interval
    for _ in range(POLLS_PER_GENERATION):
        check = replace(spec.check, last_state=spec.guest_state)
        status: GuestStatusResult = yield from flow.call(c.VM_GUEST_STATUS, check)
        key_seen = status.state == "waitingforaeskey" and status.key_usable
        spec = replace(spec, check=replace(spec.check, state_seen_before=key_seen))
        if status.state is not None and status.state != spec.guest_state:  # no state read: no news
            spec = replace(spec, guest_state=status.state)
            interval = spec.timing.poll_interval  # something moved: look again soon
            flow.guest_state = status.state
            flow.publish_status()
        if _arrived(status, spec.wanted):
            return GuestWaitOutput(status)
        if status.state == "provisioningfailed":
            raise StepError("GuestProvisioningFailed", f"the guest reported: {status.error_summary or 'no summary'}")
        moment = flow.ctx.current_utc_datetime
        warning = _silent_but_confirmed(spec, status, moment)
        if warning:
            return GuestWaitOutput(status, warning)
        if moment >= deadline:
            last = f"last guest state: {status.state or 'none'}"
            if status.error_summary:
                last += f", guest error: {status.error_summary}"
            timeout = (deadline - _started(spec, deadline)).total_seconds()
            raise StepError("GuestTimeout", f"waited {timeout:g} s for {spec.what}; {last}")
        remaining = (deadline - moment).total_seconds()
        yield from flow.wait(max(0.1, min(interval, remaining)))
        interval = min(interval * 1.5, spec.timing.poll_interval * MAX_BACKOFF)
    return replace(spec, interval=interval, generation=spec.generation + 1)


def _started(spec: GuestWaitInput, deadline: datetime) -> datetime:
    timeout = spec.timing.apply_timeout if spec.step == "wait_for_apply" else spec.timing.key_timeout
    return deadline - timedelta(seconds=timeout)


@bp.function_name(name=c.GUEST_WAIT.name)
@bp.orchestration_trigger(context_name="context")
def create_vm_guest_wait(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Wait for the guest (see the module docstring); continues as new every few polls."""
    spec = c.GUEST_WAIT.input.load(context.get_input())
    check = spec.check
    flow = StepFlow(context, job_id=check.job_id, timing=spec.timing, plan=[spec.step], host=check.host)
    flow.vm_id = check.vm_id
    flow.guest_state = spec.guest_state
    outcome = yield from _poll(flow, spec)
    if isinstance(outcome, GuestWaitInput):
        context.continue_as_new(c.GUEST_WAIT.input.dump(outcome))
        return None
    return outcome.to_json()
