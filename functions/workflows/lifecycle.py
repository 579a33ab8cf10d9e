"""Delete and power orchestrations.

Delete: turn the VM off if it runs, remove its cluster role, remove it with its disks and folder, drop it from the
inventory; a VM that is already gone is success. Power: start, stop (turn off), shut down (guest, with a timeout
and an optional fallback to turning off) and restart; an invalid transition fails the job at once with
``InvalidVmState`` (the API maps it to 409). Both refresh the host's inventory entry afterwards.
"""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from functions.workflows import vm_activities as act
from functions.workflows.flow import Gen, StepFlow, Timing, run_job

__all__ = ["POWER_ACTIONS", "bp"]

bp = df.Blueprint()
POWER_ACTIONS = ("start", "stop", "shutdown", "restart")


def _flow(context: df.DurableOrchestrationContext, plan: list[str]) -> tuple[StepFlow, dict[str, Any]]:
    spec: dict[str, Any] = context.get_input()
    flow = StepFlow(
        context,
        job_id=str(spec["job_id"]),
        timing=Timing.from_json(dict(spec.get("timing") or {})),
        plan=plan,
        host=spec["host"],
        vm_id=spec["vm_id"],
    )
    return flow, spec


@bp.orchestration_trigger(context_name="context")
def delete_vm(context: df.DurableOrchestrationContext) -> Gen:
    """Delete one VM and everything that belongs to it."""
    flow, _ = _flow(context, ["remove", "refresh"])

    def body() -> Gen:
        removed = yield from flow.step("remove", act.vm_remove, flow.target())
        yield from flow.status("refresh", "Running")
        yield from flow.call(act.vm_refresh_and_describe, flow.target(vm_id=None), cancellable=False)
        yield from flow.status("refresh", "Succeeded")
        return {"vm_id": flow.vm_id, "host": flow.host, "existed": removed["existed"], "name": removed["name"]}

    return (yield from run_job(flow, body))


@bp.orchestration_trigger(context_name="context")
def power_vm(context: df.DurableOrchestrationContext) -> Gen:
    """Run one power action on a VM."""
    flow, spec = _flow(context, ["power", "refresh"])
    payload = flow.target(
        action=spec["action"],
        timeout_seconds=spec.get("timeout_seconds", 120),
        force_after_timeout=bool(spec.get("force_after_timeout", False)),
    )

    def body() -> Gen:
        result = yield from flow.step("power", act.vm_power, payload)
        yield from flow.status("refresh", "Running")
        vm = yield from flow.call(act.vm_refresh_and_describe, flow.target(), cancellable=False)
        yield from flow.status("refresh", "Succeeded")
        return {"vm_id": flow.vm_id, "host": flow.host, "action": spec["action"], "power": result, "vm": vm}

    return (yield from run_job(flow, body))
