"""The create-VM orchestration: from a validated request to a running, configured VM — or nothing left behind.

Steps (each an activity; the plan skips what the request does not need)::

    place → preflight → [clone slot] prepare disk → create VM → start + announce
      → wait for the guest key (durable monitor loop) → publish the encrypted data, settle delay (durable timer)
      → signal published → wait for the guest to apply (monitor loop) → cluster → eject ISO → refresh inventory

Pure: no I/O, clock, settings or random ids. A failure or cancellation after something may exist on the host is
compensated in reverse order (unless the request set ``keep_on_failure``); the job record names the failed step,
the error and the cleanup result. Guest secrets travel sealed and are opened only inside the publish activity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from functions.workflows import vm_activities as act
from functions.workflows.errors import StepError
from functions.workflows.flow import CanceledError, Gen, StepFlow, Timing, run_job
from functions.workflows.throttle import CLONE_SLOTS_ENTITY

__all__ = ["CreateSpec", "bp", "create_plan"]

bp = df.Blueprint()


@dataclass(frozen=True)
class CreateSpec:
    """The orchestration input: the public request (secrets masked), the sealed guest data and timing."""

    job_id: str
    request: dict[str, Any]
    os_family: str
    sealed_guest: str | None
    timing: Timing

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CreateSpec:
        """Parse the input document."""
        return cls(
            job_id=str(data["job_id"]),
            request=dict(data["request"]),
            os_family=str(data["os_family"]),
            sealed_guest=data.get("sealed_guest"),
            timing=Timing.from_json(dict(data.get("timing") or {})),
        )


def create_plan(request: dict[str, Any], guest: bool) -> list[str]:
    """The steps a request needs, in order."""
    steps = [] if request.get("host") else ["place"]
    steps += ["preflight", "prepare_disk", "create_vm", "start"]
    if guest:
        steps += ["wait_for_key", "publish", "signal", "wait_for_apply"]
    if request.get("clustered"):
        steps.append("cluster")
    if guest:
        steps.append("eject_iso")
    return [*steps, "refresh"]


class _Create:
    """One create run on top of :class:`StepFlow`."""

    def __init__(self, context: df.DurableOrchestrationContext, spec: CreateSpec) -> None:
        self.spec = spec
        self.request = spec.request
        plan = create_plan(spec.request, spec.sealed_guest is not None)
        self.flow = StepFlow(context, job_id=spec.job_id, timing=spec.timing, plan=plan, host=spec.request.get("host"))
        self.host_touched = False  # a folder, disk or VM of this job may exist on the host
        self.clustered = False

    def run(self) -> Gen:
        flow, request, timing = self.flow, self.request, self.spec.timing
        if "place" in flow.plan:
            placed = yield from flow.step("place", act.vm_place, {"job_id": self.spec.job_id, "request": request})
            flow.host = placed["host"]
            flow.job_target = {"host": flow.host, "name": request["name"], "vm_id": None}
        preflight = yield from flow.step("preflight", act.vm_preflight, flow.target(request=request))

        yield from flow.status("prepare_disk", "Running")
        yield from self._acquire_clone_slot()
        self.host_touched = True
        try:
            disk = yield from flow.call(
                act.vm_prepare_disk, flow.target(request=request, volume=preflight.get("target_volume"))
            )
        except Exception:  # not `finally`: a suspended generator must not yield while it is being closed
            yield from self._release_clone_slot()
            raise
        yield from self._release_clone_slot()
        yield from flow.status("prepare_disk", "Succeeded")

        created = yield from flow.step(
            "create_vm", act.vm_create, flow.target(request=request, os_family=self.spec.os_family, disk=disk)
        )
        flow.vm_id = created["vm_id"]
        flow.job_target = {"host": flow.host, "name": request["name"], "vm_id": flow.vm_id}  # so ?vm_id= finds it
        yield from flow.step("start", act.vm_start_and_announce, flow.target(announce="wait_for_key" in flow.plan))

        if "wait_for_key" in flow.plan:
            yield from flow.status("wait_for_key", "Running")
            yield from self._wait_guest({"waitingforaeskey"}, timing.key_timeout, "the guest's provisioning key")
            yield from flow.status("wait_for_key", "Succeeded")

            yield from flow.status("publish", "Running")
            publish = flow.target(sealed_guest=self.spec.sealed_guest, os_family=self.spec.os_family)
            yield from flow.call(act.vm_publish_guest_data, publish)
            yield from flow.wait(timing.publish_delay)
            yield from flow.status("publish", "Succeeded")

            yield from flow.step("signal", act.vm_signal_published, flow.target())

            yield from flow.status("wait_for_apply", "Running")
            yield from self._wait_guest({"provisioningapplied"}, timing.apply_timeout, "the guest to apply its data")
            yield from flow.status("wait_for_apply", "Succeeded")

        if "cluster" in flow.plan:
            self.clustered = True
            yield from flow.step("cluster", act.vm_cluster_add, flow.target())
        if "eject_iso" in flow.plan:
            yield from flow.step("eject_iso", act.vm_finish_guest, flow.target())
        yield from flow.status("refresh", "Running")
        vm = yield from flow.call(act.vm_refresh_and_describe, flow.target(), cancellable=False)
        yield from flow.status("refresh", "Succeeded")
        return {"vm_id": flow.vm_id, "host": flow.host, "name": request["name"], "vm": vm}

    def _wait_guest(self, wanted: set[str], timeout: float, what: str) -> Gen:
        """Monitor loop: poll the guest state until ``wanted``, a failure or the deadline (no connection held)."""
        flow = self.flow
        deadline = flow.ctx.current_utc_datetime + timedelta(seconds=timeout)
        while True:
            status = yield from flow.call(act.vm_guest_status, flow.target())
            state = status.get("state")
            if state != flow.guest_state:
                flow.guest_state = state
                flow.publish_status()
            if state in wanted:
                return status
            summary = status.get("error_summary")
            if state == "provisioningfailed":
                raise StepError("GuestProvisioningFailed", f"the guest reported: {summary or 'no summary'}")
            if flow.ctx.current_utc_datetime >= deadline:
                last = f"last guest state: {state or 'none'}" + (f", guest error: {summary}" if summary else "")
                raise StepError("GuestTimeout", f"waited {timeout:g} s for {what}; {last}")
            yield from flow.wait(self.spec.timing.poll_interval)

    def _slot(self) -> df.EntityId:
        return df.EntityId(CLONE_SLOTS_ENTITY, str(self.flow.host).lower())

    def _acquire_clone_slot(self) -> Gen:
        """Wait in order for one of the host's clone slots (an entity semaphore polled with a durable timer)."""
        flow = self.flow
        while True:
            ask = {"owner": self.spec.job_id, "limit": self.spec.timing.clone_slots, "at": flow.stamp()}
            granted = yield flow.ctx.call_entity(self._slot(), "acquire", ask)
            if granted:
                return
            try:
                yield from flow.wait(self.spec.timing.slot_retry_interval)
            except CanceledError:
                yield from self._release_clone_slot()
                raise

    def _release_clone_slot(self) -> Gen:
        yield self.flow.ctx.call_entity(self._slot(), "release", {"owner": self.spec.job_id, "at": self.flow.stamp()})

    def compensate(self) -> Gen:
        """Remove what this job created, in reverse order; returns a cleanup report (never raises)."""
        flow = self.flow
        if self.request.get("keep_on_failure"):
            return {"status": "Skipped", "reason": "keep_on_failure was requested", "kept_vm_id": flow.vm_id}
        if not self.host_touched or flow.host is None:
            return {"status": "Nothing to clean up"}
        actions: list[str] = []
        try:
            if self.clustered and flow.vm_id:
                yield from flow.call(act.vm_cluster_remove, flow.target(), cancellable=False)
                actions.append("removed the cluster role")
            removed = yield from flow.call(act.vm_cleanup, flow.target(name=self.request["name"]), cancellable=False)
            actions.append(removed.get("summary", "removed"))
            yield from flow.call(act.vm_refresh_and_describe, flow.target(vm_id=None), cancellable=False)
        except Exception as exc:
            return {"status": "Failed", "actions": actions, "error": StepError.from_exception(exc).to_json()}
        return {"status": "Succeeded", "actions": actions}


@bp.orchestration_trigger(context_name="context")
def create_vm(context: df.DurableOrchestrationContext) -> Gen:
    """Create one VM end to end (see the module docstring)."""
    job = _Create(context, CreateSpec.from_json(context.get_input()))
    return (yield from run_job(job.flow, job.run, job.compensate))
