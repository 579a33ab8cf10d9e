r"""Checkpoints (``Get-VMSnapshot``): what a VM keeps of itself at a point in time, in a tree, and its disk chains.

A checkpoint records the VM's configuration and the state it was in; ``parent_id`` is the checkpoint that was the
VM's current one when it was taken (None for the first), so the checkpoints form a tree like Hyper-V's.

What a checkpoint does to the disks (``learn.microsoft.com/virtualization/hyper-v-on-windows/user-guide/checkpoints``,
"Deleting checkpoints": "checkpoints are stored as .avhdx files in the same location as the .vhdx files [...] When
you delete a checkpoint, Hyper-V merges the .avhdx and .vhdx files"):

- :func:`take_checkpoint` freezes every attached disk and points the drive at a new differencing disk
  ``<stem>_<GUID>.avhdx`` next to it (its ``parent`` the frozen file); the checkpoint keeps the frozen paths. The
  configuration goes to ``<folder>\Snapshots\<ID>.vmcx``, saved memory (a standard checkpoint of a running VM)
  to ``<ID>.vmrs`` of the VM's memory size.
- :func:`apply_checkpoint` discards the VM's current differencing disks (those no checkpoint holds), attaches new
  ones on top of the checkpoint's frozen disks and restores its processor count and memory.
- :func:`remove_checkpoint` re-parents the checkpoint's children to its parent and merges: a frozen differencing
  disk that nothing else holds and that has one child is merged into that child's place (the child's content is
  written into it, and what pointed at the child points at it); a branch point (two children) stays.

A VM with checkpoints therefore runs on differencing disks (inventory ``type`` "Differencing"), which is what other
rules test (a disk of a VM with checkpoints cannot be resized). The functions take the VM through the small
:class:`CheckpointedVm` protocol, so this module does not import the VM's.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from tools.hvsim.exceptions import HyperVSimError
from tools.hvsim.models.core import MB
from tools.hvsim.models.disks import FakeDiskDrive, disk_drive_id
from tools.hvsim.models.files import FakeFile, FileSystem, join_path, leaf_name, parent_path

__all__ = [
    "AVHDX_BYTES",
    "MAX_CHECKPOINTS",
    "CheckpointedVm",
    "FakeCheckpoint",
    "apply_checkpoint",
    "checkpoint_bytes",
    "files_left_by_checkpoints",
    "remove_checkpoint",
    "take_checkpoint",
]

MAX_CHECKPOINTS = 50
"""Hyper-V's maximum of checkpoints per VM ("Plan for Hyper-V scalability in Windows Server", Maximums for virtual
machines: "Checkpoints 50";
learn.microsoft.com/windows-server/virtualization/hyper-v/plan/plan-hyper-v-scalability-in-windows-server)."""

AVHDX_BYTES = 4 * MB
"""The size of a new, empty differencing disk (its header and metadata)."""

_VMCX_BYTES = 64 * 1024
_CHAIN_SUFFIX = re.compile(r"_[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")


@dataclass
class FakeCheckpoint:
    """One checkpoint of a VM."""

    id: str  # a GUID, lower case (VMSnapshot.Id)
    name: str
    created: datetime
    parent_id: str | None
    checkpoint_type: str  # what was made: "Production" or "Standard"
    state: str  # the VM's state when it was taken ("Off", or "Running" for a standard checkpoint's saved memory)
    cpu_count: int
    memory_mb: int
    notes: str = ""
    disk_paths: list[str] = field(default_factory=list)  # the disks attached when it was taken
    disk_locations: list[int] = field(default_factory=list)  # their SCSI locations (same order)

    @property
    def saved_memory(self) -> bool:
        """Whether the checkpoint holds the VM's memory (a standard checkpoint of a running, paused or saved VM)."""
        return self.checkpoint_type == "Standard" and self.state in ("Running", "Paused", "Saved")


class CheckpointedVm(Protocol):
    """What the checkpoint functions need of a VM (``FakeVm`` satisfies it)."""

    id: str
    folder: str
    cpu_count: int
    memory_mb: int
    disks: list[FakeDiskDrive]
    checkpoints: list[FakeCheckpoint]
    current_checkpoint_id: str | None


def _config_files(vm: CheckpointedVm, checkpoint_id: str) -> tuple[str, str]:
    folder = join_path(vm.folder, "Snapshots")
    return join_path(folder, checkpoint_id.upper() + ".vmcx"), join_path(folder, checkpoint_id.upper() + ".vmrs")


def checkpoint_bytes(vm: CheckpointedVm, saved_memory: bool) -> int:
    """Bytes a new checkpoint needs on the VM's volume: its differencing disks, configuration and saved memory."""
    return len(vm.disks) * AVHDX_BYTES + _VMCX_BYTES + (vm.memory_mb * MB if saved_memory else 0)


def _differencing(fs: FileSystem, parent: str, key: str) -> str:
    """A new differencing disk on top of ``parent`` (Hyper-V's ``<stem>_<GUID>.avhdx`` next to it); its path."""
    base = fs.get(parent)
    if base is None:
        raise HyperVSimError(f"The system cannot find the file specified. ('{parent}')")  # not a Fail-AetherV
    stem = _CHAIN_SUFFIX.sub("", leaf_name(parent).rsplit(".", 1)[0])
    guid = str(uuid.uuid5(uuid.NAMESPACE_URL, key.lower())).upper()
    path = join_path(parent_path(parent), f"{stem}_{guid}.avhdx")
    fs.write(
        FakeFile(
            path,
            AVHDX_BYTES,
            kind="vhdx",
            virtual_size=base.virtual_size or base.size,
            vhd_type="Differencing",
            os_family=base.os_family,
            os_name=base.os_name,
            parent=parent,
        )
    )
    return path


