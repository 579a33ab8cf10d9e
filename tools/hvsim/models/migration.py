r"""Migration: moving a VM from one host of the lab to another, and the lab's migration faults.

:class:`MigrationControl` (``Backend.migration``) holds what tests inject: destination host names that do not answer
(``unreachable``) and faults (:class:`MigrationFault`) that fail the next migrations part-way.

:func:`vm_storage` lists the files ``Move-VM -IncludeStorage`` moves — the configuration (``Virtual Machines``),
checkpoint files (``Snapshots``) and every virtual hard disk in the chains of the VM's drives and checkpoints — and
:func:`storage_target` where each lands under ``-DestinationStoragePath``: a file in the VM's folder keeps its place
relative to the folder, any other disk goes to ``<path>\Virtual Hard Disks``. Other files of the VM folder (the
Aether-V marker, ISO copies, operation files) are not the VM's storage and stay on the source.

:func:`copy_storage` copies the files (part of them when a fault strikes: what a failed storage migration leaves at
the destination) and :func:`complete_move` re-points the VM at the copies, deletes the source's and re-registers the
VM (same id) on the destination. :func:`move_registration` is the cluster's move: the files stay on the shared
volume, only the VM's registration and owner node change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tools.hvsim.exceptions import HyperVSimError
from tools.hvsim.models.files import FakeFile, join_path, leaf_name, parent_path
from tools.hvsim.models.hosts import FakeHost
from tools.hvsim.models.vms import FakeVm

__all__ = [
    "MigrationControl",
    "MigrationFault",
    "complete_move",
    "copy_storage",
    "move_registration",
    "storage_target",
    "vm_storage",
]


@dataclass
class MigrationFault:
    """The next migration fails after copying ``after_files`` files (0: before any); a cluster move fails at once."""

    after_files: int = 1
    message: str = "The Virtual Machine Management Service failed the migration: the network connection was reset."


@dataclass
class MigrationControl:
    """What tests inject into migrations: unreachable destination names and faults for the next migrations."""

    unreachable: set[str] = field(default_factory=set)
    faults: list[MigrationFault] = field(default_factory=list)

    def reset(self) -> None:
        """No unreachable hosts, no pending faults."""
        self.unreachable.clear()
        self.faults.clear()

    def take_fault(self) -> MigrationFault | None:
        """The next pending fault (consumed), or None."""
        return self.faults.pop(0) if self.faults else None


def _is_below(path: str, folder: str) -> bool:
    return path.lower().startswith(folder.rstrip("\\").lower() + "\\")


def vm_storage(vm: FakeVm) -> list[FakeFile]:
    """Every file ``Move-VM -IncludeStorage`` moves for ``vm`` (configuration, checkpoints, disk chains)."""
    fs = vm.host.fs
    found: dict[str, FakeFile] = {}
    for subfolder in ("Virtual Machines", "Snapshots"):
        for file in fs.walk_files(join_path(vm.folder, subfolder)):
            found[file.path.lower()] = file
    heads = [drive.path for drive in vm.disks] + [path for cp in vm.checkpoints for path in cp.disk_paths]
    for head in heads:
        path: str | None = head
        while path is not None and path.lower() not in found:
            disk = fs.get(path)
            if disk is None:
                break
            found[path.lower()] = disk
            path = disk.parent
    return sorted(found.values(), key=lambda file: file.path.lower())


def storage_target(vm: FakeVm, path: str, storage_path: str) -> str:
    """Where ``path`` lands under ``storage_path``."""
    if _is_below(path, vm.folder):
        return join_path(storage_path.rstrip("\\"), path[len(vm.folder.rstrip("\\")) + 1 :])
    return join_path(storage_path.rstrip("\\"), "Virtual Hard Disks", leaf_name(path))


def copy_storage(vm: FakeVm, destination: FakeHost, storage_path: str, fault: MigrationFault | None) -> dict[str, str]:
    """Copy the VM's storage to ``destination``; source path (lower case) → destination path.

    A ``fault`` stops the copy after its number of files and raises (``ScriptFailed``, Move-VM's own error): the VM
    is still complete on the source, the destination keeps the folder and the files copied so far.
    """
    mapping = {file.path.lower(): storage_target(vm, file.path, storage_path) for file in vm_storage(vm)}
    destination.fs.mkdir(storage_path)
    for index, file in enumerate(vm_storage(vm)):
        if fault is not None and index >= fault.after_files:
            raise HyperVSimError(fault.message)
        target = mapping[file.path.lower()]
        destination.fs.mkdir(parent_path(target))
        copy = file.copy_to(target)
        if copy.parent is not None:
            copy.parent = mapping.get(copy.parent.lower(), copy.parent)
        destination.fs.write(copy)
    if fault is not None:
        raise HyperVSimError(fault.message)
    return mapping


def complete_move(vm: FakeVm, destination: FakeHost, storage_path: str, mapping: dict[str, str]) -> None:
    """Point ``vm`` at its copies, delete the source's files and register it (same id) on ``destination``."""
    source = vm.host
    for drive in vm.disks:
        drive.path = mapping.get(drive.path.lower(), drive.path)
    for checkpoint in vm.checkpoints:
        checkpoint.disk_paths = [mapping.get(path.lower(), path) for path in checkpoint.disk_paths]
    for path in mapping:
        source.fs.remove(path)
    vm.folder = storage_path.rstrip("\\")
    move_registration(vm, destination)


def move_registration(vm: FakeVm, destination: FakeHost) -> None:
    """Unregister ``vm`` from its host and register it on ``destination`` (a clustered role follows it)."""
    source = vm.host
    if not isinstance(source, FakeHost):
        raise HyperVSimError(f"VM {vm.id} is not on a simulated host")
    source.vms.pop(vm.id, None)
    vm.host = destination
    destination.add_vm(vm)
    cluster = destination.cluster
    if cluster is not None and vm.id in cluster.roles:
        cluster.roles[vm.id] = destination.name
