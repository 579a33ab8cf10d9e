"""The create-VM orchestration: from a validated request to a running, configured VM — or nothing left behind.

Steps (each an activity; the plan skips what the request does not need)::

    [approval] → place → [approval: an Admin's decision, see approval_wait.py]
      → preflight → [clone slot] prepare disk → create VM → start + announce
      → wait for the guest key → publish the encrypted data, settle delay (durable timer)
      → signal published → wait for the guest to apply → cluster → eject ISO → refresh inventory

The guest waits are durable monitor loops; from version 3 each runs in a child orchestration that continues as new
(``guest_wait.py``), so the create's own history stays small. From version 4 the disk is copied on the host in the
background, started by one activity and polled with durable timers (``host_operations.py``), never inside one
activity that could outlive the host's function timeout.

Pure: no I/O, clock, settings or random ids. A failure or cancellation after something may exist on the host is
compensated in reverse order (unless the request set ``keep_on_failure``); the job record names the failed step,
the error and the cleanup result. Guest secrets travel sealed and are opened only inside the publish activity.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any, Literal

import azure.durable_functions as df

from functions.errors import StepError
from functions.models.jobs import JobStatus, JobTarget, StepStatus
from functions.provisioning import contracts as c
from functions.provisioning.guest_payloads import (
    GuestCheck,
    GuestStatusResult,
    GuestWaitInput,
    PublishPayload,
    StartPayload,
    StartResult,
)
from functions.provisioning.leases import LeaseArm
from functions.provisioning.payloads import (
    CleanupPayload,
    CreatePayload,
    DebtPayload,
    PlacePayload,
    PreflightPayload,
    PreparedDisk,
    PrepareDiskPayload,
    StartOperationPayload,
    VmSpec,
    VmSummary,
)
from functions.provisioning.workflow_data import CleanupReport, CleanupStatus, CreateInput, CreateOutput
from functions.workflows.approval_wait import STEP as APPROVAL_STEP
from functions.workflows.approval_wait import wait_for_approval
from functions.workflows.flow import CanceledError, Gen, StepFlow, run_job
from functions.workflows.guest_wait import wait_for_guest
from functions.workflows.host_operations import run_host_operation
from functions.workflows.throttle import CLONE_SLOTS_ENTITY, RENEW_AFTER

__all__ = ["bp", "create_plan"]

bp = df.Blueprint()


def create_plan(request: VmSpec, guest: bool, *, approval: Literal["first", "placed"] | None = None) -> list[str]:
    """The steps a request needs, in order.

    ``approval``: ``first`` when the create is known to need one (it waits before anything else), ``placed`` when the
    host placement picks decides (the step is dropped when it needs none).
    """
    steps = [APPROVAL_STEP] if approval == "first" else []
    steps += [] if request.host else ["place"]
    if approval == "placed":
        steps.append(APPROVAL_STEP)
    steps += ["preflight", "prepare_disk", "create_vm", "start"]
    if guest:
        steps += ["wait_for_key", "publish", "signal", "wait_for_apply"]
    if request.clustered:
        steps.append("cluster")
    if guest:
        steps.append("eject_iso")
    return [*steps, "refresh"]


class _Create:
    """One create run on top of :class:`StepFlow`."""

    def __init__(self, context: df.DurableOrchestrationContext, spec: CreateInput) -> None:
        self.spec = spec
        self.request = spec.request
        rule = spec.approval
        approval: Literal["first", "placed"] | None = None
        if rule is not None and rule.required_by is not None:
            approval = "first"
        elif rule is not None and not spec.request.host:
            approval = "placed"
        plan = create_plan(spec.request, spec.sealed_guest is not None, approval=approval)
        self.flow = StepFlow(context, job_id=spec.job_id, timing=spec.timing, plan=plan, host=spec.request.host)
        self.host_touched = False  # a folder, disk or VM of this job may exist on the host
        self.clustered = False
        self.started: StartResult | None = None
        self.checks_agent = spec.version >= 3  # the key and the agent are judged before anything is published
        self._slot_renewed = context.current_utc_datetime

    def run(self) -> Generator[Any, Any, CreateOutput]:
        flow, request, timing = self.flow, self.request, self.spec.timing
        rule = self.spec.approval
        if rule is not None and rule.required_by is not None:  # known at submit: wait before anything else
            yield from wait_for_approval(flow, rule.required_by, rule.timeout_seconds)
        cluster: str | None = None
        if "place" in flow.plan:
            placed = yield from flow.step("place", c.VM_PLACE, PlacePayload(self.spec.job_id, request))
            flow.host, cluster = placed.host, placed.cluster
            flow.job_target = JobTarget(host=flow.host, name=request.name)
        if rule is not None and rule.required_by is None and APPROVAL_STEP in flow.plan:
            why = rule.judge(flow.host, cluster)
            if why is None:
                flow.plan.remove(APPROVAL_STEP)  # the host placement chose needs none
            else:
                yield from wait_for_approval(flow, why, rule.timeout_seconds)
        guest = self.checks_agent and self.spec.sealed_guest is not None
        preflight = yield from flow.step(
            "preflight", c.VM_PREFLIGHT, PreflightPayload(**flow.target_fields(), request=request, guest=guest)
        )

        yield from flow.status("prepare_disk", StepStatus.RUNNING)
        yield from self._acquire_clone_slot()
        self.host_touched = True
        prepare = PrepareDiskPayload(**flow.target_fields(), request=request, volume=preflight.target_volume)
        try:
            if self.spec.version >= 4:
                disk = yield from self._prepare_disk_in_background()
            else:
                disk = yield from flow.call(c.VM_PREPARE_DISK, prepare)  # one activity: instances of earlier builds
        except Exception:  # not `finally`: a suspended generator must not yield while it is being closed
            yield from self._release_clone_slot()
            raise
        yield from self._release_clone_slot()
        yield from flow.status("prepare_disk", StepStatus.SUCCEEDED)

        create = CreatePayload(**flow.target_fields(), request=request, os_family=self.spec.os_family, disk=disk)
        created = yield from flow.step("create_vm", c.VM_CREATE, create)
        flow.vm_id = created.vm_id
        flow.job_target = JobTarget(host=flow.host, name=request.name, vm_id=flow.vm_id)  # so ?vm_id= finds it
        if self.spec.ip_pool is not None:  # the pool's allocation names the VM (a delete finds it by the VM id)
            yield from flow.call(c.IP_POOL_BIND_VM, replace(self.spec.ip_pool, vm_id=flow.vm_id))
        start = StartPayload(**flow.target_fields(), announce="wait_for_key" in flow.plan)
        self.started = yield from flow.step("start", c.VM_START_AND_ANNOUNCE, start)

        if "wait_for_key" in flow.plan:
            yield from flow.status("wait_for_key", StepStatus.RUNNING)
            yield from self._wait_guest(
                "wait_for_key", "waitingforaeskey", timing.key_timeout, "the guest's provisioning key"
            )
            yield from flow.status("wait_for_key", StepStatus.SUCCEEDED)

            yield from flow.status("publish", StepStatus.RUNNING)
            published = yield from flow.call(c.VM_PUBLISH_GUEST_DATA, self._publish_payload())
            if published.agent:
                flow.guest_agent = published.agent
            flow.warnings.extend(published.warnings)
            yield from flow.wait(timing.publish_delay)
            yield from flow.status("publish", StepStatus.SUCCEEDED)
            published_at = flow.ctx.current_utc_datetime

            yield from flow.step("signal", c.VM_SIGNAL_PUBLISHED, flow.target())

            yield from flow.status("wait_for_apply", StepStatus.RUNNING)
            yield from self._wait_guest(
                "wait_for_apply",
                "provisioningapplied",
                timing.apply_timeout,
                "the guest to apply its data",
                published_at=published_at,
            )
            yield from flow.status("wait_for_apply", StepStatus.SUCCEEDED)

        if "cluster" in flow.plan:
            self.clustered = True
            yield from flow.step("cluster", c.VM_CLUSTER_ADD, flow.target())
        if "eject_iso" in flow.plan:
            yield from flow.step("eject_iso", c.VM_FINISH_GUEST, flow.target())
        yield from flow.status("refresh", StepStatus.RUNNING)
        if self.spec.version >= 2:
            vm = yield from self._finish()  # the VM is complete: nothing from here on fails the job
        else:
            vm = yield from flow.call(c.VM_REFRESH_AND_DESCRIBE, flow.target(), cancellable=False)
        yield from flow.status("refresh", StepStatus.SUCCEEDED)
        if self.spec.lease is not None and flow.vm_id and flow.host:
            yield from self._arm_lease(flow.vm_id, flow.host, self.spec.lease)
        return CreateOutput(vm_id=flow.vm_id, host=flow.host, name=request.name, vm=vm, guest_agent=flow.guest_agent)

    def _finish(self) -> Generator[Any, Any, VmSummary | None]:
        """Refresh the inventory and, for a static address, wait (bounded) until the host reports it.

        The VM is complete here, so nothing fails the job or compensates: a refresh that keeps failing or an
        address that does not show up in time becomes a warning on the job.
        """
        flow, timing = self.flow, self.spec.timing
        address = _static_address(self.request)
        deadline = flow.ctx.current_utc_datetime + timedelta(seconds=timing.address_timeout)
        while True:
            try:
                vm = yield from flow.call(c.VM_REFRESH_AND_DESCRIBE, flow.target(), cancellable=False)
            except Exception as exc:
                error = StepError.from_exception(exc)
                flow.warnings.append(
                    f"the VM is complete, but the inventory could not be refreshed ({error.category}): "
                    "the next inventory sync shows it"
                )
                return None
            if address is None or (vm is not None and address in vm.ip_addresses):
                return vm
            if flow.ctx.current_utc_datetime >= deadline:
                flow.warnings.append(
                    f"the host did not report the address {address} within {timing.address_timeout:g} s; "
                    "check the guest's network configuration"
                )
                return vm
            yield from flow.wait(timing.poll_interval, cancellable=False)

    def _arm_lease(self, vm_id: str, host: str, lease: Mapping[str, Any]) -> Generator[Any, Any, None]:
        """Give the complete VM its lease (a failure is a warning: the VM is there, the lease can be set again)."""
        arm = LeaseArm(vm_id, host, str(lease["expires_at"]), dict(lease.get("requested_by") or {}))
        try:
            yield from self.flow.call(c.LEASE_ARM, arm, cancellable=False)
        except Exception as exc:
            error = StepError.from_exception(exc)
            self.flow.warnings.append(
                f"the VM is complete, but its lease could not be set ({error.category}): "
                "set it with PUT /api/v1/vms/{vm_id}/lease"
            )

    def _publish_payload(self) -> PublishPayload:
        started = self.started
        return PublishPayload(
            **self.flow.target_fields(),
            sealed_guest=self.spec.sealed_guest,
            os_family=self.spec.os_family,
            check_agent=self.checks_agent,
            version=started.version if started and self.checks_agent else None,
            pre_start_key=started.pre_start_key if started and self.checks_agent else None,
        )

    def _wait_guest(self, step: str, wanted: str, timeout: float, what: str, *, published_at: Any = None) -> Gen:
        """Wait until the guest reports ``wanted``.

        From version 3 in a child orchestration that judges the key and the agent
        (:mod:`functions.workflows.guest_wait`); earlier versions poll here, as their history recorded.
        """
        flow, started = self.flow, self.started
        if not self.checks_agent or started is None:
            return (yield from self._poll_guest_here({wanted}, timeout, what))
        check = GuestCheck(
            **flow.target_fields(),
            os_family=self.spec.os_family,
            version=started.version or "",
            pre_start_key=started.pre_start_key,
            hostname=self.request.name,
            ipv4=_static_address(self.request),
        )
        begun = flow.ctx.current_utc_datetime
        spec = GuestWaitInput(
            step=step,
            check=check,
            wanted=(wanted,),
            what=what,
            deadline=(begun + timedelta(seconds=timeout)).isoformat(),
            timing=self.spec.timing,
            interval=self.spec.timing.poll_interval,
            published_at=published_at.isoformat() if published_at is not None else None,
            guest_state=flow.guest_state,
        )
        return (yield from wait_for_guest(flow, spec, let_end=self.spec.version >= 5))

    def _poll_guest_here(self, wanted: set[str], timeout: float, what: str) -> Gen:
        """Versions 1 and 2: a monitor loop in this orchestration (no connection held between polls)."""
        flow = self.flow
        deadline = flow.ctx.current_utc_datetime + timedelta(seconds=timeout)
        while True:
            status: GuestStatusResult = yield from flow.call(c.VM_GUEST_STATUS, GuestCheck(**flow.target_fields()))
            if status.state != flow.guest_state:
                flow.guest_state = status.state
                flow.publish_status()
            if status.state in wanted:
                return status
            summary = status.error_summary
            if status.state == "provisioningfailed":
                raise StepError("GuestProvisioningFailed", f"the guest reported: {summary or 'no summary'}")
            if flow.ctx.current_utc_datetime >= deadline:
                last = f"last guest state: {status.state or 'none'}" + (f", guest error: {summary}" if summary else "")
                raise StepError("GuestTimeout", f"waited {timeout:g} s for {what}; {last}")
            yield from flow.wait(self.spec.timing.poll_interval)

    def _prepare_disk_in_background(self) -> Generator[Any, Any, PreparedDisk]:
        """The OS disk, copied on the host in the background and polled with durable timers (clone slot held)."""
        flow = self.flow
        self._slot_renewed = flow.ctx.current_utc_datetime

        def start_for(operation_id: str, time_limit: int) -> StartOperationPayload:
            return StartOperationPayload(
                **flow.target_fields(),
                operation_id=operation_id,
                kind="prepare_disk",
                request=self.request,
                time_limit_seconds=time_limit,
            )

        operation = yield from run_host_operation(
            flow,
            "prepare_disk",
            "prepare_disk",
            start_for,
            timeout=self.spec.timing.disk_timeout,
            while_waiting=self._renew_clone_slot,
        )
        return PreparedDisk.model_validate(operation.result)

    def _renew_clone_slot(self) -> Gen:
        """Keep the clone slot while a long copy runs: ask for it again well inside its lease."""
        flow = self.flow
        if flow.ctx.current_utc_datetime - self._slot_renewed < RENEW_AFTER:
            return
        self._slot_renewed = flow.ctx.current_utc_datetime
        ask = {"owner": self.spec.job_id, "limit": self.spec.timing.clone_slots, "at": flow.stamp()}
        yield flow.ctx.call_entity(self._slot(), "acquire", ask)

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

    def compensate(self) -> Generator[Any, Any, CleanupReport]:
        """Remove what this job created, then give back its IP pool address; returns a cleanup report (never raises).

        A VM kept for diagnosis (``keep_on_failure``) keeps its address: deleting it later releases it.
        """
        report = yield from self._remove_made()
        pooled = self.spec.ip_pool
        if pooled is None or report.status == CleanupStatus.SKIPPED:
            return report
        note = f"released {pooled.address} to IP pool {pooled.pool}"
        try:
            yield from self.flow.call(c.IP_POOL_RELEASE, pooled, cancellable=False)
        except Exception as exc:
            error = StepError.from_exception(exc)
            note = f"could not release {pooled.address} to IP pool {pooled.pool} ({error.category})"
        return replace(report, actions=(*(report.actions or ()), note))

    def _remove_made(self) -> Generator[Any, Any, CleanupReport]:
        """Remove what this job created on the host, in reverse order (never raises)."""
        flow = self.flow
        if self.request.keep_on_failure:
            return CleanupReport(CleanupStatus.SKIPPED, reason="keep_on_failure was requested", kept_vm_id=flow.vm_id)
        if not self.host_touched or flow.host is None:
            return CleanupReport(CleanupStatus.NOTHING)
        actions: list[str] = []
        if self.spec.version < 2:
            return (yield from self._compensate_v1(actions))
        cleanup = CleanupPayload(**flow.target_fields(), name=self.request.name)
        try:
            removed = yield from flow.call(c.VM_CLEANUP, cleanup, cancellable=False)
        except Exception as exc:
            error = StepError.from_exception(exc)
            if not error.transient:
                return CleanupReport(CleanupStatus.FAILED, actions=tuple(actions), error=error.to_json())
            debt = DebtPayload(
                **flow.target_fields(), name=self.request.name, error=f"{error.category}: {error.message}"
            )
            recorded = yield from flow.call(c.VM_RECORD_CLEANUP_DEBT, debt, cancellable=False)
            return CleanupReport(
                CleanupStatus.PENDING,
                actions=tuple(actions),
                error=error.to_json(),
                reason=f"{flow.host} cannot be reached: what this job made there is removed when it can be again",
                pending_since=recorded.since,
            )
        actions.append(removed.summary)
        try:
            yield from flow.call(c.VM_REFRESH_AND_DESCRIBE, replace(flow.target(), vm_id=None), cancellable=False)
        except Exception:
            actions.append("the inventory refresh after the cleanup failed; the next sync corrects it")
        tables = {"vm_rows_removed": list(removed.inventory_rows_removed or ())}
        host = removed.host.model_dump(mode="json") if removed.host else None
        return CleanupReport(CleanupStatus.SUCCEEDED, actions=tuple(actions), host=host, tables=tables)

    def _compensate_v1(self, actions: list[str]) -> Generator[Any, Any, CleanupReport]:
        """The compensation of instances started by earlier builds, step for step as their history recorded it."""
        flow = self.flow
        try:
            if self.clustered and flow.vm_id:
                yield from flow.call(c.VM_CLUSTER_REMOVE, flow.target(), cancellable=False)
                actions.append("removed the cluster role")
            cleanup = CleanupPayload(**flow.target_fields(), name=self.request.name)
            removed = yield from flow.call(c.VM_CLEANUP, cleanup, cancellable=False)
            actions.append(removed.summary)
            yield from flow.call(c.VM_REFRESH_AND_DESCRIBE, replace(flow.target(), vm_id=None), cancellable=False)
        except Exception as exc:
            error = StepError.from_exception(exc).to_json()
            return CleanupReport(CleanupStatus.FAILED, actions=tuple(actions), error=error)
        return CleanupReport(CleanupStatus.SUCCEEDED, actions=tuple(actions))


def _static_address(request: VmSpec) -> str | None:
    ipv4 = (request.guest or {}).get("ipv4")
    return str(ipv4["address"]) if isinstance(ipv4, dict) and ipv4.get("address") else None


@bp.function_name(name=c.CREATE_VM.name)
@bp.orchestration_trigger(context_name="context")
def create_vm(context: df.DurableOrchestrationContext) -> Gen:
    """Create one VM end to end (see the module docstring)."""
    job = _Create(context, c.CREATE_VM.input.load(context.get_input()))
    rule = job.spec.approval
    waits_first = rule is not None and rule.required_by is not None  # known at submit: the job starts awaiting
    status = JobStatus.AWAITING_APPROVAL if waits_first else JobStatus.RUNNING
    return (yield from run_job(job.flow, job.run, job.compensate, status=status))
