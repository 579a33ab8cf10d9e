r"""Migration: ``migrate_vm``, run on the source host; the lab's :class:`~tools.hvsim.models.Backend` knows the others.

Two kinds, chosen by the caller's ``clustered``:

- **cluster**: a clustered VM moves to another node of its failover cluster by live migration of its resource group
  (``MSCluster_ResourceGroup.MoveToNewNodeParams`` with the "Virtual Machine" live-migration type, as OpenStack's
  os-win ``clusterutils._migrate_vm`` does; learn.microsoft.com/previous-versions/windows/desktop/cluswmi/
  mscluster-resourcegroup-movetonewnodeparams). The files stay on the Cluster Shared Volume; the role stays and its
  owner node changes. A destination that is not a node of the VM's cluster is ``ClusterError``. What the cluster
  itself refuses (the destination lacks a switch of the VM's adapters, or memory for a running VM) reaches the
  script only as a failed move, so it is ``ClusterError`` too, naming the cause.
- **shared_nothing**: a stand-alone VM moves with its storage (``Move-VM -DestinationHost -IncludeStorage
  -DestinationStoragePath``; learn.microsoft.com/powershell/module/hyper-v/move-vm). Before moving, the script asks
  the destination (one CIM session) what Move-VM would trip over, and hvsim refuses the same: a destination that does
  not answer (``HostUnreachable``), a VM of that name or id there (``VmAlreadyExists``), a switch of the VM's
  adapters missing there (``SwitchNotFound``), too little free space on the destination volume for every file the
  move copies, or too little free memory for a VM that runs (``InsufficientResources``), and a folder left with files
  at the storage path (an earlier failed attempt: ``VmAlreadyExists``, remove it first).

Both refuse a VM in a transition (Starting, Saving, …: ``InvalidVmState``), a destination that is this host
(``InvalidParameters``) and a ``clustered`` that does not match the VM (``ClusterError``: a clustered VM leaves its
cluster only after ``remove_from_cluster``). A VM with an ISO in a DVD drive is refused for a shared-nothing move
(``InvalidVmState``, eject it first): ``-IncludeStorage`` moves the virtual hard disks, configuration, checkpoints
and smart paging file (Move-VMStorage: "Moves all files associated with a virtual machine" are those), and an ISO
path of the source's disks would not exist on the destination — the stricter reading, as the docs do not say
whether the compatibility check lets it through. The provisioning ISO is ejected when provisioning ends, so a
finished VM has none. On a cluster the ISO copy sits on the CSV next to the VM and moves with it.

A fault (``Backend.migration.faults``) fails the move part-way: the VM stays complete and registered on the source,
the destination keeps the folder and the files copied so far (``ScriptFailed``, Move-VM's own error);
``discard_migration_copy``, run on the destination, removes them. After a successful move the VM is no longer on the
source: a rerun is ``VmNotFound``, and the caller looks on the destination.
"""

from __future__ import annotations

import re
from typing import Any

from tools.hvsim.exceptions import (
    ClusterError,
    HostUnreachable,
    HyperVSimError,
    InsufficientResources,
    InvalidParameters,
    InvalidVmState,
    SwitchNotFound,
    VmAlreadyExists,
)
from tools.hvsim.models import MB, Backend, FakeCluster, FakeHost, FakeVm, join_path, leaf_name
from tools.hvsim.models.migration import complete_move, copy_storage, move_registration, vm_storage
from tools.hvsim.operations.params import text, vm_param

__all__ = ["discard_migration_copy", "migrate_vm"]

_MOVABLE = ("Off", "Running", "Saved", "Paused")
_ROOTED = re.compile(r"^[A-Za-z]:\\")


def _label(name: str) -> str:
    return name.split(".", maxsplit=1)[0].lower()


def _destination(host: FakeHost, name: str) -> FakeHost:
    backend = host.backend
    if not isinstance(backend, Backend):
        raise HyperVSimError("hvsim host has no lab backend")
    if _label(name) in {_label(item) for item in backend.migration.unreachable}:
        raise HostUnreachable(f"the destination host '{name}' cannot be reached (WinRM did not answer)")
    found = next((other for other in backend.hosts.values() if _label(other.name) == _label(name)), None)
    if found is None:
        raise HostUnreachable(f"the destination host '{name}' cannot be reached (the name does not resolve)")
    return found


def _result(vm: FakeVm, source: FakeHost, destination: str, kind: str, storage_path: str | None) -> dict[str, Any]:
    return {
        "vm_id": vm.id,
        "source": source.computer_name,
        "destination": destination,
        "kind": kind,
        "storage_path": storage_path,
        "state": vm.state,
    }


def _cluster_node(host: FakeHost, name: str) -> FakeHost:
    """The node of the host's cluster named ``name`` (``MSCluster_Node``), which must be up."""
    cluster = host.cluster
    nodes = cluster.nodes if isinstance(cluster, FakeCluster) else []
    node = next((other for other in nodes if _label(other.name) == _label(name)), None)
    if cluster is None or node is None:
        raise ClusterError(f"'{name}' is not a node of cluster '{cluster.name if cluster else ''}'")
    backend = host.backend
    if isinstance(backend, Backend) and _label(name) in {_label(item) for item in backend.migration.unreachable}:
        raise ClusterError(f"node '{name}' of cluster '{cluster.name}' is not up")
    return node


