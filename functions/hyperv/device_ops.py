"""Day-2 changes to a VM's hardware: resizing it, its data disks and its network adapters.

:class:`DeviceOperations` is a mixin of :class:`~functions.hyperv.client.HyperVClient`: one method per operation
script (``set_vm``, ``add_disk``, ``expand_disk``, ``remove_disk``, ``add_nic``, ``set_nic``, ``remove_nic``), each
sending its parameters as data and validating the result into a model. The host applies Hyper-V's rules (and a few
stricter ones of Aether-V) and reports a broken one with its category; ``docs/hyperv-hosts.md`` ("Resizing, disks
and adapters") lists them for users.

Every method is safe to run again after an unknown outcome (an activity may run twice): see each one.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

from functions.hyperv.calls import ClientCalls, guid
from functions.hyperv.device_models import RemovedDisk, RemovedNic
from functions.hyperv.models import VmDisk, VmInfo, VmNetworkAdapter
from functions.models.json import JsonObject

__all__ = ["DeviceOperations"]

M = TypeVar("M", bound=BaseModel)


def _vm_id(value: str) -> str:
    return guid("vm_id", value)


class DeviceOperations(ClientCalls):
    """Resize a VM and change its data disks and network adapters (a mixin of ``HyperVClient``)."""

    # -- the VM itself ---------------------------------------------------------------------------------------------

    def set_vm(
        self,
        vm_id: str,
        *,
        cpu_cores: int | None = None,
        memory_mb: int | None = None,
        notes: str | None = None,
    ) -> VmInfo:
        """Change the processor count, startup memory (MB) and/or notes; None leaves a value as it is.

        Processor count and memory change only while the VM is Off (Aether-V is stricter than Hyper-V's runtime
        memory resize); notes in any state, and the VM's ``aetherv-job:`` ownership line is kept. Raises
        ``InvalidParameters`` (cpu_cores outside 1..min(host logical processors, 64 for generation 1 / 240 for
        generation 2); memory_mb not a multiple of 2, under 32, over 1 TB / 12 TB by generation, or outside the
        dynamic memory range), ``InsufficientResources`` (more memory than the host has), ``InvalidVmState`` (a
        change of processors or memory while not Off), ``VmNotFound``. Every problem of the call is named in one
        message; nothing changes unless all checks pass.

        Idempotent: values equal to the current ones change nothing and need no particular state, so a rerun of a
        call that succeeded succeeds again (even if the VM was started meanwhile).
        """
        params: JsonObject = {"vm_id": _vm_id(vm_id)}
        if cpu_cores is not None:
            params["cpu_cores"] = int(cpu_cores)
        if memory_mb is not None:
            params["memory_mb"] = int(memory_mb)
        if notes is not None:
            params["notes"] = notes
        return self._call("set_vm", VmInfo, params)

    # -- data disks ------------------------------------------------------------------------------------------------

    def add_disk(self, vm_id: str, *, size_gb: int, file_name: str) -> VmDisk:
        """Make a dynamic VHDX ``file_name`` of ``size_gb`` in the VM's folder and attach it to SCSI controller 0.

        The VM's folder is the folder of its boot disk; the disk goes to the first free location. Works while the VM
        is Off or Running; a VM without a SCSI controller gets one only while Off. Raises ``InvalidParameters``
        (``file_name`` not a ``.vhdx`` file name, ``size_gb`` outside 1..65536, or an existing file of that name
        that is no virtual disk), ``VmAlreadyExists`` (the file is attached to another VM), ``InvalidVmState``,
        ``InsufficientResources`` (64 locations in use, or less than 1 GB free on the volume), ``VmNotFound``.

        Idempotent: ``file_name`` is deterministic per job (e.g. ``<vm name>-data-<job id prefix>.vhdx``); a rerun
        finds the file attached to this VM and returns that disk, or finds it unattached (the first run stopped after
        ``New-VHD``) and attaches it.
        """
        params = {"vm_id": _vm_id(vm_id), "size_gb": int(size_gb), "file_name": file_name}
        return self._call("add_disk", VmDisk, params)

    def expand_disk(self, vm_id: str, disk_id: str, *, size_gb: int) -> VmDisk:
        """Grow disk ``disk_id`` (its inventory id) to ``size_gb`` (``Resize-VHD``).

        Online (VM Running) only for a ``.vhdx`` on a SCSI controller; otherwise the VM must be Off. Raises
        ``InvalidParameters`` (shrinking, ``size_gb`` outside 1..65536, a ``.vhd`` over 2040 GB), ``DiskNotFound``
        (no such disk, or its file is missing), ``InvalidVmState`` (checkpoints, or the online rule),
        ``InsufficientResources`` (a fixed disk's growth does not fit on its volume), ``VmNotFound``.

        Idempotent: a disk already of ``size_gb`` is returned unchanged (before any state rule is checked).
        """
        params = {"vm_id": _vm_id(vm_id), "disk_id": disk_id, "size_gb": int(size_gb)}
        return self._call("expand_disk", VmDisk, params)

    def remove_disk(self, vm_id: str, disk_id: str, *, path: str) -> RemovedDisk:
        """Detach disk ``disk_id`` and delete its file ``path`` (the disk's path from the inventory).

        Without ``disk_id`` (``""``) the drive is the one holding ``path``: an add_disk undone.

        The file is deleted only when no VM on the host has it attached and it lies in the VM's own folder; else it
        stays and ``warning`` says why. Raises ``InvalidVmState`` (the boot disk, a VM with checkpoints, an IDE disk
        while not Off, a VM neither Off nor Running), ``InvalidParameters`` (``path`` is not a virtual disk's full
        path, or not the path of drive ``disk_id``), ``VmNotFound``.

        Idempotent: a rerun after the drive was detached (``existed`` False) still deletes the file it left, because
        ``path`` comes from the caller, not from the drive.
        """
        params = {"vm_id": _vm_id(vm_id), "disk_id": disk_id, "path": path}
        return self._call("remove_disk", RemovedDisk, params)

    # -- network adapters ------------------------------------------------------------------------------------------

    def add_nic(self, vm_id: str, *, switch: str, vlan_id: int | None, name: str) -> VmNetworkAdapter:
        """Add adapter ``name`` connected to ``switch``, with access VLAN ``vlan_id`` (None: untagged).

        Raises ``InvalidVmState`` (a generation 1 VM that is not Off: hot add needs generation 2; any VM neither Off
        nor Running), ``InsufficientResources`` (8 adapters already), ``SwitchNotFound``, ``InvalidParameters``
        (``vlan_id`` outside 1..4094, an empty or over-long name, two adapters already named ``name``),
        ``VmNotFound``.

        Idempotent: ``name`` is deterministic per job; a rerun finds the adapter by name and (re)applies the switch
        and VLAN, completing a first run that stopped between adding the adapter and setting its VLAN.
        """
        params: JsonObject = {"vm_id": _vm_id(vm_id), "switch": switch, "name": name}
        params["vlan_id"] = None if vlan_id is None else int(vlan_id)
        return self._call("add_nic", VmNetworkAdapter, params)

    def set_nic(self, vm_id: str, nic_id: str, *, switch: str | None, vlan_id: int | None) -> VmNetworkAdapter:
        """Connect adapter ``nic_id`` to ``switch`` (None: keep its connection) and set its VLAN (None: untagged).

        Works in any state. Raises ``NicNotFound``, ``SwitchNotFound``, ``InvalidParameters`` (``vlan_id`` outside
        1..4094), ``VmNotFound``.

        Idempotent: it sets the wanted values whatever they were.
        """
        params: JsonObject = {"vm_id": _vm_id(vm_id), "nic_id": nic_id, "switch": switch}
        params["vlan_id"] = None if vlan_id is None else int(vlan_id)
        return self._call("set_nic", VmNetworkAdapter, params)

    def remove_nic(self, vm_id: str, nic_id: str = "", *, name: str | None = None) -> RemovedNic:
        """Remove adapter ``nic_id`` (or, without it, the one named ``name``: an add_nic undone).

        Raises ``InvalidVmState`` (a generation 1 VM that is not Off; any VM neither Off nor Running),
        ``VmNotFound``.

        Idempotent: an adapter that is not there is success with ``existed`` False.
        """
        params = {"vm_id": _vm_id(vm_id), "nic_id": nic_id, "name": name}
        return self._call("remove_nic", RemovedNic, params)
