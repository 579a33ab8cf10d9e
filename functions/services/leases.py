"""The lease service: setting, extending and clearing a VM's lease, and what the lease workflow does at its times.

Rules (``docs/leases.md``): an Admin may change any VM's lease, an Operator only the lease of a VM they requested
(the create job's requester, kept on the lease); the expiry is in the future and at most
``AETHERV_LEASE_MAX_HOURS`` away. Every change raises the lease's version and tells the VM's lease workflow
(instance ``lease-<vm_id>``: :func:`lease_instance`), which re-reads the lease. The workflow's steps
(:meth:`LeaseService.check`, :meth:`LeaseService.warn`, :meth:`LeaseService.expire`) act only on the version they
read, so a lease changed meanwhile is never warned or deleted by its old time, and each is safe to run twice. At
expiry the VM is deleted by the same delete job as ``DELETE /api/v1/vms/{vm_id}``, on behalf of
:data:`SYSTEM_PRINCIPAL` (``system:lease``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from functions.auth import Permission
from functions.auth.principal import IdentityType, Principal
from functions.errors import Conflict, Forbidden, InvalidRequest, NotFound
from functions.events.catalog import OutgoingEvent, lease_expiring_event
from functions.inventory.repository import InventoryRepository
from functions.jobs.records import JobStore
from functions.jobs.submission import WorkflowClient
from functions.leases.store import LeaseStore
from functions.models.json import JsonObject
from functions.models.leases import Lease, LeaseRequest, format_moment, parse_moment, resolve_expiry
from functions.provisioning.contracts import VM_LEASE
from functions.provisioning.leases import LEASE_CHANGED, LeaseCheck, LeaseInput, LeaseStep
from functions.services.audit import AuditTrail, Caller
from functions.services.vms import VmService

__all__ = ["SYSTEM_PRINCIPAL", "LeaseService", "lease_instance"]

log = logging.getLogger(__name__)

SYSTEM_PRINCIPAL = Principal(
    object_id="system:lease",
    display_name="system:lease",
    identity_type=IdentityType.APP,
    tenant_id=None,
    app_id=None,
    username=None,
    roles=(),
    permission=Permission.ADMIN,
    source="local",
)
"""Who the lease workflow acts as: the audit names it for the warning, the expiry and the delete job."""
_SYSTEM = Caller(SYSTEM_PRINCIPAL)
_ATTEMPTS = 10


def lease_instance(vm_id: str) -> str:
    """The instance id of a VM's lease workflow (one per VM)."""
    return f"lease-{vm_id.lower()}"


@dataclass(frozen=True)
class LeaseTiming:
    """The lease settings: the longest lease, the warning ahead of expiry, the longest single wait."""

    max_hours: int = 2160
    warning_seconds: float = 86400
    check_seconds: float = 86400


