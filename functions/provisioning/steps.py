"""The I/O behind each workflow step: one method per step, called by a thin activity.

:class:`Provisioner` takes its collaborators in its constructor (the host connector, the inventory and its sync,
the job store and the sealing key). Each method opens one WinRM client for the host (one shell, closed at the end),
does one step, and returns a small typed result. They are safe to run twice (activities are at-least-once): the
Hyper-V operations are idempotent, and the guest steps tolerate a retry. Guest secrets are unsealed only in
:meth:`Provisioner.publish_guest_data`.
"""

from __future__ import annotations

import base64
import logging

from functions.errors import StepError
from functions.guest import kvp, names
from functions.guest.capabilities import is_hlvmm_era_version, public_key_fingerprint
from functions.guest.status import ensure_fresh_guest_pool, read_guest_status
from functions.hyperv.connector import HostConnector
from functions.hyperv.errors import HyperVError
from functions.hyperv.models import (
    ClusterChange,
    CreateVmSpec,
    HostOperation,
    OperationStopped,
    OsFamily,
    OwnedRemoval,
    PowerResult,
    PreflightSpec,
    PreparedDisk,
    PrepareDiskSpec,
)
from functions.inventory.repository import InventoryRepository
from functions.inventory.sync import HostSync
from functions.ippools.store import PoolStore
from functions.joblog.capture import note, redact
from functions.joblog.entries import Level
from functions.jobs.debts import CleanupDebts
from functions.jobs.records import JobStore
from functions.models.inventory import HostSyncSummary
from functions.models.jobs import JobPatch, JobStatus
from functions.provisioning.change_steps import run_change
from functions.provisioning.changes import ChangePayload, ChangeResult
from functions.provisioning.guest_checks import host_nonce, judge_guest, publish_warnings, refuse_before_publishing
from functions.provisioning.guest_payloads import (
    GuestCheck,
    GuestFinished,
    GuestStatusResult,
    PublishPayload,
    PublishResult,
    StartPayload,
    StartResult,
)
from functions.provisioning.payloads import (
    CleanupPayload,
    CleanupResult,
    CreatedVm,
    CreatePayload,
    DebtPayload,
    DebtRecorded,
    JobUpdate,
    JobUpdateResult,
    OperationRef,
    Placement,
    PlacePayload,
    PowerPayload,
    PreflightPayload,
    PreflightResult,
    PrepareDiskPayload,
    RemovedVm,
    StartOperationPayload,
    VmSummary,
    VmTarget,
)
from functions.provisioning.workflow_data import CleanupReport, CleanupStatus, PoolAddress
from functions.sealing import unseal_json
from functions.settings import Secret

__all__ = ["Provisioner"]

log = logging.getLogger(__name__)