def _cluster_move(host: FakeHost, vm: FakeVm, target: FakeHost, params: dict[str, Any]) -> dict[str, Any]:
    missing = [nic.switch for nic in vm.nics if nic.switch is not None and target.switch(nic.switch) is None]
    if missing:
        raise ClusterError(
            f"the cluster could not live-migrate VM {vm.id}: node {target.computer_name} has no switch "
            f"'{missing[0]}' (the role stays on {host.computer_name})"
        )
    if vm.state in ("Running", "Paused") and vm.memory_mb * MB > target.free_memory:
        raise ClusterError(
            f"the cluster could not live-migrate VM {vm.id}: node {target.computer_name} has not enough free memory"
        )
    fault = host.backend.migration.take_fault() if isinstance(host.backend, Backend) else None
    if fault is not None:
        raise ClusterError(f"the cluster could not live-migrate VM {vm.id}: {fault.message}")
    move_registration(vm, target)
    return _result(vm, host, text(params.get("destination")), "cluster", None)


def _shared_nothing(host: FakeHost, vm: FakeVm, target: FakeHost, params: dict[str, Any]) -> dict[str, Any]:
    storage_path = text(params.get("storage_path")) or join_path(target.default_vm_path, vm.name)
    if not _ROOTED.match(storage_path):
        raise InvalidParameters(f"storage_path '{storage_path}' is not an absolute path")
    if target.vms_named(vm.name) or target.find_vm(vm.id) is not None:
        raise VmAlreadyExists(f"a VM named '{vm.name}' (or with id {vm.id}) already exists on the destination")
    missing = [nic.switch for nic in vm.nics if nic.switch is not None and target.switch(nic.switch) is None]
    if missing:
        raise SwitchNotFound(f"the destination has no virtual switch '{missing[0]}' (used by VM {vm.id})")
    needed = sum(file.size for file in vm_storage(vm))
    free = target.free_bytes(storage_path)
    if needed > free:
        raise InsufficientResources(
            f"the destination volume of '{storage_path}' has {free} bytes free, VM {vm.id} needs {needed}"
        )
    if vm.state in ("Running", "Paused") and vm.memory_mb * MB > target.free_memory:
        raise InsufficientResources(f"the destination has not enough free memory for running VM {vm.id}")
    if target.fs.walk_files(storage_path):
        raise VmAlreadyExists(
            f"'{storage_path}' on the destination already holds files (an earlier attempt's copy?): remove it first"
        )
    backend = host.backend
    fault = backend.migration.take_fault() if isinstance(backend, Backend) else None
    mapping = copy_storage(vm, target, storage_path, fault)
    complete_move(vm, target, storage_path, mapping)
    return _result(vm, host, text(params.get("destination")), "shared_nothing", storage_path.rstrip("\\"))


def migrate_vm(host: FakeHost, params: dict[str, Any]) -> Any:
    """``migrate_vm.ps1``: move the VM to ``destination`` (its cluster's node, or any host with its storage)."""
    vm = vm_param(host, params.get("vm_id"))
    destination = text(params.get("destination")).strip()
    if not destination:
        raise InvalidParameters("destination is required")
    if _label(destination) in (_label(host.name), host.computer_name.lower()):
        raise InvalidParameters(f"the destination '{destination}' is this host")
    state = vm.state
    if state not in _MOVABLE:
        raise InvalidVmState(f"cannot migrate VM {vm.id}: it is {state}")
    clustered = bool(params.get("clustered"))
    if clustered:
        if host.cluster is None or not vm.clustered:
            raise ClusterError(f"VM {vm.id} is not a clustered role: migrate it with clustered=false")
        if params.get("storage_path"):
            raise InvalidParameters("a clustered VM keeps its storage on the Cluster Shared Volume: omit storage_path")
    else:
        if vm.clustered:
            raise ClusterError(
                f"VM {vm.id} is a clustered role: migrate it within its cluster (clustered=true), or remove it from "
                "the cluster first"
            )
        if any(dvd.path for dvd in vm.dvds):
            raise InvalidVmState(
                f"VM {vm.id} has an ISO in a DVD drive, which a move does not take along: eject it first"
            )
    target = _cluster_node(host, destination) if clustered else _destination(host, destination)
    with target.lock:
        if clustered:
            return _cluster_move(host, vm, target, params)
        return _shared_nothing(host, vm, target, params)


_BELOW_ROOT = re.compile(r"^[A-Za-z]:\\[^\\]+")


def discard_migration_copy(host: FakeHost, params: dict[str, Any]) -> Any:
    """``discard_migration_copy.ps1``, on the destination: remove a failed shared-nothing move's partial copy.

    Nothing a VM of this host uses goes: the VM registered here (the move went through) or a file of any VM under the
    folder leaves everything, with a ``warning``. The folder goes too when it is named after the VM, else it stays.
    """
    vm_id = text(params.get("vm_id")).lower()
    storage = text(params.get("storage_path")).rstrip("\\")
    if not _BELOW_ROOT.match(storage):
        raise InvalidParameters(f"storage_path '{storage}' is not a folder below a volume's root")
    if not host.fs.is_dir(storage):
        return {"existed": False, "files_deleted": 0, "warning": None}
    if host.find_vm(vm_id) is not None:
        warning = f"VM {vm_id} is registered on this host: the move went through; nothing was deleted"
        return {"existed": True, "files_deleted": 0, "warning": warning}
    prefix = storage.lower() + "\\"
    for other in host.vms.values():
        for path in (other.folder, *(drive.path for drive in other.disks)):
            if (path.lower().rstrip("\\") + "\\").startswith(prefix):
                warning = f"'{storage}' holds files of VM {other.id}; nothing was deleted"
                return {"existed": True, "files_deleted": 0, "warning": warning}
    files = host.fs.walk_files(storage)
    if not files:
        return {"existed": False, "files_deleted": 0, "warning": None}
    host.fs.remove_tree(storage)
    if leaf_name(storage).lower() != text(params.get("vm_name")).lower():
        host.fs.mkdir(storage)  # not the default layout: the folder stays, empty
    return {"existed": True, "files_deleted": len(files), "warning": None}