def take_checkpoint(
    vm: CheckpointedVm,
    fs: FileSystem,
    *,
    checkpoint_id: str,
    name: str,
    checkpoint_type: str,
    state: str,
    created: datetime,
) -> FakeCheckpoint:
    """Record a checkpoint of ``vm`` (in ``state``) and move its drives onto new differencing disks."""
    checkpoint = FakeCheckpoint(
        id=checkpoint_id,
        name=name,
        created=created,
        parent_id=vm.current_checkpoint_id,
        checkpoint_type=checkpoint_type,
        state=state,
        cpu_count=vm.cpu_count,
        memory_mb=vm.memory_mb,
        disk_paths=[drive.path for drive in vm.disks],
        disk_locations=[drive.controller_location for drive in vm.disks],
    )
    for drive in vm.disks:
        drive.path = _differencing(fs, drive.path, f"{checkpoint_id}:{drive.path}")
    config, memory = _config_files(vm, checkpoint_id)
    fs.mkdir(parent_path(config))
    fs.write(FakeFile(config, _VMCX_BYTES))
    if checkpoint.saved_memory:
        fs.write(FakeFile(memory, vm.memory_mb * MB))
    vm.checkpoints.append(checkpoint)
    vm.current_checkpoint_id = checkpoint.id
    return checkpoint


def _held_by_checkpoints(vm: CheckpointedVm) -> set[str]:
    return {path.lower() for checkpoint in vm.checkpoints for path in checkpoint.disk_paths}


def apply_checkpoint(vm: CheckpointedVm, fs: FileSystem, checkpoint: FakeCheckpoint) -> None:
    """Make ``checkpoint`` the VM's configuration and disks (the current differencing disks are discarded)."""
    held = _held_by_checkpoints(vm)
    for drive in vm.disks:
        file = fs.get(drive.path)
        if file is not None and file.vhd_type == "Differencing" and drive.path.lower() not in held:
            fs.remove(drive.path)
    vm.disks = [
        FakeDiskDrive(
            id=disk_drive_id(vm.id, location),
            path=_differencing(fs, path, f"{checkpoint.id}:applied:{path}"),
            controller_location=location,
        )
        for path, location in zip(checkpoint.disk_paths, checkpoint.disk_locations, strict=True)
    ]
    vm.cpu_count = checkpoint.cpu_count
    vm.memory_mb = checkpoint.memory_mb
    vm.current_checkpoint_id = checkpoint.id


def _children(fs: FileSystem, path: str) -> list[FakeFile]:
    """The differencing disks whose parent is ``path`` (they sit in the same folder)."""
    _, files = fs.list_dir(parent_path(path))
    return [file for file in files if file.parent is not None and file.parent.lower() == path.lower()]


def _merge(vm: CheckpointedVm, fs: FileSystem, frozen: str) -> None:
    """Merge the one child of ``frozen`` into it: what pointed at the child points at ``frozen`` afterwards."""
    children = _children(fs, frozen)
    target = fs.get(frozen)
    if len(children) != 1 or target is None:
        return  # a branch point (or a leaf): still needed as it is
    child = children[0]
    total = target.size + child.size
    target.size = min(total, target.virtual_size) if target.virtual_size else total
    for drive in vm.disks:
        if drive.path.lower() == child.path.lower():
            drive.path = frozen
    for checkpoint in vm.checkpoints:
        paths = checkpoint.disk_paths
        checkpoint.disk_paths = [frozen if path.lower() == child.path.lower() else path for path in paths]
    for grandchild in _children(fs, child.path):
        grandchild.parent = frozen
    fs.remove(child.path)


def remove_checkpoint(vm: CheckpointedVm, fs: FileSystem, checkpoint: FakeCheckpoint) -> None:
    """Delete ``checkpoint``: its children move up to its parent, its disks merge, its files go."""
    for other in vm.checkpoints:
        if other.parent_id == checkpoint.id:
            other.parent_id = checkpoint.parent_id
    if vm.current_checkpoint_id == checkpoint.id:
        vm.current_checkpoint_id = checkpoint.parent_id
    vm.checkpoints.remove(checkpoint)
    for path in _config_files(vm, checkpoint.id):
        fs.remove(path)
    held = _held_by_checkpoints(vm)
    for frozen in checkpoint.disk_paths:
        if frozen.lower() not in held:
            _merge(vm, fs, frozen)


def files_left_by_checkpoints(vm: CheckpointedVm, fs: FileSystem, skip: set[str]) -> list[str]:
    """The disk files a removed VM's checkpoints leave behind: every disk in the chains of its drives and checkpoints.

    ``Remove-VM`` deletes the checkpoints' configuration and saved memory (done here too), never a disk file; the
    caller deletes these. Paths in ``skip`` (lower case: disks other VMs use) and image-library files end a chain.
    """
    for checkpoint in vm.checkpoints:
        for config in _config_files(vm, checkpoint.id):
            fs.remove(config)
    found: list[str] = []
    heads = [drive.path for drive in vm.disks] + [disk for cp in vm.checkpoints for disk in cp.disk_paths]
    for head in heads:
        path: str | None = head
        while path is not None and path.lower() not in skip and "\\diskimages\\" not in path.lower():
            if path not in found:
                found.append(path)
            file = fs.get(path)
            path = None if file is None else file.parent
    return found
