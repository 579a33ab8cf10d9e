"""A create's wait for an Admin's approval: ``AwaitingApproval`` until a decision, a cancel or the deadline.

The wait is one durable timer raced against the external event :data:`APPROVAL_EVENT` and the job's cancel event, so
it costs no activity while it waits and survives restarts. The job record carries ``approval`` (why, the deadline,
then the decision, who made it, when and why) and its status says ``AwaitingApproval`` while the wait lasts; its URL
keeps answering 202, so a Logic App polling it simply waits. Approved: the create goes on. Rejected, or no decision
by the deadline: :class:`CanceledError` with the reason (nothing has been touched yet: placement only reads). The
decision comes from the approve and reject routes, which check who may decide; the first event wins.

Deterministic: time from the context, the policy from the input.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from functions.models.jobs import Approval, JobPatch, JobStatus, Requester, StepRecord, StepStatus
from functions.provisioning.approvals import APPROVAL_EVENT, ApprovalDecision
from functions.workflows.flow import CanceledError, Gen, StepFlow

__all__ = ["STEP", "wait_for_approval"]

STEP = "approval"
"""The step's name in a create's plan."""


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:g} h" if seconds >= 3600 else f"{seconds:g} s"


def wait_for_approval(flow: StepFlow, required_by: str, timeout_seconds: float) -> Gen:
    """Wait for the decision on a create that ``required_by`` says needs one (see the module docstring)."""
    ctx = flow.ctx
    deadline = ctx.current_utc_datetime + timedelta(seconds=timeout_seconds)
    approval = Approval(required=True, required_by=required_by, deadline=deadline.isoformat())
    flow.steps.append(StepRecord(STEP, StepStatus.RUNNING, started=flow.stamp()))
    flow.publish_status(STEP)
    patch = JobPatch(status=JobStatus.AWAITING_APPROVAL, current_step=STEP, steps=tuple(flow.steps), approval=approval)
    yield from flow.job_update(patch)
    flow.check_cancel()
    event = ctx.wait_for_external_event(APPROVAL_EVENT)
    timer = ctx.create_timer(deadline)
    winner: Any = yield ctx.task_any([event, timer, flow.cancel])
    if winner is flow.cancel:
        timer.cancel()
        raise CanceledError()
    if winner is timer:
        reason = f"no decision on the approval within {_hours(timeout_seconds)}"
        decided = replace(approval, decision="expired", decided_at=flow.stamp(), reason=reason)
        yield from _record(flow, decided, StepStatus.CANCELED)
        raise CanceledError(reason)
    timer.cancel()
    decision = ApprovalDecision.from_json(event.result or {})
    by = Requester.from_json(decision.by)
    decided = replace(
        approval,
        decision=decision.decision,
        decided_by=by,
        decided_at=decision.at or flow.stamp(),
        reason=decision.reason,
    )
    if decision.decision != "approved":
        yield from _record(flow, decided, StepStatus.CANCELED)
        who = by.name or by.id or "an administrator"
        raise CanceledError(f"the create was rejected by {who}" + (f": {decision.reason}" if decision.reason else ""))
    yield from _record(flow, decided, StepStatus.SUCCEEDED)


def _record(flow: StepFlow, approval: Approval, state: StepStatus) -> Gen:
    """The decision in the job record; the step ends with it (a rejection's job ends ``Canceled`` right after)."""
    position = next(i for i, s in enumerate(flow.steps) if s.name == STEP)
    flow.steps[position] = replace(flow.steps[position], status=state, finished=flow.stamp())
    flow.publish_status(STEP)
    status = JobStatus.RUNNING if state == StepStatus.SUCCEEDED else None
    yield from flow.job_update(JobPatch(status=status, steps=tuple(flow.steps), approval=approval))
