"""Resizing a VM and changing its data disks: ``set_vm``, ``add_disk``, ``expand_disk``, ``remove_disk``.

Each handler checks everything before it changes anything, in the order the script does, and fails with the
script's category. The Hyper-V rules they model, with their sources:

- Processor count and startup memory change only while the VM is Off. Hyper-V refuses a processor change on a
  running VM ("The operation cannot be performed while the virtual machine is in its current state"); it does allow
  *runtime memory resize* of static memory for Windows Server 2016+ / Windows 10+ guests ("Hot add and remove for
  network adapters and memory", https://learn.microsoft.com/windows-server/virtualization/hyper-v/what-s-new-in-hyper-v-on-windows).
  Aether-V is deliberately stricter: memory changes only while Off too (the guest's support cannot be checked).
- Memory is set in 2 MB units (Hyper-V Manager and ``Set-VMMemory`` take multiples of 2 MB;
  https://learn.microsoft.com/powershell/module/hyper-v/set-vmmemory), at least 32 MB, at most 1 TB for
  generation 1 and 12 TB for generation 2; virtual processors at most 64 (generation 1) or 240 (generation 2),
  and never more than the host's logical processors
  (https://learn.microsoft.com/windows-server/virtualization/hyper-v/plan/plan-for-hyper-v-scalability-in-windows-server).
  Memory above the host's physical memory cannot be assigned: InsufficientResources.
- A VHDX holds at most 64 TB (same scalability page): ``size_gb`` is 1..65536. Each SCSI controller has 64
  locations (same page, "Virtual SCSI disks"). A SCSI controller is added only while the VM is Off
  (``Add-VMScsiController``; Hyper-V Manager's "Add Hardware" is unavailable on a running VM).
- ``Resize-VHD``: "If the virtual disk file connects to a virtual machine's IDE chain, you cannot resize the virtual
  disk while the virtual machine is online. If [it] connects to a virtual machine's SCSI chain, you can resize the
  virtual disk while the virtual machine is online" (https://learn.microsoft.com/powershell/module/hyper-v/resize-vhd);
  online resize needs a .vhdx (Online Virtual Hard Disk Resizing applies to VHDX only). A .vhd holds at most
  2040 GB. Shrinking is refused here (Hyper-V can shrink a VHDX to its minimum size; Aether-V never shrinks).
- A VM with checkpoints runs on differencing disks (``.avhdx``) chained to its disks: resizing or removing a disk
  under it breaks the chain, so both are refused (InvalidVmState).
- Disks on IDE are added or removed only while the VM is Off (hot plug is a SCSI feature, same scalability page:
  "The startup disk ... must be attached to one of the IDE devices" for generation 1).

Stricter than Hyper-V (on purpose): disk changes are refused in states other than Off and Running (Saved, Paused
and transitions), and ``add_disk`` needs 1 GB free on the VM's volume although a new dynamic VHDX takes ~4 MB.
"""

from __future__ import annotations

from typing import Any

from tools.hvsim.exceptions import (
    DiskNotFound,
    InsufficientResources,
    InvalidParameters,
    InvalidVmState,
    VmAlreadyExists,
)
from tools.hvsim.models import GB, MB, FakeFile, FakeHost, FakeVm, is_valid_file_name, join_path, parent_path
from tools.hvsim.models.disks import SCSI_LOCATIONS, FakeDiskDrive
from tools.hvsim.operations.inventory import vm_record
from tools.hvsim.operations.params import gb, text, vm_param

__all__ = [
    "MAX_CPU",
    "MAX_MEMORY_MB",
    "MAX_VHDX_GB",
    "add_disk",
    "expand_disk",
    "int_param",
    "merged_notes",
    "remove_disk",
    "set_vm",
    "vm_folder",
]

MAX_CPU = {1: 64, 2: 240}
"""Virtual processors per VM by generation (Plan for Hyper-V scalability in Windows Server)."""
MAX_MEMORY_MB = {1: 1024 * 1024, 2: 12 * 1024 * 1024}
"""Memory per VM by generation: 1 TB and 12 TB (same page)."""
MIN_MEMORY_MB = 32
MAX_VHDX_GB = 65536
"""64 TB: the VHDX format's capacity."""
MAX_VHD_GB = 2040
"""The VHD format's capacity."""
FREE_MARGIN = GB
"""Free space ``add_disk`` needs on the VM's volume before it makes a new dynamic VHDX."""
JOB_MARK = "aetherv-job:"
"""The notes line that marks a VM as a job's (``remove_owned`` finds VMs by it); ``set_vm`` keeps it."""


