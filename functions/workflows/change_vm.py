"""The day-2 change orchestration: one change to an existing VM, between an optional shut down and start.

Plan: ``shutdown`` (only with ``restart``), the change's own step (named after the kind), ``start`` (only if the
shut down turned the VM off), ``refresh`` (a refresh that fails once the change is made is a warning on a job that
succeeded: the next inventory sync catches up). The change's step is one ``vm_change`` activity
(:mod:`functions.provisioning.change_steps`); a migration's step returns the VM's new host, which the refresh reads
along with the old one, so the inventory row moves with the VM.

Cancellation is honoured until the change starts: a cancel during the shut down ends the job ``Canceled`` after
starting the VM again; once the host step runs it is finished, so the job reports what was done. Compensation puts
back what the job changed and did not finish: a disk or adapter that an ``add_disk`` or ``add_nic`` step may have
made before it failed is removed (by the file and name that are the job's own), and a VM this job turned off is
started again whatever failed after; a resize or an adapter change that failed half-way gets the values the VM had
back; a migration that Move-VM failed part-way gets its partial copy removed from the destination. The job's cleanup
says what was done.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from functions.errors import StepError
from functions.models.jobs import StepStatus
from functions.models.json import JsonObject
from functions.provisioning import contracts as c
from functions.provisioning.changes import ChangeInput, ChangeKind, ChangeOutput, ChangePayload, ChangeResult
from functions.provisioning.payloads import PowerAction, PowerPayload, VmSummary, VmTarget
from functions.provisioning.workflow_data import CleanupReport, CleanupStatus
from functions.workflows.flow import StepFlow, run_job

__all__ = ["bp", "change_plan", "undo"]

bp = df.Blueprint()


def change_plan(spec: ChangeInput) -> list[str]:
    """The steps a change runs, in order (``start`` is dropped at run time if the VM was off already)."""
    steps: list[str] = [spec.kind]
    if spec.restart:
        steps = ["shutdown", *steps, "start"]
    return [*steps, "refresh"]


def undo(spec: ChangeInput, failure: str | None = None) -> tuple[ChangeKind, JsonObject] | None:
    """The change that removes what a failed step of ``spec`` may have made (None: it makes nothing to remove).

    ``failure`` is the step's error category: a migration is undone only when Move-VM itself failed
    (``ScriptFailed``), after its checks found the destination folder empty — never when a check refused it, nor when
    the move's outcome is unknown (it may still be under way).
    """
    params = spec.params
    if spec.kind == "migrate_vm":
        if params.get("clustered") or not params.get("storage_path") or failure != "ScriptFailed":
            return None
        return "discard_migration_copy", {"vm_name": params.get("vm_name"), "storage_path": params["storage_path"]}
    if spec.kind == "add_disk" and spec.params.get("path"):
        return "remove_disk", {"disk_id": "", "path": spec.params["path"]}
    if spec.kind == "add_nic" and spec.params.get("name"):
        return "remove_nic", {"nic_id": "", "name": spec.params["name"]}
    previous = spec.params.get("previous")
    if spec.kind == "update_vm" and previous:  # the processor count, memory and notes it had
        return "update_vm", dict(previous)
    if spec.kind == "update_nic" and isinstance(previous, dict):  # the switch and VLAN it had
        return "update_nic", {"nic_id": spec.params["nic_id"], **previous}
    return None


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
    changing = False  # the host step ran and did not succeed: it may have left something to remove
    failure: str | None = None  # the category the host step failed with

    def body() -> Generator[Any, Any, ChangeOutput]:
        nonlocal turned_off, restarted, changing, failure
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
        changing = True
        try:
            changed: ChangeResult = yield from flow.call(c.VM_CHANGE, payload, cancellable=False, defer_cancel=True)
        except StepError as error:
            failure = error.category
            raise
        changing = False
        yield from flow.status(spec.kind, StepStatus.SUCCEEDED)
        source = flow.host
        flow.host = changed.host
        if turned_off:
            yield from flow.status("start", StepStatus.RUNNING)
            yield from flow.call(c.VM_POWER, _power(flow, "start"), cancellable=False, defer_cancel=True)
            turned_off, restarted = False, True
            yield from flow.status("start", StepStatus.SUCCEEDED)
        yield from flow.status("refresh", StepStatus.RUNNING)
        vm: VmSummary | None = None
        try:  # the change is made: a refresh that fails is a warning, never a failed job
            if source is not None and source != changed.host:
                yield from flow.call(
                    c.VM_REFRESH_AND_DESCRIBE, VmTarget(spec.job_id, source), cancellable=False, defer_cancel=True
                )
            vm = yield from flow.call(c.VM_REFRESH_AND_DESCRIBE, flow.target(), cancellable=False, defer_cancel=True)
            yield from flow.status("refresh", StepStatus.SUCCEEDED)
        except StepError as error:
            flow.warnings.append(
                f"the inventory was not refreshed after the change ({error.category}); the next sync is"
            )
            yield from flow.status("refresh", StepStatus.FAILED)
        return ChangeOutput(
            vm_id=spec.vm_id, host=changed.host, kind=spec.kind, result=changed.result, restarted=restarted, vm=vm
        )

    def compensate() -> Generator[Any, Any, CleanupReport]:
        actions: list[str] = []
        failures: list[tuple[StepError, str]] = []
        reverse = undo(spec, failure) if changing else None
        if reverse is not None:
            kind, params = reverse
            where = str(spec.params["destination"]) if kind == "discard_migration_copy" else flow.host
            payload = ChangePayload(
                job_id=spec.job_id, host=where or spec.host, vm_id=spec.vm_id, kind=kind, params=params
            )
            try:
                removed = yield from flow.call(c.VM_CHANGE, payload, cancellable=False, defer_cancel=True)
                actions.append(_undone(spec, removed))
            except StepError as error:
                undoing = "put back" if kind == spec.kind else "removed"
                failures.append((error, f"what the {spec.kind} step changed could not be {undoing} ({kind} failed)"))
        if turned_off:
            try:
                yield from flow.call(c.VM_POWER, _power(flow, "start"), cancellable=False, defer_cancel=True)
                actions.append("started the VM this job had shut down")
            except StepError as error:
                failures.append((error, "the VM this job shut down could not be started again; start it by hand"))
        if failures:
            first = failures[0][0].job_error().to_json()
            reason = "; ".join(reason for _, reason in failures)
            return CleanupReport(CleanupStatus.FAILED, actions=tuple(actions) or None, error=first, reason=reason)
        if not actions:
            return CleanupReport(CleanupStatus.NOTHING)
        return CleanupReport(CleanupStatus.SUCCEEDED, actions=tuple(actions))

    return (yield from run_job(flow, body, compensate))


def _undone(spec: ChangeInput, removed: ChangeResult) -> str:
    """What removing the failed step's leftovers did, in words."""
    result = removed.result
    if spec.kind == "migrate_vm":
        where = f"{spec.params.get('storage_path')} on {spec.params.get('destination')}"
        if result.get("warning"):
            return f"left the partial copy in {where}: {result['warning']}"
        if result.get("existed"):
            return f"removed the partial copy the move had left in {where} ({result.get('files_deleted')} files)"
        return f"the move had left nothing in {where}"
    if spec.kind == "add_disk":
        what = "detached and deleted" if result.get("existed") else "deleted" if result.get("file_deleted") else None
        path = spec.params.get("path")
        return f"{what} the disk file {path} the step had made" if what else f"the step had left no disk at {path}"
    if spec.kind == "add_nic":
        name = spec.params.get("name")
        return (
            f"removed the adapter {name} the step had added" if result.get("existed") else f"no adapter {name} was left"
        )
    return (
        "put back the settings the VM had before"
        if spec.kind == "update_vm"
        else "put back the adapter's switch and VLAN"
    )
