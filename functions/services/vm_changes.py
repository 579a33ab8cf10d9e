"""Day-2 changes to a VM as jobs: resize and notes, data disks, network adapters, checkpoints, migration.

Each write looks the VM (and what it names: a disk, an adapter, a checkpoint, a host) up, refuses what cannot work
before anything is touched — ``NotFound`` (404) for what does not exist, :class:`InvalidRequest` (422) for a value
the VM or host cannot take, naming every problem at once, :class:`InvalidState` (409) for a rule of Hyper-V's that
the VM's state or contents break, naming the rule — then submits a ``change_vm`` job for the VM (one job per VM at a
time: another job on it is a 409) and audits the outcome with the job id. A VM whose host is disconnected (stale)
is judged on the host by the job instead. The rules are those of ``docs/vm-changes.md``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from functions.errors import Conflict, HostNotConfigured, HostUnavailable, InvalidRequest, InvalidState, NotFound
from functions.hyperv.connector import HostConnector
from functions.hyperv.errors import HyperVError
from functions.inventory.repository import InventoryRepository
from functions.jobs.submission import JobRequest, JobSubmitter, WorkflowClient
from functions.models.inventory import HostRecord, VmRecord
from functions.models.jobs import Job, JobTarget
from functions.models.json import JsonObject
from functions.models.problems import Problem
from functions.models.vm_changes import (
    CheckpointApplyRequest,
    CheckpointCreateRequest,
    DiskAddRequest,
    DiskExpandRequest,
    MigrateRequest,
    NicAddRequest,
    NicUpdateRequest,
    VmUpdateRequest,
)
from functions.provisioning.changes import ChangeInput, ChangeKind
from functions.provisioning.contracts import CHANGE_VM
from functions.provisioning.workflow_data import Timing
from functions.services.audit import AuditTrail, Caller

__all__ = ["MAX_CHECKPOINTS", "MAX_NICS", "VmChangeService"]

MAX_NICS = 8
"""Hyper-V's limit of synthetic network adapters per VM."""
MAX_CHECKPOINTS = 50
"""Hyper-V's limit of checkpoints per VM."""
MAX_SCSI_DISKS = 64
"""Disks on the one SCSI controller data disks are added to."""


def _tag(job_id: str) -> str:
    """A short name part that is the job's own (so a rerun of its step finds what the first run made)."""
    return hashlib.sha256(job_id.encode()).hexdigest()[:8]