def int_param(params: dict[str, Any], key: str) -> int | None:
    """``[int]$Params.<key>`` for an optional integer parameter: None stays None, a non-integer is refused."""
    value = params.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidParameters(f"{key} must be an integer")
    try:
        number = float(value)
    except ValueError:
        raise InvalidParameters(f"{key} must be an integer") from None
    if number != int(number):
        raise InvalidParameters(f"{key} must be an integer")
    return int(number)


def merged_notes(old: str, new: str) -> str:
    """``new``, plus the ``aetherv-job:`` lines of ``old`` that ``new`` lacks (a VM keeps its ownership mark)."""
    wanted = new.splitlines()
    marks = [line for line in old.splitlines() if line.startswith(JOB_MARK) and line not in wanted]
    return "\n".join(([new] if new else []) + marks)


def vm_folder(vm: FakeVm) -> str:
    """The VM's own folder: the folder of its boot disk, else its configuration folder."""
    boot = vm.boot_disk()
    return parent_path(boot.path) if boot is not None else vm.folder.rstrip("\\")


def find_drive(vm: FakeVm, disk_id: str) -> FakeDiskDrive | None:
    """The VM's disk drive whose id is ``disk_id`` (case-insensitive, PowerShell's ``-eq``)."""
    return next((drive for drive in vm.disks if drive.id.lower() == disk_id.lower()), None)


def attached_to(host: FakeHost, path: str) -> FakeVm | None:
    """The VM on the host that has ``path`` in one of its disk drives."""
    return next((vm for vm in host.vms.values() if any(d.path.lower() == path.lower() for d in vm.disks)), None)


def disk_record(vm: FakeVm, drive: FakeDiskDrive) -> dict[str, Any]:
    """The disk as ``Get-AetherVmRecords`` projects it."""
    return next(disk for disk in vm_record(vm)["disks"] if disk["id"] == drive.id)


# -- set_vm -----------------------------------------------------------------------------------------------------


def set_vm(host: FakeHost, params: dict[str, Any]) -> Any:
    """``set_vm.ps1``: processor count, startup memory and notes; every problem reported at once."""
    vm = vm_param(host, params.get("vm_id"))
    cpu = int_param(params, "cpu_cores")
    memory = int_param(params, "memory_mb")
    notes = None if params.get("notes") is None else text(params["notes"])
    generation = 1 if vm.generation < 2 else 2
    state = vm.state
    invalid: list[str] = []
    short: list[str] = []
    wrong_state: list[str] = []
    if cpu is not None:
        limit = min(host.logical_processors, MAX_CPU[generation])
        if not 1 <= cpu <= limit:
            invalid.append(
                f"cpu_cores must be 1..{limit} (the host has {host.logical_processors} logical processors, "
                f"a generation {generation} VM at most {MAX_CPU[generation]})"
            )
        if cpu != vm.cpu_count and state != "Off":
            wrong_state.append(f"the processor count of VM {vm.id} can only change while it is Off (it is {state})")
    if memory is not None:
        if memory < MIN_MEMORY_MB or memory % 2:
            invalid.append(f"memory_mb must be a multiple of 2 MB of at least {MIN_MEMORY_MB} MB")
        elif memory > MAX_MEMORY_MB[generation]:
            invalid.append(
                f"memory_mb is more than a generation {generation} VM can have ({MAX_MEMORY_MB[generation]} MB)"
            )
        elif memory * MB > host.total_memory:
            short.append(f"memory_mb {memory} is more than the host's memory ({host.total_memory // MB} MB)")
        elif vm.dynamic_memory and not vm.minimum_mb <= memory <= vm.maximum_mb:
            invalid.append(f"memory_mb must lie within the dynamic memory range {vm.minimum_mb}..{vm.maximum_mb} MB")
        if memory != vm.memory_mb and state != "Off":
            wrong_state.append(f"the memory of VM {vm.id} can only change while it is Off (it is {state})")
    problems = "; ".join(invalid + short + wrong_state)
    if invalid:
        raise InvalidParameters(problems)
    if short:
        raise InsufficientResources(problems)
    if wrong_state:
        raise InvalidVmState(problems)
    if cpu is not None:
        vm.cpu_count = cpu
    host.reach("set_vm:memory")  # Set-VMProcessor done, Set-VMMemory next
    if memory is not None:
        vm.memory_mb = memory
    if notes is not None:
        vm.notes = merged_notes(vm.notes, notes)
    return vm_record(vm)