class Provisioner:
    """The workflow steps (see the module docstring)."""

    def __init__(
        self,
        connector: HostConnector,
        *,
        inventory: InventoryRepository,
        sync: HostSync,
        jobs: JobStore,
        debts: CleanupDebts,
        seal_key: Secret,
        pools: PoolStore | None = None,
    ) -> None:
        self.connector = connector
        self.pools = pools
        self.inventory = inventory
        self.sync = sync
        self.jobs = jobs
        self.debts = debts
        self._seal_key = seal_key
        self._finished_jobs: set[str] = set()  # create jobs whose VMs are meant to stay (a cache of final facts)

    # -- create ------------------------------------------------------------------------------------------------------

    def place(self, payload: PlacePayload) -> Placement:
        """Pick the connected host with the most free memory that has the image and the switch (ties: by name)."""
        request = payload.request
        hosts = [h for h in self.inventory.list_hosts() if h.connected and self.connector.is_configured(h.name)]
        hosts.sort(key=lambda h: (-h.free_memory_gb, h.name.lower()))  # ties are broken by name: deterministic
        reasons: list[str] = []
        for host in hosts:
            taken = self.inventory.iter_vms(host=host.name, name_prefix=request.name)
            if any(vm.name.lower() == request.name.lower() for vm in taken):
                reasons.append(f"{host.name}: a VM named {request.name} exists")
                continue
            if host.free_memory_gb < float(request.memory_gb):
                reasons.append(f"{host.name}: {host.free_memory_gb:g} GB free memory")
                continue
            try:
                with self.connector.open(host.name) as client:
                    if request.image and request.image not in {i.name for i in client.list_images()}:
                        reasons.append(f"{host.name}: no image '{request.image}'")
                        continue
                    if request.network and request.network not in {s.name for s in client.list_switches()}:
                        reasons.append(f"{host.name}: no switch '{request.network}'")
                        continue
            except HyperVError as exc:
                reasons.append(f"{host.name}: {type(exc).__name__}")
                continue
            return Placement(host=host.name, cluster=host.cluster if host.clustered else None)
        detail = "; ".join(reasons) if reasons else "no connected hosts in the inventory"
        raise StepError("NoSuitableHost", f"no host can take the VM ({detail})")

    def preflight(self, payload: PreflightPayload) -> PreflightResult:
        """Check the request against the host: name free, image, switch, memory and disk space (all problems)."""
        request = payload.request
        spec = PreflightSpec(
            name=request.name,
            image_name=request.image,
            switch_name=request.network,
            memory_gb=float(request.memory_gb),
            disk_gb=request.disk_gb,
        )
        version: str | None = None
        with self.connector.open(payload.host) as client:
            if payload.guest:  # one command: the checks and the ISO library's protocol version
                report, library = client.preflight_with_library(spec)
                version = library.version
            else:
                report = client.preflight_create(spec)
        failed = [check.message or check.name for check in report.checks if not check.ok]
        if payload.guest and not version:
            failed.append("the host's provisioning ISO library has no version file: install the ISOs (make isos)")
        elif payload.guest and is_hlvmm_era_version(version):
            failed.append(
                f"the host's provisioning ISOs are HLVMM-era (version {version}): their guest agent never reports "
                "completion; install the current ISOs (make isos)"
            )
        if failed:
            raise StepError("PreflightFailed", "; ".join(failed))
        return PreflightResult(target_volume=report.target_volume)

    def prepare_disk(self, payload: PrepareDiskPayload) -> PreparedDisk:
        """Clone the image (grown to ``disk_gb``) or create a blank disk in the VM's new folder."""
        request = payload.request
        spec = PrepareDiskSpec(
            vm_name=request.name, job_id=payload.job_id, image_name=request.image, disk_gb=request.disk_gb
        )
        with self.connector.open(payload.host) as client:
            return client.prepare_disk(spec)

    # -- long host work in the background ---------------------------------------------------------------------------

    def start_operation(self, payload: StartOperationPayload) -> HostOperation:
        """Start the step's long work on the host as a background operation (one short WinRM call); returns it.

        The host finds an operation id it already has and returns it as it is, so a repeated activity never starts
        the work twice. ``prepare_disk``: the disk :meth:`prepare_disk` would make, the image copied on the host.
        """
        if payload.kind != "prepare_disk":
            raise StepError("InvalidParameters", f"hosts run no background operation of kind {payload.kind!r}")
        request = payload.request
        spec = PrepareDiskSpec(
            vm_name=request.name, job_id=payload.job_id, image_name=request.image, disk_gb=request.disk_gb
        )
        with self.connector.open(payload.host) as client:
            return client.start_operation(
                "prepare_disk", payload.operation_id, spec, time_limit_seconds=payload.time_limit_seconds
            )

    def operation_status(self, payload: OperationRef) -> HostOperation:
        """A background operation's state, progress and result (one short WinRM call; nothing is waited for)."""
        with self.connector.open(payload.host) as client:
            return client.operation_status(payload.operation_id, payload.folder)

    def stop_operation(self, payload: OperationRef) -> OperationStopped:
        """Stop a background operation's work on the host (what it wrote stays for the compensation)."""
        with self.connector.open(payload.host) as client:
            return client.stop_operation(payload.operation_id, payload.folder)

    def create(self, payload: CreatePayload) -> CreatedVm:
        """Register the VM around the prepared disk (generation 2, CPU, memory, NIC/VLAN, provisioning DVD)."""
        request = payload.request
        spec = CreateVmSpec(
            name=request.name,
            job_id=payload.job_id,
            disk_path=payload.disk.path,
            cpu_count=int(request.cpu_cores),
            memory_gb=float(request.memory_gb),
            os_family="windows" if payload.os_family == "windows" else "linux",
            switch_name=request.network,
            vlan_id=request.vlan_id,
            attach_provisioning_iso=bool(request.image),
        )
        with self.connector.open(payload.host) as client:
            vm_id = client.register_vm(spec)
        return CreatedVm(vm_id=vm_id)

    def start_and_announce(self, payload: StartPayload) -> StartResult:
        """Start the VM; for guest provisioning, clean the host's KVP items and announce ``waitingforpublickey``.

        The version is written before the state (guest-protocol.md D6). A VM started by this call must have an empty
        guest pool (a left-over provisioning state means the disk was provisioned before: D16).
        """
        vm_id = _vm(payload)
        with self.connector.open(payload.host) as client:
            if not payload.announce:
                return StartResult(started=client.start_vm(vm_id, if_needed=True).changed)
            announcement = {
                names.HOST_NONCE_KEY: self._nonce(payload.job_id, vm_id),
                names.HOST_STATE_KEY: names.HostState.WAITING_FOR_PUBLIC_KEY,
            }
            start = client.start_and_announce(  # one command: pool, start, pool again, ISO version, announcement
                vm_id,
                announcement,
                version_key=names.VERSION_KEY,
                guest_state_key=names.GUEST_STATE_KEY,
                remove_prefix=names.PREFIX,
            )
            before, started, version = start.before.guest, start.power, start.library.version
            if started.changed:
                ensure_fresh_guest_pool(start.after.guest)
            if not version:
                raise StepError("ImageNotFound", "the host's provisioning ISO library has no version file")
            if not start.announced:  # a guest state the protocol does not count as one: announce now
                client.write_host_kvp(vm_id, {names.VERSION_KEY: version, **announcement}, remove_prefix=names.PREFIX)
        key = kvp.reassemble(before, names.GUEST_PUBLIC_KEY_KEY)
        pre_start = public_key_fingerprint(key) if key and key.strip() else None
        return StartResult(started=started.changed, version=version, pre_start_key=pre_start)

    def _nonce(self, job_id: str, vm_id: str) -> str:
        return host_nonce(base64.b64decode(self._seal_key.reveal()), job_id, vm_id)

    def guest_status(self, payload: GuestCheck) -> GuestStatusResult:
        """The guest's provisioning state and error summary (one short WinRM call; no connection is held).

        A :class:`GuestCheck` from workflow version 3 (it carries the start's ``version``) also judges the key and
        the agent and reads the guest's integration services (see :mod:`functions.provisioning.guest_checks`).
        """
        with self.connector.open(payload.host) as client:
            kvp_items = client.read_guest_kvp(_vm(payload))
        if payload.version is not None:
            nonce = self._nonce(payload.job_id, _vm(payload))
            result = judge_guest(kvp_items.guest, kvp_items.intrinsic, payload, nonce)
        else:
            status = read_guest_status(kvp_items.guest)
            result = GuestStatusResult(
                state=str(status.guest_state) if status.guest_state is not None else None,
                error_summary=status.error_summary,
                public_key_present=status.public_key_fingerprint is not None,
            )
        if result.state != payload.last_state and result.state is not None:
            level: Level = "error" if result.state == "provisioningfailed" else "info"
            summary = f" ({result.error_summary})" if result.error_summary else ""
            change = f"{payload.last_state} → {result.state}" if payload.last_state else result.state
            note(level, "guest", f"guest state: {change}{summary}")
        return result

    def publish_guest_data(self, payload: PublishPayload) -> PublishResult:
        """Unseal the guest values, encrypt them to the guest's key and write them (checksum, AES key, data)."""
        if payload.sealed_guest is None:
            raise StepError("InvalidParameters", "this job has no guest data to publish")
        values: dict[str, str] = unseal_json(payload.sealed_guest, payload.job_id, key=self._seal_key)
        redact(*(value for name, value in values.items() if name.endswith("_pw")))  # never in the job's log
        family: OsFamily = "windows" if payload.os_family == "windows" else "linux"
        problems = kvp.guest_compatibility_problems(values, family)
        if problems:
            raise StepError("InvalidParameters", "; ".join(f"{key}: {text}" for key, text in sorted(problems.items())))
        vm_id = _vm(payload)
        agent: str | None = None
        warnings: tuple[str, ...] = ()
        with self.connector.open(payload.host) as client:
            guest = client.read_guest_kvp(vm_id).guest
            public_key = kvp.reassemble(guest, names.GUEST_PUBLIC_KEY_KEY)
            if not public_key:
                raise StepError(
                    "GuestProtocolError", "the guest has not published its provisioning key", transient=True
                )
            if payload.check_agent:
                check = GuestCheck(
                    job_id=payload.job_id,
                    host=payload.host,
                    vm_id=vm_id,
                    os_family=family,
                    version=payload.version,
                    pre_start_key=payload.pre_start_key,
                )
                assessment = refuse_before_publishing(guest, values, check, self._nonce(payload.job_id, vm_id))
                mark = assessment.mark
                agent = f"{mark.agent}/{mark.version}" if mark else str(assessment.generation)
                warnings = publish_warnings(values, assessment)
            items = kvp.build_host_items(public_key, values)
            client.write_host_kvp(vm_id, items, remove_prefix=names.DATA_PREFIX)
        return PublishResult(items=len(items), agent=agent, warnings=warnings)

    def signal_published(self, payload: VmTarget) -> None:
        """Tell the guest its data is complete (``provisioningdatapublished``)."""
        with self.connector.open(payload.host) as client:
            client.write_host_kvp(_vm(payload), {names.HOST_STATE_KEY: names.HostState.DATA_PUBLISHED})

    def finish_guest(self, payload: VmTarget) -> GuestFinished:
        """Eject and delete the provisioning ISO and remove every ``hlvmm.`` host item (ciphertexts, wrapped key)."""
        vm_id = _vm(payload)
        with self.connector.open(payload.host) as client:
            ejected = client.finish_guest(vm_id, names.PREFIX)  # one command: eject, then clear the host items
        return GuestFinished(removed_drives=ejected.removed_drives)

    def cluster_add(self, payload: VmTarget) -> ClusterChange:
        """Make the VM a clustered role (after the guest is configured: the VM must not move before)."""
        with self.connector.open(payload.host) as client:
            return client.add_to_cluster(_vm(payload))

    def cluster_remove(self, payload: VmTarget) -> ClusterChange:
        """Remove the VM's cluster role (the VM stays)."""
        with self.connector.open(payload.host) as client:
            return client.remove_from_cluster(_vm(payload))

    def cleanup(self, payload: CleanupPayload) -> CleanupResult:
        """Compensation: remove what the job owns on the host, found by its marks, and its VM rows from the tables.

        Never by a returned id alone (a VM whose create reply was lost has none) and never anything without the
        job's mark; the report says what was found and removed on the host and in the tables.
        """
        with self.connector.open(payload.host) as client:
            report = client.remove_owned(payload.job_id, payload.name)
        rows = [vm_id for vm_id in {*report.vms_removed, *([payload.vm_id] if payload.vm_id else [])}]
        for vm_id in rows:
            self.inventory.remove_vm(payload.host, vm_id)
        return CleanupResult(
            summary=_cleanup_summary(report),
            existed=bool(report.vms_removed),
            folder_removed=bool(report.folders_removed),
            host=report,
            inventory_rows_removed=tuple(sorted(rows)),
        )

    def record_cleanup_debt(self, payload: DebtPayload) -> DebtRecorded:
        """Record a compensation the host could not take now; the inventory sync settles it later."""
        debt = self.debts.record(payload.host, payload.job_id, payload.name, payload.vm_id, payload.error)
        return DebtRecorded(since=debt.since)

    def settle_cleanup_debts(self, host: str) -> int:
        """Settle the host's cleanup debts (it answers now): remove what each job owns, finish its job's cleanup.

        Returns how many were settled. A debt that fails again stays, with its attempt counted; a host that does not
        answer leaves every debt for the next sync.
        """
        settled = 0
        for debt in self.debts.pending(host):
            try:
                result = self.cleanup(
                    CleanupPayload(job_id=debt.job_id, host=host, vm_id=debt.vm_id, name=debt.vm_name)
                )
            except HyperVError as exc:
                self.debts.attempted(debt, f"{type(exc).__name__}: {exc}")
                if exc.transient:
                    return settled  # the host went away again: the next sync tries the rest
                continue
            report = CleanupReport(
                CleanupStatus.SUCCEEDED,
                actions=(f"{result.summary} (by a later inventory sync of {host})",),
                pending_since=debt.since,
                settled_at=self.debts.now(),
                host=result.host.model_dump(mode="json") if result.host else None,
                tables={"vm_rows_removed": list(result.inventory_rows_removed or ())},
            )
            self.jobs.update(debt.job_id, JobPatch(cleanup=report.to_json()))
            self.debts.settle(debt)
            settled += 1
        return settled

    def sync_host(self, host: str) -> HostSyncSummary:
        """One host's inventory sync: settle its cleanup debts, collect and store it, then look for orphans.

        An orphan is a VM carrying the mark of a create job that ended without it (failed or canceled, not kept):
        its job's compensation ran before the host finished making it, or missed it. It becomes a debt and is
        removed at once (or by a later sync), so nothing a failed job made outlives it.
        """
        if not self.connector.is_configured(host):
            return self.sync.collect_and_store(host)
        self._settle(host)
        summary = self.sync.collect_and_store(host)
        if summary.ok and self._find_orphans(host):
            self._settle(host)
            summary = self.sync.collect_and_store(host)
        return summary

    def _settle(self, host: str) -> None:
        try:
            self.settle_cleanup_debts(host)
        except Exception:  # the sync reports the host's state whatever happens to its debts
            log.exception("settling the cleanup debts of %s failed", host)

    def _find_orphans(self, host: str) -> int:
        """Record a debt for each VM on ``host`` whose mark names a create that failed; how many were found.

        Looks only at the marked VMs of the collection just stored (never a read of the host's inventory rows).
        """
        found = 0
        marked = [vm for vm in self.sync.marked_vms(host) if vm.job_id not in self._finished_jobs]
        if not marked:
            return 0
        pending = {debt.job_id for debt in self.debts.pending(host)}
        for vm in marked:
            owner = vm.job_id
            if owner in pending or owner in self._finished_jobs:
                continue
            job = self.jobs.get(owner)
            if job is None or not job.final:
                continue
            kept = job.cleanup is not None and job.cleanup.get("status") == str(CleanupStatus.SKIPPED)
            if job.status == JobStatus.SUCCEEDED or kept or job.kind != "create_vm":
                self._finished_jobs.add(owner)  # its VMs are meant to stay: never look again
                continue
            log.warning("inventory: %s carries the mark of %s job %s; removing it", vm.name, job.status, owner)
            self.debts.record(host, owner, vm.name, vm.vm_id, f"found after the job ended {job.status}")
            pending.add(owner)
            found += 1
        return found

    def refresh_and_describe(self, payload: VmTarget) -> VmSummary | None:
        """Refresh the host's inventory entry, then return the VM as the inventory shows it (None if absent)."""
        summary = self.sync_host(payload.host)
        if not summary.ok:
            log.warning("refresh of %s after a workflow step failed: %s", payload.host, summary.error)
        return self.describe_vm(payload.vm_id) if payload.vm_id else None

    def describe_vm(self, vm_id: str) -> VmSummary | None:
        """The VM's inventory summary (state, addresses) or None."""
        vm = self.inventory.get_vm(vm_id)
        if vm is None:
            return None
        return VmSummary(
            id=vm.id,
            name=vm.name,
            host=vm.host,
            state=vm.state,
            ip_addresses=vm.ip_addresses,
            cpu_cores=vm.cpu_cores,
            memory_gb=vm.memory_gb,
            os_family=vm.os_family,
        )

    # -- delete and power --------------------------------------------------------------------------------------------

    def remove(self, payload: VmTarget) -> RemovedVm:
        """Delete a VM: turn it off, uncluster it, remove it with its disks and folder; a missing VM is success."""
        vm_id = _vm(payload)
        with self.connector.open(payload.host) as client:
            try:
                vm = client.get_vm(vm_id)
            except HyperVError as exc:
                if exc.category != "VmNotFound":
                    raise
                vm = None
            if vm is not None:
                if vm.state not in ("Off", "Saved"):
                    client.stop_vm(vm_id)
                if vm.clustered:
                    client.remove_from_cluster(vm_id)
                client.remove_vm(vm_id)
        self.inventory.remove_vm(payload.host, vm_id)
        if self.pools is not None:
            self.pools.release_vm(vm_id)  # its IP pool address, found by the VM id
        return RemovedVm(existed=vm is not None, name=vm.name if vm else None)

    def pool_bind_vm(self, payload: PoolAddress) -> bool:
        """Record the VM id on the job's IP pool address (repeatable); ``False`` if the job holds no such address."""
        return (
            self.pools is not None
            and payload.vm_id is not None
            and self.pools.bind_vm(payload.pool, payload.address, payload.job_id, payload.vm_id)
        )

    def pool_release(self, payload: PoolAddress) -> bool:
        """Give back the job's IP pool address (repeatable); ``False`` if the job no longer holds it."""
        return self.pools is not None and self.pools.release(payload.pool, payload.address, payload.job_id)

    def power(self, payload: PowerPayload) -> PowerResult:
        """Start, stop (turn off), shut down (guest; optional fallback to turn off) or restart a VM."""
        vm_id = _vm(payload)
        with self.connector.open(payload.host) as client:
            if payload.action == "start":
                return client.start_vm(vm_id)
            if payload.action == "stop":
                return client.stop_vm(vm_id)
            if payload.action == "restart":
                return client.restart_vm(vm_id)
            if payload.action == "shutdown":
                try:
                    return client.shutdown_vm(vm_id, timeout_seconds=payload.timeout_seconds)
                except HyperVError as exc:
                    if not payload.force_after_timeout or exc.category not in ("OperationTimeout", "InvalidVmState"):
                        raise
                    return client.stop_vm(vm_id)
        raise StepError("InvalidParameters", f"unknown power action {payload.action!r}")

    def change(self, payload: ChangePayload) -> ChangeResult:
        """One day-2 change on the VM's host (:func:`functions.provisioning.change_steps.run_change`)."""
        return run_change(self.connector, payload)

    def job_update(self, payload: JobUpdate) -> JobUpdateResult:
        """Apply a patch to the job record (status, step, error, result)."""
        job = self.jobs.update(payload.job_id, payload.patch)
        return JobUpdateResult(status=str(job.status) if job else None)


def _cleanup_summary(report: OwnedRemoval) -> str:
    parts = [
        f"removed {len(report.vms_removed)} VM(s) carrying the job's mark" if report.vms_removed else "no VM of the job"
    ]
    if report.deleted_files:
        parts.append(f"deleted {len(report.deleted_files)} file(s)")
    if report.folders_removed:
        parts.append(f"removed {len(report.folders_removed)} folder(s)")
    if report.kept_files:
        parts.append(f"kept {len(report.kept_files)} unknown file(s)")
    if report.not_owned:
        parts.append(f"left {len(report.not_owned)} VM(s) of the same name without the job's mark alone")
    return ", ".join(parts)


def _vm(payload: VmTarget) -> str:
    if not payload.vm_id:
        raise StepError("InvalidParameters", "the step needs the VM's id")
    return payload.vm_id
