"""Delete and power orchestrations.

Delete: turn the VM off if it runs, remove its cluster role, remove it with its disks and folder, drop it from the
inventory; a VM that is already gone is success. Power: start, stop (turn off), shut down (guest, with a timeout
and an optional fallback to turning off) and restart; an invalid transition fails the job at once with
``InvalidVmState`` (the API maps it to 409). Both refresh the host's inventory entry afterwards.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace
from typing import Any

import azure.durable_functions as df

from functions.models.jobs import StepStatus
from functions.provisioning import contracts as c
from functions.provisioning.payloads import PowerPayload
from functions.provisioning.workflow_data import DeleteOutput, LifecycleInput, PowerOutput
from functions.workflows.flow import Gen, StepFlow, run_job

__all__ = ["bp"]

bp = df.Blueprint()


def _flow(context: df.DurableOrchestrationContext, spec: LifecycleInput, plan: list[str]) -> StepFlow:
    return StepFlow(context, job_id=spec.job_id, timing=spec.timing, plan=plan, host=spec.host, vm_id=spec.vm_id)


@bp.function_name(name=c.DELETE_VM.name)
@bp.orchestration_trigger(context_name="context")
def delete_vm(context: df.DurableOrchestrationContext) -> Gen:
    """Delete one VM and everything that belongs to it."""
    spec = c.DELETE_VM.input.load(context.get_input())
    flow = _flow(context, spec, ["remove", "refresh"])

    def body() -> Generator[Any, Any, DeleteOutput]:
        removed = yield from flow.step("remove", c.VM_REMOVE, flow.target())
        yield from flow.status("refresh", StepStatus.RUNNING)
        yield from flow.call(c.VM_REFRESH_AND_DESCRIBE, replace(flow.target(), vm_id=None), cancellable=False)
        yield from flow.status("refresh", StepStatus.SUCCEEDED)
        return DeleteOutput(vm_id=flow.vm_id, host=flow.host, existed=removed.existed, name=removed.name)

    return (yield from run_job(flow, body))


@bp.function_name(name=c.POWER_VM.name)
@bp.orchestration_trigger(context_name="context")
def power_vm(context: df.DurableOrchestrationContext) -> Gen:
    """Run one power action on a VM."""
    spec = c.POWER_VM.input.load(context.get_input())
    flow = _flow(context, spec, ["power", "refresh"])
    action = spec.action or "start"
    payload = PowerPayload(
        **flow.target_fields(),
        action=action,
        timeout_seconds=spec.timeout_seconds if spec.timeout_seconds is not None else 120,
        force_after_timeout=bool(spec.force_after_timeout),
    )

    def body() -> Generator[Any, Any, PowerOutput]:
        result = yield from flow.step("power", c.VM_POWER, payload)
        yield from flow.status("refresh", StepStatus.RUNNING)
        vm = yield from flow.call(c.VM_REFRESH_AND_DESCRIBE, flow.target(), cancellable=False)
        yield from flow.status("refresh", StepStatus.SUCCEEDED)
        return PowerOutput(vm_id=flow.vm_id, host=flow.host, action=action, power=result, vm=vm)

    return (yield from run_job(flow, body))