# -- add_disk ---------------------------------------------------------------------------------------------------


def _scsi_used(vm: FakeVm) -> set[int]:
    used = {d.controller_location for d in vm.disks if d.controller_type == "SCSI" and d.controller_number == 0}
    return used | {dvd.controller_location for dvd in vm.dvds}


def add_disk(host: FakeHost, params: dict[str, Any]) -> Any:
    """``add_disk.ps1``: a new dynamic VHDX in the VM's folder on SCSI 0; a rerun finds or attaches its file."""
    vm = vm_param(host, params.get("vm_id"))
    file_name = text(params.get("file_name"))
    size_gb = int_param(params, "size_gb")
    problems: list[str] = []
    if not is_valid_file_name(file_name) or not file_name.lower().endswith(".vhdx") or len(file_name) <= 5:
        problems.append(f"file_name '{file_name}' is not a .vhdx file name")
    if size_gb is None or not 1 <= size_gb <= MAX_VHDX_GB:
        problems.append(f"size_gb must be 1..{MAX_VHDX_GB} (a VHDX holds at most 64 TB)")
    if problems:
        raise InvalidParameters("; ".join(problems))
    assert size_gb is not None
    folder = vm_folder(vm)
    path = join_path(folder, file_name)
    owner = attached_to(host, path)
    if owner is vm:
        drive = next(d for d in vm.disks if d.path.lower() == path.lower())
        return disk_record(vm, drive)  # a rerun: this job's disk is already there
    if owner is not None:
        raise VmAlreadyExists(f"disk file '{path}' is attached to another VM ({owner.id})")
    existing = host.fs.get(path)
    if existing is not None and existing.kind != "vhdx":
        raise InvalidParameters(f"'{path}' exists and is not a virtual hard disk")

    state = vm.state
    if state not in ("Off", "Running"):
        raise InvalidVmState(f"a disk can only be added to VM {vm.id} while it is Off or Running (it is {state})")
    if vm.scsi_controllers < 1 and state != "Off":
        raise InvalidVmState(
            f"VM {vm.id} has no SCSI controller; one can only be added while it is Off (it is {state})"
        )
    if len(_scsi_used(vm)) >= SCSI_LOCATIONS:
        raise InsufficientResources(f"SCSI controller 0 of VM {vm.id} has no free location ({SCSI_LOCATIONS} in use)")
    if existing is None:
        free = host.free_bytes(folder)
        if free < FREE_MARGIN:
            raise InsufficientResources(
                f"needs {gb(FREE_MARGIN):g} GB free on the volume of '{folder}', it has {gb(free):g} GB"
            )
        host.fs.write(FakeFile(path, 4 * MB, kind="vhdx", virtual_size=size_gb * GB, vhd_type="Dynamic"))
    host.reach("add_disk:attach")  # New-VHD done, Add-VMHardDiskDrive next
    vm.scsi_controllers = max(vm.scsi_controllers, 1)  # Add-VMScsiController (only reached while Off)
    return disk_record(vm, host.add_disk(vm, path))


# -- expand_disk ------------------------------------------------------------------------------------------------


