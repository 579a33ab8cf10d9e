"""Hosts: one Hyper-V host's hardware, volumes and files, switches, VMs, install directory, background work and lock.

:class:`FakeHost` answers the lookups the scripts make (switches and VMs by name, image folders, storage roots,
free memory and space) and builds VM devices (adapters with deterministic MACs and ids, SCSI disk and DVD drives,
the guest OS of an image clone). Free memory is total memory minus a host reserve minus the memory of every VM
that is not Off or Saved. VM names compare case-insensitively (PowerShell's ``-eq``); Hyper-V itself would allow
``a`` and ``A``. A host joined to a :class:`~tools.hvsim.models.cluster.FakeCluster` shares the cluster's lock.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Iterable
from typing import Any

from tools.hvsim.exceptions import HyperVSimError, VmNotFound
from tools.hvsim.guest import GuestBehaviour
from tools.hvsim.models.background import BackgroundWork
from tools.hvsim.models.core import GB, MB
from tools.hvsim.models.disks import FakeDiskDrive, disk_drive_id, free_scsi_location
from tools.hvsim.models.dvds import FakeDvdDrive
from tools.hvsim.models.files import FakeFile, FakeVolume, FileSystem, join_path
from tools.hvsim.models.guest_os import FakeGuestOS
from tools.hvsim.models.network import FakeNic, FakeSwitch
from tools.hvsim.models.vms import ACTIVE_STATES, ClusterRoles, FakeVm, Runtime

__all__ = ["FakeHost"]


class FakeHost:
    """A Hyper-V host: hardware, volumes and files, switches, VMs, an install directory and a lock."""

    def __init__(
        self,
        backend: Runtime,
        name: str,
        *,
        logical_processors: int = 32,
        memory_gb: int = 256,
        reserve_gb: int = 4,
        volumes: Iterable[FakeVolume] = (),
        install_dir: str = "C:\\Program Files\\Aether-V",
    ) -> None:
        self.backend = backend
        self.name = name
        self.logical_processors = logical_processors
        self.total_memory = memory_gb * GB
        self.reserve_memory = reserve_gb * GB
        self.fs = FileSystem(volumes)
        self.switches: list[FakeSwitch] = []
        self.vms: dict[str, FakeVm] = {}
        self.install_dir = install_dir
        self.default_vm_path = "C:\\ProgramData\\Microsoft\\Windows\\Hyper-V"
        self.default_vhd_path = "C:\\ProgramData\\Microsoft\\Windows\\Virtual Hard Disks"
        self.cluster: ClusterRoles | None = None
        self.lock = threading.RLock()
        self.guest_behaviour: GuestBehaviour | None = None
        self.journal: list[tuple[str, dict[str, Any]]] = []
        self.fail_points: dict[str, HyperVSimError] = {}
        """Failures tests place inside a handler (``"add_disk:attach"`` → error): see :meth:`reach`."""
        self._mac_counter = itertools.count(1)
        self.background = BackgroundWork(self.fs, backend.clock, backend.now, lambda: backend.copy_rate)

    @property
    def computer_name(self) -> str:
        """``$env:COMPUTERNAME``: the upper-case first label, at most 15 characters."""
        return self.name.split(".")[0].upper()[:15]

    # -- memory ------------------------------------------------------------------------------------------------

    @property
    def free_memory(self) -> int:
        """Bytes of physical memory free."""
        used = sum(vm.memory_mb * MB for vm in self.vms.values() if vm.state in ACTIVE_STATES)
        return max(self.total_memory - self.reserve_memory - used, 0)

    # -- lookups ------------------------------------------------------------------------------------------------

    def switch(self, name: str) -> FakeSwitch | None:
        """The switch named ``name`` (case-insensitive, like PowerShell ``-eq``)."""
        return next((switch for switch in self.switches if switch.name.lower() == name.lower()), None)

    def vm(self, vm_id: str) -> FakeVm:
        """The VM with id ``vm_id``; :class:`VmNotFound` otherwise."""
        vm = self.find_vm(vm_id)
        if vm is None:
            raise VmNotFound(f"no VM with id {vm_id} on this host")
        return vm

    def find_vm(self, vm_id: str) -> FakeVm | None:
        """The VM with id ``vm_id``, or None."""
        return self.vms.get(vm_id.lower())

    def vms_named(self, name: str) -> list[FakeVm]:
        """VMs whose name equals ``name`` (case-insensitive)."""
        return [vm for vm in self.vms.values() if vm.name.lower() == name.lower()]

    def csv_roots(self) -> list[str]:
        r"""Folders below ``C:\ClusterStorage`` (the CSV mount points), sorted."""
        if not self.fs.is_dir("C:\\ClusterStorage"):
            return []
        dirs, _ = self.fs.list_dir("C:\\ClusterStorage")
        return dirs

    def storage_roots(self, requested: list[str] | None) -> list[str]:
        r"""CSVs when the host has any, else ``requested`` or ``C:\`` (the scripts' ``Get-AetherStorageRoots``)."""
        csv = self.csv_roots()
        if csv:
            return csv
        if requested is not None:
            return [str(root) for root in requested]
        return ["C:\\"]

    def image_folders(self, requested: list[str] | None) -> list[str]:
        r"""CSV ``DiskImages`` folders, then the standalone folders (default ``C:\\Hyper-V\\DiskImages``)."""
        folders = [join_path(root, "DiskImages") for root in self.csv_roots()]
        folders += [str(path) for path in requested] if requested is not None else ["C:\\Hyper-V\\DiskImages"]
        return folders

    def find_image(self, name: str, requested: list[str] | None) -> FakeFile | None:
        r"""``<folder>\<name>.vhdx`` in the first image folder that has it."""
        for folder in self.image_folders(requested):
            file = self.fs.get(join_path(folder, name + ".vhdx"))
            if file is not None:
                return file
        return None

    def free_bytes(self, path: str) -> int:
        """Free space of the volume holding ``path`` (0 when none does)."""
        volume = self.fs.volume_for(path)
        return 0 if volume is None else volume.free

    def reach(self, point: str) -> None:
        """A handler reached step ``point``: raise the failure a test placed there (once), as a script failing there.

        What the handler did before the step stays on the host, as on a real host where the script stopped there.
        """
        failure = self.fail_points.pop(point, None)
        if failure is not None:
            raise failure

    # -- VM construction ---------------------------------------------------------------------------------------

    def new_mac(self) -> str:
        """The next dynamic MAC address (Hyper-V's 00:15:5D prefix)."""
        serial = next(self._mac_counter)
        host_byte = sum(self.name.encode()) % 256
        return f"00:15:5D:{host_byte:02X}:{(serial >> 8) & 0xFF:02X}:{serial & 0xFF:02X}"

    def add_vm(self, vm: FakeVm) -> FakeVm:
        """Register ``vm`` on this host."""
        self.vms[vm.id] = vm
        return vm

    def remove_vm(self, vm: FakeVm) -> None:
        """Unregister ``vm`` and release its guest (the agent process and sandbox of a real Linux agent)."""
        self.vms.pop(vm.id, None)
        vm.dispose()

    def add_nic(self, vm: FakeVm, switch: str | None, *, name: str = "Network Adapter") -> FakeNic:
        """Add a synthetic adapter to ``vm``."""
        mac = self.new_mac()
        adapter = uuid.uuid5(uuid.UUID(vm.id), mac)  # deterministic for a seeded lab
        nic = FakeNic(id=f"Microsoft:{vm.id.upper()}\\{str(adapter).upper()}", name=name, mac=mac, switch=switch)
        vm.nics.append(nic)
        return nic

    def add_disk(
        self,
        vm: FakeVm,
        path: str,
        *,
        shared: bool = False,
        controller_type: str = "SCSI",
        controller_number: int = 0,
        location: int | None = None,
    ) -> FakeDiskDrive:
        """Attach ``path`` at ``location`` (default: the first free SCSI location of controller 0)."""
        if location is None:
            location = free_scsi_location(_used_locations(vm, controller_number))
        drive = FakeDiskDrive(
            id=disk_drive_id(vm.id, location, controller_type=controller_type, controller_number=controller_number),
            path=path,
            controller_type=controller_type,
            controller_number=controller_number,
            controller_location=location,
            shared=shared,
        )
        vm.disks.append(drive)
        return drive

    def add_dvd(self, vm: FakeVm, path: str | None) -> FakeDvdDrive:
        """Add a SCSI DVD drive holding ``path``."""
        dvd = FakeDvdDrive(path=path, controller_location=free_scsi_location(_used_locations(vm)))
        vm.dvds.append(dvd)
        return dvd

    def install_guest(self, vm: FakeVm, disk: FakeFile | None) -> None:
        """Give ``vm`` the OS of its OS disk (an image clone), or none for a blank disk."""
        if disk is None or not disk.os_family:
            vm.guest = None
            return
        hostname = "WIN-" + vm.id[:8].upper() if disk.os_family == "windows" else "localhost"
        vm.guest = FakeGuestOS(
            os_family=disk.os_family,
            os_name=disk.os_name or disk.os_family,
            hostname=hostname,
            os_version="10.0.20348" if disk.os_family == "windows" else "6.8.0",
        )


def _used_locations(vm: FakeVm, controller_number: int = 0) -> set[int]:
    """Locations taken on SCSI controller ``controller_number`` (DVD drives sit on SCSI controller 0)."""
    disks = {
        drive.controller_location
        for drive in vm.disks
        if drive.controller_type == "SCSI" and drive.controller_number == controller_number
    }
    return disks | ({dvd.controller_location for dvd in vm.dvds} if controller_number == 0 else set())