class LeaseService:
    """Leases of VMs (see the module docstring)."""

    def __init__(
        self,
        store: LeaseStore,
        inventory: InventoryRepository,
        jobs: JobStore,
        vms: VmService,
        audit: AuditTrail,
        *,
        timing: LeaseTiming,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        emit: Callable[[list[OutgoingEvent]], object] | None = None,
    ) -> None:
        self._emit = emit
        self.store = store
        self.inventory = inventory
        self.jobs = jobs
        self.vms = vms
        self.audit = audit
        self.timing = timing
        self._clock = clock

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC).replace(microsecond=0)

    def workflow_input(self, vm_id: str) -> LeaseInput:
        """The lease workflow's input for a VM."""
        return LeaseInput(
            vm_id=vm_id.lower(),
            warning_seconds=self.timing.warning_seconds,
            check_seconds=self.timing.check_seconds,
        )

    # -- the API -------------------------------------------------------------------------------------------------------

    def requester_of(self, vm_id: str, lease: Lease | None) -> JsonObject:
        """Who requested the VM: its lease's requester, else the requester of the job that created it (``{}``)."""
        if lease is not None and lease.requested_by:
            return dict(lease.requested_by)
        found = self.jobs.list(kind="create_vm", vm_id=vm_id.lower(), page_size=20).items
        for summary in found:
            job = self.jobs.get(summary.id)
            if job is not None and (job.target.vm_id or "").lower() == vm_id.lower():
                return job.requested_by.to_json()
        return {}

    def set(self, workflows: WorkflowClient, vm_id: str, request: LeaseRequest, caller: Caller) -> Lease | None:
        """Set, extend or clear the VM's lease; returns the lease (``None``: cleared)."""
        action = "clear_lease" if request.clears else "set_lease"
        with self.audit.write(caller, action, {"vm_id": vm_id}, status=200) as record:
            vm = self.inventory.get_vm(vm_id)
            if vm is None:
                raise NotFound(f"VM {vm_id} is not in the inventory")
            now = self._now()
            expires, problems = resolve_expiry(request, now=now, max_hours=self.timing.max_hours)
            if problems:
                raise InvalidRequest("see errors", problems)
            for _ in range(_ATTEMPTS):
                lease, etag = self.store.get_with_etag(vm.id)
                requester = self.requester_of(vm.id, lease)
                if not caller.can(Permission.ADMIN) and requester.get("id") != caller.object_id:
                    raise Forbidden("only the VM's requester (an Operator) or an Admin can change its lease")
                if expires is None:
                    if lease is None or self.store.delete(vm.id, etag):
                        break
                    continue
                moment = format_moment(expires)
                who = caller.requester.to_json()
                if lease is None:
                    updated = Lease(vm.id, moment, requester, who, format_moment(now))
                else:
                    updated = replace(lease.changed(moment, who, format_moment(now)), requested_by=requester)
                if self.store.put(updated, etag):
                    break
            else:
                raise RuntimeError(f"the lease of VM {vm.id} kept changing")
            current = None if expires is None else updated
            record.detail = f"expires_at={current.expires_at}" if current else "cleared"
            self.store.write_copy(vm.host, vm.id, current)
            if current is not None or lease is not None:
                self.notify(workflows, vm.id)
        return current

    # -- a create with a lease -----------------------------------------------------------------------------------------

    def arm(self, workflows: WorkflowClient, vm_id: str, host: str, expires_at: str, requested_by: JsonObject) -> Lease:
        """Give a new VM the lease its create asked for and start its workflow (twice: the same lease)."""
        for _ in range(_ATTEMPTS):
            lease, etag = self.store.get_with_etag(vm_id)
            if lease is not None and lease.expires_at == expires_at:
                break
            now = format_moment(self._now())
            if lease is None:
                lease = Lease(vm_id.lower(), expires_at, requested_by, requested_by, now)
            else:
                lease = lease.changed(expires_at, requested_by, now)
            if self.store.put(lease, etag):
                break
        else:
            raise RuntimeError(f"the lease of VM {vm_id} kept changing")
        self.store.write_copy(host, vm_id, lease)
        self.notify(workflows, vm_id)
        return lease

    def notify(self, workflows: WorkflowClient, vm_id: str) -> None:
        """Make the VM's lease workflow re-read its lease: tell the waiting instance, or start one."""
        instance = lease_instance(vm_id)
        status = workflows.status(instance)
        if status is not None and status.active:
            try:
                workflows.raise_event(instance, LEASE_CHANGED, None)
                return
            except Exception:  # it ended just now: start it again
                log.info("lease workflow %s ended before it was told; starting it again", instance)
        try:
            workflows.start(VM_LEASE, instance, self.workflow_input(vm_id))
        except Exception:
            status = workflows.status(instance)
            if status is None or not status.active:
                raise
            workflows.raise_event(instance, LEASE_CHANGED, None)  # started meanwhile: it reads the lease anyway

    # -- the lease workflow's steps ------------------------------------------------------------------------------------

    def check(self, step: LeaseStep) -> LeaseCheck:
        """The lease as the workflow acts on it; a lease whose VM is gone ends (removed, audited)."""
        lease, etag = self.store.get_with_etag(step.vm_id)
        if lease is None:
            return LeaseCheck(active=False)
        vm = self.inventory.get_vm(step.vm_id)
        if vm is None:
            if self.store.delete(step.vm_id, etag):
                self._system_audit("lease_ended", step.vm_id, "the VM is no longer in the inventory")
            return LeaseCheck(active=False)
        self.store.write_copy(vm.host, vm.id, lease)
        expires = parse_moment(lease.expires_at)
        warn_at = expires - timedelta(seconds=self.timing.warning_seconds)
        return LeaseCheck(
            active=True,
            version=lease.version,
            expires_at=lease.expires_at,
            warn_at=format_moment(warn_at),
            warned=lease.warned_at is not None,
            delete_job_id=lease.delete_job_id,
        )

    def warn(self, step: LeaseStep) -> bool:
        """Record the warning of lease version ``step.version`` (once: True if this call recorded it)."""
        for _ in range(_ATTEMPTS):
            lease, etag = self.store.get_with_etag(step.vm_id)
            if lease is None or lease.version != step.version:
                return False
            if lease.warned_at is not None:  # warned already (perhaps by this step's earlier run): announce again
                self._announce(lease)
                return False
            warned = replace(lease, warned_at=format_moment(self._now()))
            if self.store.put(warned, etag):
                vm = self.inventory.get_vm(step.vm_id)
                if vm is not None:
                    self.store.write_copy(vm.host, vm.id, warned)
                self._system_audit("lease_warning", step.vm_id, f"the VM is deleted at {lease.expires_at}")
                self._announce(warned)
                return True
        return False

    def _announce(self, lease: Lease) -> None:
        """Emit ``vm.lease_expiring`` for a warned lease (the same event, however often it is announced)."""
        if self._emit is None:
            return
        vm = self.inventory.get_vm(lease.vm_id)
        self._emit([lease_expiring_event(lease, vm.name if vm else None, vm.host if vm else None)])

    def expire(self, workflows: WorkflowClient, step: LeaseStep) -> str | None:
        """Delete the VM of lease version ``step.version`` by a delete job; its id (``None``: nothing to delete)."""
        lease, etag = self.store.get_with_etag(step.vm_id)
        if lease is None or lease.version != step.version:
            return None
        vm = self.inventory.get_vm(step.vm_id)
        if vm is None:
            self.store.delete(step.vm_id, etag)
            self._system_audit("lease_ended", step.vm_id, "the VM is no longer in the inventory")
            return None
        key = f"lease-{lease.version}-{lease.delete_attempts + 1}"
        try:
            job = self.vms.delete(workflows, vm.id, _SYSTEM, idempotency_key=key)
        except Conflict:  # another job runs on the VM: the workflow tries again after its check interval
            log.info("lease of VM %s expired while another job runs on it; deleting later", vm.id)
            return None
        for _ in range(_ATTEMPTS):
            current, etag = self.store.get_with_etag(step.vm_id)
            if current is None or current.version != step.version or current.delete_job_id == job.id:
                break
            expired = replace(
                current,
                expired_at=current.expired_at or format_moment(self._now()),
                delete_job_id=job.id,
                delete_attempts=current.delete_attempts + 1,
            )
            if self.store.put(expired, etag):
                self.store.write_copy(vm.host, vm.id, expired)
                self._system_audit("lease_expired", step.vm_id, f"delete job {job.id}", job_id=job.id)
                break
        return job.id

    def _system_audit(self, action: str, vm_id: str, detail: str, *, job_id: str | None = None) -> None:
        try:
            self.audit.log.record(
                who=SYSTEM_PRINCIPAL.audit(),
                action=action,
                target={"vm_id": vm_id},
                outcome=200,
                job_id=job_id,
                client_ip=None,
                detail=detail,
            )
        except Exception:
            log.exception("audit record for %s failed", action)