def expand_disk(host: FakeHost, params: dict[str, Any]) -> Any:
    """``expand_disk.ps1``: grow the disk's virtual size (``Resize-VHD``); the same size is success."""
    vm = vm_param(host, params.get("vm_id"))
    disk_id = text(params.get("disk_id"))
    size_gb = int_param(params, "size_gb")
    if size_gb is None or not 1 <= size_gb <= MAX_VHDX_GB:
        raise InvalidParameters(f"size_gb must be 1..{MAX_VHDX_GB} (a VHDX holds at most 64 TB)")
    drive = find_drive(vm, disk_id)
    if drive is None:
        raise DiskNotFound(f"VM {vm.id} has no disk {disk_id}")
    file = host.fs.get(drive.path)
    if file is None:
        raise DiskNotFound(f"the file '{drive.path}' of disk {disk_id} is missing")
    current = file.virtual_size or file.size
    wanted = size_gb * GB
    vhd = drive.path.lower().endswith(".vhd")
    if wanted < current:
        raise InvalidParameters(f"disk {disk_id} is {gb(current):g} GB; it cannot shrink to {size_gb} GB")
    if vhd and size_gb > MAX_VHD_GB:
        raise InvalidParameters(f"a .vhd holds at most {MAX_VHD_GB} GB")
    if wanted == current:
        return disk_record(vm, drive)  # nothing to do (a rerun)
    if vm.checkpoints:
        raise InvalidVmState(
            f"VM {vm.id} has checkpoints: its disks are differencing chains and cannot be resized "
            "(delete the checkpoints first)"
        )
    state = vm.state
    if state != "Off":
        reasons = []
        if state != "Running":
            reasons.append(f"the VM is {state}")
        if drive.controller_type != "SCSI":
            reasons.append("the disk is on an IDE controller")
        if vhd:
            reasons.append("the disk is a .vhd file")
        if reasons:
            raise InvalidVmState(
                f"disk {disk_id} can only be expanded while VM {vm.id} is Off ({', '.join(reasons)}): "
                "online resize needs a .vhdx on a SCSI controller of a running VM"
            )
    if file.vhd_type == "Fixed":
        growth = wanted - current
        free = host.free_bytes(drive.path)
        if free < growth:
            raise InsufficientResources(
                f"growing fixed disk {disk_id} needs {gb(growth):g} GB, the volume has {gb(free):g} GB"
            )
        file.size += growth
    file.virtual_size = wanted
    return disk_record(vm, drive)


# -- remove_disk ------------------------------------------------------------------------------------------------


def remove_disk(host: FakeHost, params: dict[str, Any]) -> Any:
    """``remove_disk.ps1``: detach the drive, then delete its file when no VM uses it and it is in the VM's folder."""
    vm = vm_param(host, params.get("vm_id"))
    disk_id = text(params.get("disk_id"))
    path = text(params.get("path"))
    if not path.lower().endswith((".vhdx", ".vhd")) or "\\" not in path:
        raise InvalidParameters(f"path '{path}' is not the full path of a virtual hard disk")
    # Without an id, the drive holding ``path`` (an add_disk undone).
    drive = find_drive(vm, disk_id) if disk_id else next((d for d in vm.disks if d.path.lower() == path.lower()), None)
    folder = vm_folder(vm)
    if vm.checkpoints:
        raise InvalidVmState(f"VM {vm.id} has checkpoints: its disks cannot be removed (delete the checkpoints first)")
    if drive is not None:
        if drive.path.lower() != path.lower():
            raise InvalidParameters(f"disk {disk_id} of VM {vm.id} is '{drive.path}', not '{path}'")
        if drive is vm.boot_disk():
            raise InvalidVmState(f"the boot disk {disk_id} of VM {vm.id} cannot be removed")
        state = vm.state
        if drive.controller_type == "IDE" and state != "Off":
            raise InvalidVmState(f"an IDE disk can only be removed while VM {vm.id} is Off (it is {state})")
        if state not in ("Off", "Running"):
            raise InvalidVmState(
                f"a disk can only be removed from VM {vm.id} while it is Off or Running (it is {state})"
            )
        vm.disks.remove(drive)
        host.reach("remove_disk:delete")  # Remove-VMHardDiskDrive done, Remove-Item next
    deleted = False
    warning: str | None = None
    if host.fs.is_file(path):
        owner = attached_to(host, path)
        if owner is not None:
            warning = f"'{path}' is attached to VM {owner.id}; it was not deleted"
        elif parent_path(path).lower() != folder.lower():
            warning = f"'{path}' is not in the VM's folder '{folder}'; it was not deleted"
        else:
            host.fs.remove(path)
            deleted = True
    return {"existed": drive is not None, "path": path, "file_deleted": deleted, "warning": warning}