class VmChangeService:
    """Submits day-2 change jobs (see the module docstring)."""

    def __init__(
        self,
        inventory: InventoryRepository,
        connector: HostConnector,
        submitter: JobSubmitter,
        audit: AuditTrail,
        *,
        timing: Timing,
        migration_max_storage_gb: int = 40,
    ) -> None:
        self.inventory = inventory
        self.connector = connector
        self.submitter = submitter
        self.audit = audit
        self.timing = timing
        self.migration_max_storage_gb = migration_max_storage_gb

    # -- lookups -------------------------------------------------------------------------------------------------------

    def _vm(self, vm_id: str) -> VmRecord:
        vm = self.inventory.get_vm(vm_id)
        if vm is None:
            raise NotFound(f"VM {vm_id} is not in the inventory")
        return vm

    def _host(self, name: str) -> HostRecord:
        host = self.inventory.get_host(name)
        if host is None:
            raise NotFound(f"host {name} is not in the inventory")
        return host

    @staticmethod
    def _item(vm: VmRecord, collection: str, item_id: str, what: str) -> Mapping[str, Any]:
        """The VM's disk or adapter with the API's id (or Hyper-V's: ``hyperv_id``)."""
        wanted = item_id.lower()
        for item in vm.details.get(collection) or ():
            if isinstance(item, Mapping) and wanted in (str(item.get("id", "")).lower(), _hyperv_id(item).lower()):
                return item
        raise NotFound(f"VM {vm.name} has no {what} {item_id}")

    def checkpoints(self, vm_id: str) -> list[JsonObject]:
        """The VM's checkpoints, read from its host now (id, name, created, parent)."""
        vm = self._vm(vm_id)
        try:
            with self.connector.open(vm.host) as client:
                found = client.list_checkpoints(vm.id)
        except HyperVError as exc:
            if exc.category == "VmNotFound":
                raise NotFound(f"VM {vm_id} is no longer on host {vm.host}") from exc
            raise HostUnavailable(vm.host, type(exc).__name__, transient=exc.transient) from exc
        return [checkpoint.model_dump(mode="json") for checkpoint in found]

    # -- resize and notes ----------------------------------------------------------------------------------------------

    def update(
        self, workflows: WorkflowClient, vm_id: str, request: VmUpdateRequest, caller: Caller, *, key: str | None
    ) -> Job:
        """Resize the VM and/or replace its notes."""
        with self.audit.write(caller, "update_vm", {"vm_id": vm_id}) as record:
            vm = self._vm(vm_id)
            host = self._host(vm.host)
            problems: list[Problem] = []
            processors = host.facts.get("logical_processors")
            if request.cpu_cores is not None and isinstance(processors, int) and request.cpu_cores > processors:
                problems.append(
                    Problem("cpu_cores", f"must be at most {processors}, the logical processors of {host.name}")
                )
            total = host.facts.get("total_memory_gb")
            if request.memory_gb is not None and isinstance(total, int | float) and request.memory_gb > total:
                problems.append(Problem("memory_gb", f"must be at most {total:g}, the memory of {host.name}"))
            if problems:
                raise InvalidRequest("see errors", problems)
            startup = vm.details.get("startup_memory_gb", vm.memory_gb)
            resizing = [
                name
                for name, wanted, current in (
                    ("the processor count", request.cpu_cores, vm.cpu_cores),
                    ("the memory", request.memory_gb, startup),
                )
                if wanted is not None and wanted != current
            ]
            rule = f"{' and '.join(resizing)} of a VM can only change while it is Off"
            restart = self._needs_off(vm, rule, request.allow_restart) if resizing else False
            params: JsonObject = {
                "cpu_cores": request.cpu_cores,
                "memory_mb": request.memory_gb * 1024 if request.memory_gb is not None else None,
                "notes": request.notes,
                "previous": _previous_size(vm, request),
            }
            record.job = self._submit(
                workflows, vm, "update_vm", params, body=request, caller=caller, key=key, restart=restart
            )
        return record.job

    def _needs_off(self, vm: VmRecord, rule: str, allow_restart: bool) -> bool:
        """Whether the job must shut ``vm`` down first, by Hyper-V's ``rule`` (a sentence saying what needs Off)."""
        if vm.stale or vm.state == "Off":
            return False
        rule = f"{rule} (VM {vm.name} is {vm.state})"
        if vm.state != "Running":
            raise InvalidState(f"{rule}; turn it off first", vm.state)
        if not allow_restart:
            raise InvalidState(
                f"{rule}; send allow_restart: true to shut it down, change it and start it again", vm.state
            )
        return True

    # -- disks ---------------------------------------------------------------------------------------------------------

    def add_disk(
        self, workflows: WorkflowClient, vm_id: str, request: DiskAddRequest, caller: Caller, *, key: str | None
    ) -> Job:
        """Add a new data disk (dynamic VHDX in the VM's folder, on its SCSI controller)."""
        with self.audit.write(caller, "add_disk", {"vm_id": vm_id}) as record:
            vm = self._vm(vm_id)
            scsi = [d for d in vm.details.get("disks") or () if d.get("controller_type") == "SCSI"]
            if len(scsi) >= MAX_SCSI_DISKS:
                raise InvalidState(
                    f"VM {vm.name} has {MAX_SCSI_DISKS} SCSI disks, the most a controller takes", vm.state
                )

            folder = _vm_folder(vm)

            def params(job_id: str) -> JsonObject:
                file_name = f"{vm.name}-data-{_tag(job_id)}.vhdx"
                path = f"{folder}\\{file_name}" if folder else None  # what a failed job's compensation removes
                return {"size_gb": request.size_gb, "file_name": file_name, "path": path}

            record.job = self._submit(workflows, vm, "add_disk", params, body=request, caller=caller, key=key)
        return record.job

    def expand_disk(
        self,
        workflows: WorkflowClient,
        vm_id: str,
        disk_id: str,
        request: DiskExpandRequest,
        caller: Caller,
        *,
        key: str | None,
    ) -> Job:
        """Grow a disk (never shrink it)."""
        with self.audit.write(caller, "expand_disk", {"vm_id": vm_id, "disk_id": disk_id}) as record:
            vm = self._vm(vm_id)
            disk = self._item(vm, "disks", disk_id, "disk")
            current = disk.get("capacity_gb")
            if isinstance(current, int | float) and request.size_gb <= current:
                raise InvalidRequest(
                    "see errors",
                    [Problem("size_gb", f"must be larger than the disk's current {current:g} GB (disks only grow)")],
                )
            self._unchained(vm, "expanded")
            self._online_on_scsi(vm, disk, "expanded")
            params = {"disk_id": _hyperv_id(disk), "size_gb": request.size_gb}
            record.job = self._submit(workflows, vm, "expand_disk", params, body=request, caller=caller, key=key)
        return record.job

    def remove_disk(
        self, workflows: WorkflowClient, vm_id: str, disk_id: str, caller: Caller, *, key: str | None
    ) -> Job:
        """Detach a data disk and delete its file."""
        with self.audit.write(caller, "remove_disk", {"vm_id": vm_id, "disk_id": disk_id}) as record:
            vm = self._vm(vm_id)
            disk = self._item(vm, "disks", disk_id, "disk")
            if disk.get("boot"):
                raise InvalidState(f"disk {disk.get('name')} is the boot disk of VM {vm.name}; delete the VM", vm.state)
            self._unchained(vm, "removed")
            self._online_on_scsi(vm, disk, "removed")
            params = {"disk_id": _hyperv_id(disk), "path": str(disk.get("path") or "")}
            record.job = self._submit(
                workflows, vm, "remove_disk", params, body={"disk_id": disk_id}, caller=caller, key=key
            )
        return record.job

    @staticmethod
    def _unchained(vm: VmRecord, action: str) -> None:
        count = int(vm.details.get("checkpoint_count") or 0)
        if count and not vm.stale:
            raise InvalidState(
                f"a disk of a VM with checkpoints cannot be {action} (VM {vm.name} has {count}: its disks are "
                "differencing chains); delete the checkpoints first",
                vm.state,
            )

    @staticmethod
    def _online_on_scsi(vm: VmRecord, disk: Mapping[str, Any], action: str) -> None:
        if disk.get("controller_type") == "IDE" and vm.state != "Off" and not vm.stale:
            raise InvalidState(
                f"a disk on an IDE controller can only be {action} while the VM is Off (it is {vm.state})", vm.state
            )

    # -- network adapters ----------------------------------------------------------------------------------------------

    def _switch_problems(self, host: HostRecord, network: str | None) -> list[Problem]:
        if network is None:
            return []
        switches = [str(s.get("name")) for s in host.facts.get("switches") or () if isinstance(s, Mapping)]
        if any(network.lower() == name.lower() for name in switches):
            return []
        listed = ", ".join(sorted(switches)) or "none"
        return [Problem("network", f"host {host.name} has no switch '{network}' (it has: {listed})")]

    @staticmethod
    def _hot_plug(vm: VmRecord, action: str) -> None:
        if vm.details.get("generation") == 1 and vm.state != "Off" and not vm.stale:
            raise InvalidState(
                f"a network adapter of a generation 1 VM can only be {action} while it is Off (it is {vm.state})",
                vm.state,
            )

    def add_nic(
        self, workflows: WorkflowClient, vm_id: str, request: NicAddRequest, caller: Caller, *, key: str | None
    ) -> Job:
        """Add a network adapter on a switch of the VM's host."""
        with self.audit.write(caller, "add_nic", {"vm_id": vm_id}) as record:
            vm = self._vm(vm_id)
            problems = self._switch_problems(self._host(vm.host), request.network)
            if problems:
                raise InvalidRequest("see errors", problems)
            if len(vm.details.get("networks") or ()) >= MAX_NICS:
                raise InvalidState(f"VM {vm.name} has {MAX_NICS} network adapters, the most Hyper-V allows", vm.state)
            self._hot_plug(vm, "added")

            def params(job_id: str) -> JsonObject:
                return {"switch": request.network, "vlan_id": request.vlan_id, "name": f"nic-{_tag(job_id)}"}

            record.job = self._submit(workflows, vm, "add_nic", params, body=request, caller=caller, key=key)
        return record.job

    def update_nic(
        self,
        workflows: WorkflowClient,
        vm_id: str,
        nic_id: str,
        request: NicUpdateRequest,
        caller: Caller,
        *,
        key: str | None,
    ) -> Job:
        """Reconnect an adapter to another switch and/or change its VLAN."""
        with self.audit.write(caller, "update_nic", {"vm_id": vm_id, "nic_id": nic_id}) as record:
            vm = self._vm(vm_id)
            nic = self._item(vm, "networks", nic_id, "network adapter")
            problems = self._switch_problems(self._host(vm.host), request.network)
            if problems:
                raise InvalidRequest("see errors", problems)
            vlan = request.vlan_id if "vlan_id" in request.model_fields_set else nic.get("vlan_id")
            previous = {"switch": nic.get("switch"), "vlan_id": nic.get("vlan_id")}
            params = {"nic_id": _hyperv_id(nic), "switch": request.network, "vlan_id": vlan, "previous": previous}
            body = {"nic_id": nic_id, **request.model_dump(exclude_unset=True)}
            record.job = self._submit(workflows, vm, "update_nic", params, body=body, caller=caller, key=key)
        return record.job

    def remove_nic(self, workflows: WorkflowClient, vm_id: str, nic_id: str, caller: Caller, *, key: str | None) -> Job:
        """Remove a network adapter (never the VM's last)."""
        with self.audit.write(caller, "remove_nic", {"vm_id": vm_id, "nic_id": nic_id}) as record:
            vm = self._vm(vm_id)
            nic = self._item(vm, "networks", nic_id, "network adapter")
            if len(vm.details.get("networks") or ()) <= 1:
                raise InvalidState(
                    f"adapter {nic.get('name')} is the last network adapter of VM {vm.name}; a VM keeps at least one "
                    "(add another first)",
                    vm.state,
                )
            self._hot_plug(vm, "removed")
            params = {"nic_id": _hyperv_id(nic)}
            record.job = self._submit(
                workflows, vm, "remove_nic", params, body={"nic_id": nic_id}, caller=caller, key=key
            )
        return record.job

    # -- checkpoints ---------------------------------------------------------------------------------------------------

    def _checkpoint(self, vm_id: str, checkpoint_id: str) -> JsonObject:
        for checkpoint in self.checkpoints(vm_id):
            if str(checkpoint.get("id", "")).lower() == checkpoint_id.lower():
                return checkpoint
        raise NotFound(f"VM {vm_id} has no checkpoint {checkpoint_id}")

    def create_checkpoint(
        self,
        workflows: WorkflowClient,
        vm_id: str,
        request: CheckpointCreateRequest,
        caller: Caller,
        *,
        key: str | None,
    ) -> Job:
        """Make a production checkpoint with a name unique on the VM."""
        with self.audit.write(caller, "create_checkpoint", {"vm_id": vm_id}) as record:
            vm = self._vm(vm_id)
            existing = self.checkpoints(vm_id)
            if any(str(c.get("name", "")).lower() == request.name.lower() for c in existing):
                raise Conflict(f"VM {vm.name} already has a checkpoint named {request.name!r}")
            if len(existing) >= MAX_CHECKPOINTS:
                raise InvalidState(f"VM {vm.name} has {MAX_CHECKPOINTS} checkpoints, the most Hyper-V keeps", vm.state)
            params = {"name": request.name}
            record.job = self._submit(workflows, vm, "create_checkpoint", params, body=request, caller=caller, key=key)
        return record.job

    def apply_checkpoint(
        self,
        workflows: WorkflowClient,
        vm_id: str,
        checkpoint_id: str,
        request: CheckpointApplyRequest,
        caller: Caller,
        *,
        key: str | None,
    ) -> Job:
        """Revert the VM to a checkpoint (a running VM only with ``allow_restart``)."""
        target = {"vm_id": vm_id, "checkpoint_id": checkpoint_id}
        with self.audit.write(caller, "apply_checkpoint", target) as record:
            vm = self._vm(vm_id)
            checkpoint = self._checkpoint(vm_id, checkpoint_id)
            restart = False
            if vm.state not in ("Off", "Saved") and not vm.stale:
                rule = "Hyper-V applies a checkpoint only to a VM that is Off or Saved"
                restart = self._needs_off(vm, rule, request.allow_restart)
            params = {"checkpoint_id": str(checkpoint["id"])}
            body = {"checkpoint_id": checkpoint_id, **request.model_dump()}
            record.job = self._submit(
                workflows, vm, "apply_checkpoint", params, body=body, caller=caller, key=key, restart=restart
            )
        return record.job

    def remove_checkpoint(
        self, workflows: WorkflowClient, vm_id: str, checkpoint_id: str, caller: Caller, *, key: str | None
    ) -> Job:
        """Delete a checkpoint (Hyper-V merges its differencing disks)."""
        target = {"vm_id": vm_id, "checkpoint_id": checkpoint_id}
        with self.audit.write(caller, "remove_checkpoint", target) as record:
            vm = self._vm(vm_id)
            checkpoint = self._checkpoint(vm_id, checkpoint_id)
            params = {"checkpoint_id": str(checkpoint["id"])}
            record.job = self._submit(workflows, vm, "remove_checkpoint", params, body=target, caller=caller, key=key)
        return record.job

    # -- migration -----------------------------------------------------------------------------------------------------

    def migrate(
        self, workflows: WorkflowClient, vm_id: str, request: MigrateRequest, caller: Caller, *, key: str | None
    ) -> Job:
        """Live-migrate the VM: within its failover cluster, or with its storage to a stand-alone host."""
        with self.audit.write(caller, "migrate_vm", {"vm_id": vm_id, "host": request.host}) as record:
            vm = self._vm(vm_id)
            if not self.connector.is_configured(request.host):
                raise HostNotConfigured(request.host)
            destination = self._host(request.host)
            problems = self._migration_problems(vm, destination, request)
            if problems:
                raise InvalidRequest("see errors", problems)
            self._migration_state(vm, destination)
            if not vm.clustered:
                self._migration_size(vm)
            storage = request.storage_path
            default = destination.facts.get("default_vm_path")
            if storage is None and not vm.clustered and isinstance(default, str) and default:
                storage = default.rstrip("\\") + "\\" + vm.name  # what Move-VM would use: known, so it can be undone
            params = {
                "destination": destination.name,
                "storage_path": storage,
                "clustered": vm.clustered,
                "vm_name": vm.name,
            }
            record.job = self._submit(workflows, vm, "migrate_vm", params, body=request, caller=caller, key=key)
        return record.job

    @staticmethod
    def _migration_problems(vm: VmRecord, destination: HostRecord, request: MigrateRequest) -> list[Problem]:
        problems: list[Problem] = []
        if destination.name.lower() == vm.host.lower():
            problems.append(Problem("host", f"VM {vm.name} is on {vm.host} already"))
        if vm.clustered and destination.cluster != vm.cluster:
            problems.append(Problem("host", f"a clustered VM moves only between the nodes of its cluster {vm.cluster}"))
        if vm.clustered and request.storage_path is not None:
            problems.append(Problem("storage_path", "a clustered VM's files stay on the cluster's shared volumes"))
        return problems

    @staticmethod
    def _migration_state(vm: VmRecord, destination: HostRecord) -> None:
        if vm.stale:
            raise InvalidState(
                f"host {vm.host} of VM {vm.name} is disconnected; a VM moves from a connected host", None
            )
        if not destination.connected:
            raise InvalidState(f"host {destination.name} is disconnected", None)
        facts = destination.facts
        switches = {str(s.get("name")).lower() for s in facts.get("switches") or () if isinstance(s, Mapping)}
        needed = sorted({str(n.get("switch")) for n in vm.details.get("networks") or () if n.get("switch")})
        missing = [name for name in needed if name.lower() not in switches]
        if missing:
            raise InvalidState(
                f"host {destination.name} has no switch {', '.join(repr(m) for m in missing)} that VM {vm.name}'s "
                "adapters use",
                vm.state,
            )
        free = facts.get("free_memory_gb")
        memory = vm.memory_gb or 0
        if vm.state == "Running" and isinstance(free, int | float) and memory > free:
            raise InvalidState(
                f"host {destination.name} has {free:g} GB of free memory; running VM {vm.name} needs {memory:g} GB",
                vm.state,
            )

    def _migration_size(self, vm: VmRecord) -> None:
        """Refuse a shared-nothing move that copies more than the setting allows (it runs inside one activity)."""
        sizes = [d.get("file_size_gb") or d.get("capacity_gb") or 0 for d in vm.details.get("disks") or ()]
        total = sum(size for size in sizes if isinstance(size, int | float))
        limit = self.migration_max_storage_gb
        if total > limit:
            raise InvalidState(
                f"moving VM {vm.name} between stand-alone hosts copies {total:g} GB of disk files, more than "
                f"AETHERV_MIGRATION_MAX_STORAGE_GB ({limit}): the copy must end within the function timeout; "
                "move its storage separately or raise the setting with a longer functionTimeout",
                vm.state,
            )

    # -- submission ----------------------------------------------------------------------------------------------------

    def _submit(
        self,
        workflows: WorkflowClient,
        vm: VmRecord,
        kind: ChangeKind,
        params: JsonObject | Callable[[str], JsonObject],
        *,
        body: Any,
        caller: Caller,
        key: str | None,
        restart: bool = False,
    ) -> Job:
        def build(job_id: str) -> ChangeInput:
            values = params(job_id) if callable(params) else params
            return ChangeInput(job_id, vm.host, vm.id, kind, self.timing, values, restart=restart)

        document = body.model_dump(mode="json") if hasattr(body, "model_dump") else body
        submission = self.submitter.submit(
            workflows,
            JobRequest(
                kind=kind,
                orchestration=CHANGE_VM,
                target=JobTarget(host=vm.host, name=vm.name, vm_id=vm.id),
                claim=vm.id,
                scope="vm",
                build_input=build,
                requested_by=caller.requester,
                body={"vm_id": vm.id, **document},
                idempotency_key=key,
                request=_request(document),
                dedupe=False,
            ),
        )
        return submission.job


