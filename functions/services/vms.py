"""The VM service: VM reads from the inventory, and the create, delete and power jobs.

A write looks its target up, rejects what cannot work right away (an unknown VM or host → ``NotFound``; a start of
a running VM → ``InvalidState``), submits the job (deduplicated, idempotent) and audits the outcome with the job id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from functions.errors import HostNotConfigured, InvalidRequest, InvalidState, NotFound, StepError
from functions.guest.mapping import guest_values
from functions.hyperv.connector import HostConnector
from functions.inventory.repository import InventoryRepository
from functions.ippools.store import Allocation
from functions.jobs.submission import JobRequest, JobSubmitter, WorkflowClient
from functions.models.inventory import VmRecord
from functions.models.jobs import Job, JobStatus, JobTarget
from functions.models.json import JsonObject
from functions.models.leases import format_moment, resolve_expiry
from functions.models.paging import Page
from functions.models.problems import Problem
from functions.models.vm_request import VmCreateRequest
from functions.provisioning.approvals import ApprovalRule
from functions.provisioning.contracts import CREATE_VM, DELETE_VM, POWER_VM
from functions.provisioning.payloads import Placement, PlacePayload, PowerAction, VmSpec
from functions.provisioning.workflow_data import CREATE_VERSION, CreateInput, LifecycleInput, PoolAddress, Timing
from functions.sealing import seal_json
from functions.services.audit import AuditTrail, Caller
from functions.services.ip_pools import PoolService
from functions.settings import ApprovalSettings, Secret

__all__ = ["POWER_ACTIONS", "PowerOptions", "VmFilters", "VmService"]

POWER_ACTIONS: tuple[PowerAction, ...] = ("start", "stop", "shutdown", "restart")
# Source states each power action can start from (Hyper-V semantics; the workflow re-checks on the host).
_ALLOWED: Mapping[str, frozenset[str]] = {
    "start": frozenset({"Off", "Saved", "Paused"}),
    "stop": frozenset({"Running", "Paused", "Saved", "Starting", "Stopping"}),
    "shutdown": frozenset({"Running"}),
    "restart": frozenset({"Running"}),
}


@dataclass(frozen=True)
class VmFilters:
    """What a VM listing is filtered by."""

    host: str | None = None
    state: str | None = None
    name_prefix: str | None = None
    stale: bool | None = None
    expiring_within_hours: float | None = None
    """Only VMs whose lease expires within this many hours from now."""


@dataclass(frozen=True)
class PowerOptions:
    """Options of a guest shutdown: how long to wait, and whether to turn the VM off after that."""

    timeout_seconds: int | None = None
    force: bool | None = None


class VmService:
    """VM reads and writes (see the module docstring)."""

    def __init__(
        self,
        inventory: InventoryRepository,
        connector: HostConnector,
        submitter: JobSubmitter,
        audit: AuditTrail,
        *,
        timing: Timing,
        seal_key: Secret,
        approval: ApprovalSettings | None = None,
        pools: PoolService | None = None,
        lease_max_hours: int = 2160,
        placer: Callable[[PlacePayload], Placement] | None = None,
    ) -> None:
        self.inventory = inventory
        self.connector = connector
        self.submitter = submitter
        self.audit = audit
        self.timing = timing
        self._seal_key = seal_key
        self.approval = approval or ApprovalSettings()
        self.pools = pools
        self.lease_max_hours = lease_max_hours
        self.placer = placer
        """Automatic placement as the create workflow's ``place`` step does it (for :meth:`check_create`)."""

    # -- reads ---------------------------------------------------------------------------------------------------------

    def list(self, filters: VmFilters, *, page_size: int, continuation: str | None) -> Page[VmRecord]:
        """A page of VMs; with ``filters.host``, that host must be in the inventory (else ``NotFound``)."""
        expiring = None
        if filters.expiring_within_hours is not None:
            expiring = format_moment(datetime.now(UTC) + timedelta(hours=filters.expiring_within_hours))
        return self.inventory.list_vms(
            expiring_before=expiring,
            host=filters.host,
            state=filters.state,
            name_prefix=filters.name_prefix,
            stale=filters.stale,
            page_size=page_size,
            continuation=continuation,
            require_host=True,
        )

    def get(self, vm_id: str) -> VmRecord:
        """One VM; ``NotFound`` if the inventory does not know it."""
        vm = self.inventory.get_vm(vm_id)
        if vm is None:
            raise NotFound(f"VM {vm_id} is not in the inventory")
        return vm

    # -- writes --------------------------------------------------------------------------------------------------------

    def create(
        self,
        workflows: WorkflowClient,
        request: VmCreateRequest,
        caller: Caller,
        *,
        idempotency_key: str | None,
        body: Any,
    ) -> Job:
        """Submit a create job (one per host + name while it runs).

        With ``guest.ipv4.pool`` the pool is checked first (422 unknown or mismatched, 409 exhausted) and the address
        is allocated when the job is made, so a repeat (Idempotency-Key) or a deduplicated submit allocates nothing;
        it is released again if the workflow cannot be started.
        """
        with self.audit.write(caller, "create_vm", {"host": request.host, "name": request.name}) as record:
            if request.host is not None and not self.connector.is_configured(request.host):
                raise HostNotConfigured(request.host)
            pools, choice = self.pools, None
            if pools is not None:
                request, choice = pools.check_create(request)
            spec = VmSpec.from_json(request.model_dump(mode="json"))
            allocations: list[Allocation] = []
            lease = self._lease(request, caller)

            pool_rule = f"IP pool {choice.name} requires approval" if choice and choice.spec.requires_approval else None
            rule = self._approval_rule(request.host, pool_rule)

            def build(job_id: str) -> CreateInput:
                work, ip_pool = request, None
                if pools is not None and choice is not None:
                    work, allocation = pools.allocate_for(request, choice, job_id)
                    allocations.append(allocation)
                    ip_pool = PoolAddress(job_id, allocation.pool, allocation.address)
                values = guest_values(work)
                sealed = seal_json(values, job_id, key=self._seal_key) if values else None
                work_spec = VmSpec.from_json(work.model_dump(mode="json"))
                return CreateInput(
                    job_id,
                    work_spec,
                    work.resolved_os_family,
                    sealed,
                    self.timing,
                    version=CREATE_VERSION,
                    ip_pool=ip_pool,
                    approval=rule,
                    lease=lease,
                )

            try:
                submission = self.submitter.submit(
                    workflows,
                    JobRequest(
                        kind="create_vm",
                        orchestration=CREATE_VM,
                        target=JobTarget(host=request.host, name=request.name),
                        claim=f"{(request.host or 'any').lower()}:{request.name.lower()}",
                        build_input=build,
                        requested_by=caller.requester,
                        body=body,
                        idempotency_key=idempotency_key,
                        request=spec.to_json(),
                        precheck=(lambda: pools.ensure_free(choice)) if pools and choice else None,
                        status=JobStatus.AWAITING_APPROVAL if rule and rule.required_by else JobStatus.PENDING,
                    ),
                )
            except Exception:
                for allocation in allocations:  # the workflow never started: nothing holds the address
                    assert pools is not None
                    pools.release(allocation)
                raise
            record.job = submission.job
        return submission.job

    def check_create(self, request: VmCreateRequest, caller: Caller) -> JsonObject:
        """A create's validate-only run (``POST /api/v1/vms?dry_run=true``): every check made before a job exists.

        The host must be configured; an IP pool must exist, match and have a free address; a lease must be valid;
        placement picks the host a create would be placed on now (a request that no host can take answers with
        ``host: null`` and a warning, as its job would fail at ``place``); the approval policy of that host,
        cluster or pool is reported. Nothing is written: no job, no workflow, no IP allocation, no audit entry.
        Refusals raise the same errors as :meth:`create`.
        """
        if request.host is not None and not self.connector.is_configured(request.host):
            raise HostNotConfigured(request.host)
        pools, choice = self.pools, None
        if pools is not None:
            request, choice = pools.check_create(request)
            if choice is not None:
                pools.ensure_free(choice)
        lease = self._lease(request, caller)
        spec = VmSpec.from_json(request.model_dump(mode="json"))
        warnings: list[str] = []
        placement: Placement | None = None
        if request.host is not None:
            record = self.inventory.get_host(request.host)
            cluster = record.cluster if record is not None and record.clustered else None
            placement = Placement(request.host, cluster)
        elif self.placer is not None:
            try:
                placement = self.placer(PlacePayload("dry-run", spec))
            except StepError as exc:
                warnings.append(f"placement: {exc.to_json()['message']}")
        pool_rule = f"IP pool {choice.name} requires approval" if choice and choice.spec.requires_approval else None
        rule = self._approval_rule(placement.host if placement else None, pool_rule)
        normalized = {**spec.to_json(), "os_family": request.resolved_os_family}
        if lease is not None:
            normalized["lease"] = {"expires_at": lease["expires_at"]}
        return {
            "valid": True,
            "request": normalized,
            "host": placement.host if placement else None,
            "cluster": placement.cluster if placement else None,
            "requires_approval": bool(rule and rule.required_by),
            "approval_required_by": rule.required_by if rule else None,
            "ip_pool": choice.name if choice else None,
            "warnings": warnings,
        }

    def _approval_rule(self, host: str | None, pool_rule: str | None = None) -> ApprovalRule | None:
        """The approval policy a create on ``host`` (None: placed automatically) carries; None when none applies.

        ``pool_rule`` says the create's IP pool requires approval: then it waits whatever its host.
        """
        settings = self.approval
        timeout = settings.timeout_seconds
        if pool_rule is not None:
            return ApprovalRule(timeout, required_by=pool_rule)
        if not settings.hosts and not settings.clusters:
            return None
        if host is None:  # judged on the host placement picks
            return ApprovalRule(timeout, hosts=tuple(sorted(settings.hosts)), clusters=tuple(sorted(settings.clusters)))
        record = self.inventory.get_host(host)
        cluster = record.cluster if record is not None and record.clustered else None
        why = settings.required_by(host, cluster)
        return ApprovalRule(timeout, required_by=why) if why is not None else None

    def _lease(self, request: VmCreateRequest, caller: Caller) -> JsonObject | None:
        """The lease the create asks for, as the workflow carries it (``InvalidRequest`` naming its field)."""
        if request.lease is None:
            return None
        now = datetime.now(UTC).replace(microsecond=0)
        expires, problems = resolve_expiry(request.lease, now=now, max_hours=self.lease_max_hours, field="lease.")
        if request.lease.clears:
            problems.append(Problem("lease.expires_at", "a create's lease needs a moment or hours"))
        if problems or expires is None:
            raise InvalidRequest("see errors", problems)
        return {"expires_at": format_moment(expires), "requested_by": caller.requester.to_json()}

    def delete(self, workflows: WorkflowClient, vm_id: str, caller: Caller, *, idempotency_key: str | None) -> Job:
        """Submit a delete job for a VM in the inventory."""
        with self.audit.write(caller, "delete_vm", {"vm_id": vm_id}) as record:
            vm = self.get(vm_id)
            record.job = self._vm_job(workflows, vm, "delete_vm", caller, idempotency_key)
        return record.job

    def power(
        self,
        workflows: WorkflowClient,
        vm_id: str,
        action: PowerAction,
        caller: Caller,
        *,
        options: PowerOptions = PowerOptions(),
        idempotency_key: str | None,
    ) -> Job:
        """Submit a power job; an action the VM's current state does not allow is refused at once."""
        with self.audit.write(caller, f"{action}_vm", {"vm_id": vm_id}) as record:
            vm = self.get(vm_id)
            if not vm.stale and vm.state not in _ALLOWED[action]:
                raise InvalidState(f"cannot {action} a VM that is {vm.state}", vm.state)
            record.job = self._vm_job(
                workflows, vm, "power_vm", caller, idempotency_key, action=action, options=options
            )
        return record.job

    def _vm_job(
        self,
        workflows: WorkflowClient,
        vm: VmRecord,
        kind: str,
        caller: Caller,
        idempotency_key: str | None,
        *,
        action: PowerAction | None = None,
        options: PowerOptions = PowerOptions(),
    ) -> Job:
        def build(job_id: str) -> LifecycleInput:
            return LifecycleInput(
                job_id=job_id,
                host=vm.host,
                vm_id=vm.id,
                timing=self.timing,
                action=action,
                timeout_seconds=options.timeout_seconds,
                force_after_timeout=options.force,
            )

        body = {"kind": kind, "vm_id": vm.id, "action": action, **vars(options)}
        submission = self.submitter.submit(
            workflows,
            JobRequest(
                kind=kind,
                orchestration=DELETE_VM if kind == "delete_vm" else POWER_VM,
                target=JobTarget(host=vm.host, name=vm.name, vm_id=vm.id, action=action),
                claim=vm.id,
                scope="vm",
                build_input=build,
                requested_by=caller.requester,
                body=body,
                idempotency_key=idempotency_key,
            ),
        )
        return submission.job
