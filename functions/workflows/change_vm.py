"""The day-2 change orchestration: one change to an existing VM, between an optional shut down and start.

Plan: ``shutdown`` (only with ``restart``), the change's own step (named after the kind), ``start`` (only if the
shut down turned the VM off), ``refresh``. The change's step is one ``vm_change`` activity
(:mod:`functions.provisioning.change_steps`); a migration's step returns the VM's new host, which the refresh reads
along with the old one, so the inventory row moves with the VM.

Cancellation is honoured until the change starts: a cancel during the shut down ends the job ``Canceled`` after
starting the VM again; once the host step runs it is finished, so the job reports what was done. Compensation is
the power state: a VM this job turned off is started again whatever failed after, and the job's cleanup says so.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from functions.errors import StepError
from functions.models.jobs import StepStatus
from functions.provisioning import contracts as c
from functions.provisioning.changes import ChangeInput, ChangeOutput, ChangePayload, ChangeResult
from functions.provisioning.payloads import PowerAction, PowerPayload, VmSummary, VmTarget
from functions.provisioning.workflow_data import CleanupReport, CleanupStatus
from functions.workflows.flow import StepFlow, run_job

__all__ = ["bp", "change_plan"]

bp = df.Blueprint()


def change_plan(spec: ChangeInput) -> list[str]:
    """The steps a change runs, in order (``start`` is dropped at run time if the VM was off already)."""
    steps: list[str] = [spec.kind]
    if spec.restart:
        steps = ["shutdown", *steps, "start"]
    return [*steps, "refresh"]


def _power(flow: StepFlow, action: PowerAction, seconds: int = 120) -> PowerPayload:
    return PowerPayload(**flow.target_fields(), action=action, timeout_seconds=seconds)


@bp.function_name(name=c.CHANGE_VM.name)
@bp.orchestration_trigger(context_name="context")
def change_vm(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Apply one change to a VM (see the module docstring)."""
    spec = c.CHANGE_VM.input.load(context.get_input())
    flow = StepFlow(
        context, job_id=spec.job_id, timing=spec.timing, plan=change_plan(spec), host=spec.host, vm_id=spec.vm_id
    )
    turned_off = False  # the VM is off because of this job (and is started again whatever happens)
    restarted = False

    def body() -> Generator[Any, Any, ChangeOutput]:
        nonlocal turned_off, restarted
        if spec.restart:
            yield from flow.status("shutdown", StepStatus.RUNNING)
            power = yield from flow.call(
                c.VM_POWER, _power(flow, "shutdown", spec.shutdown_seconds), cancellable=False, defer_cancel=True
            )
            turned_off = power.changed
            yield from flow.status("shutdown", StepStatus.SUCCEEDED)
            flow.check_cancel()  # the last moment a cancel is honoured: nothing is changed yet
            if not turned_off:
                flow.plan = [step for step in flow.plan if step != "start"]
        yield from flow.status(spec.kind, StepStatus.RUNNING)
        payload = ChangePayload(**flow.target_fields(), kind=spec.kind, params=spec.params)
        changed: ChangeResult = yield from flow.call(c.VM_CHANGE, payload, cancellable=False, defer_cancel=True)
        yield from flow.status(spec.kind, StepStatus.SUCCEEDED)
        source = flow.host
        flow.host = changed.host
        if turned_off:
            yield from flow.status("start", StepStatus.RUNNING)
            yield from flow.call(c.VM_POWER, _power(flow, "start"), cancellable=False, defer_cancel=True)
            turned_off, restarted = False, True
            yield from flow.status("start", StepStatus.SUCCEEDED)
        yield from flow.status("refresh", StepStatus.RUNNING)
        if source is not None and source != changed.host:
            yield from flow.call(
                c.VM_REFRESH_AND_DESCRIBE, VmTarget(spec.job_id, source), cancellable=False, defer_cancel=True
            )
        vm: VmSummary | None = yield from flow.call(
            c.VM_REFRESH_AND_DESCRIBE, flow.target(), cancellable=False, defer_cancel=True
        )
        yield from flow.status("refresh", StepStatus.SUCCEEDED)
        return ChangeOutput(
            vm_id=spec.vm_id, host=changed.host, kind=spec.kind, result=changed.result, restarted=restarted, vm=vm
        )

    def compensate() -> Generator[Any, Any, CleanupReport]:
        if not turned_off:
            return CleanupReport(CleanupStatus.NOTHING)
        try:
            yield from flow.call(c.VM_POWER, _power(flow, "start"), cancellable=False, defer_cancel=True)
        except StepError as error:
            return CleanupReport(
                CleanupStatus.FAILED,
                error=error.job_error().to_json(),
                reason="the VM this job shut down could not be started again; start it by hand",
            )
        return CleanupReport(CleanupStatus.SUCCEEDED, actions=("started the VM this job had shut down",))

    return (yield from run_job(flow, body, compensate))