def _previous_size(vm: VmRecord, request: VmUpdateRequest) -> JsonObject:
    """What the VM had of what ``request`` changes (what a failed job's compensation puts back)."""
    previous: JsonObject = {}
    startup = vm.details.get("startup_memory_gb", vm.memory_gb)
    if request.cpu_cores is not None and vm.cpu_cores is not None:
        previous["cpu_cores"] = vm.cpu_cores
    if request.memory_gb is not None and isinstance(startup, int | float):
        previous["memory_mb"] = round(startup * 1024 / 2) * 2  # Hyper-V counts memory in 2 MB units
    if request.notes is not None:
        previous["notes"] = str(vm.details.get("notes") or "")
    return previous


def _vm_folder(vm: VmRecord) -> str | None:
    """The VM's own folder as the host finds it: its boot disk's folder, else its configuration folder."""
    for disk in vm.details.get("disks") or ():
        if isinstance(disk, Mapping) and disk.get("boot") and "\\" in str(disk.get("path") or ""):
            return str(disk["path"]).rsplit("\\", 1)[0]
    configuration = vm.details.get("configuration_path")
    return str(configuration).rstrip("\\") if configuration else None


def _hyperv_id(item: Mapping[str, Any]) -> str:
    """Hyper-V's id of a disk or adapter the inventory lists (what the host operations take)."""
    return str(item.get("hyperv_id") or item["id"])


def _request(document: Mapping[str, Any] | Sequence[Any]) -> JsonObject | None:
    """What the job record keeps of the request (every change body is plain, secret-free JSON)."""
    return dict(document) if isinstance(document, Mapping) else None
