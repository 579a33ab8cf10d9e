r"""Disks: the virtual hard disk drives of a VM and where they sit on its controllers.

A drive points at a VHDX file of :mod:`tools.hvsim.models.files` by path; the file may be missing (Hyper-V keeps a
drive whose file was deleted, and the inventory then reports its type as ``Unknown``). Disks and DVD drives share
the controllers: a generation 2 VM has SCSI controllers only (disks and DVDs on SCSI controller 0), a generation 1 VM
boots from IDE (two IDE controllers of two locations each) and may have SCSI controllers too.
:func:`free_scsi_location` finds the first free location on a SCSI controller.

Drive ids are the drive RASD's ``InstanceID``: ``Microsoft:<VM>\<controller instance>\<controller>\<location>\D``.
The IDE controllers' instance is the fixed ``83F8638B-8DCA-4152-9EDA-2CA8B33039B4`` ("Microsoft Emulated IDE
Controller (Instance ID {83F8638B-…})" in Hyper-V's start errors, KB 2249906); a SCSI controller's instance is a
GUID of its own, derived here from the VM id so a seeded lab is deterministic. An id depends only on where the drive
sits, so it stays the same when other drives come and go.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "IDE_CONTROLLER_ID",
    "IDE_LOCATIONS",
    "SCSI_LOCATIONS",
    "FakeDiskDrive",
    "disk_drive_id",
    "free_scsi_location",
    "scsi_controller_id",
]

IDE_CONTROLLER_ID = "83F8638B-8DCA-4152-9EDA-2CA8B33039B4"
"""The instance GUID of the emulated IDE controllers in a drive's RASD InstanceID (generation 1)."""

SCSI_LOCATIONS = 64
"""Locations per SCSI controller ("Each SCSI controller supports up to 64 disks", Plan for Hyper-V scalability)."""

IDE_LOCATIONS = 2
"""Locations per IDE controller (two controllers: 4 IDE devices per VM, Plan for Hyper-V scalability)."""


@dataclass
class FakeDiskDrive:
    r"""A virtual hard disk drive; ``id`` is the inventory id (the RASD InstanceID ending in ``\\D``)."""

    id: str
    path: str
    controller_type: str = "SCSI"
    controller_number: int = 0
    controller_location: int = 0
    shared: bool = False


def scsi_controller_id(vm_id: str, number: int = 0) -> str:
    """The instance GUID of the VM's SCSI controller ``number`` (upper case, deterministic per VM)."""
    return str(uuid.uuid5(uuid.UUID(vm_id), f"scsi-{number}")).upper()


def disk_drive_id(vm_id: str, location: int, *, controller_type: str = "SCSI", controller_number: int = 0) -> str:
    r"""The inventory id of the disk at ``controller_type`` ``controller_number``:``location``.

    ``Microsoft:<VM>\<controller instance>\<controller>\<location>\D``.
    """
    instance = IDE_CONTROLLER_ID if controller_type == "IDE" else scsi_controller_id(vm_id, controller_number)
    return f"Microsoft:{vm_id.upper()}\\{instance}\\{controller_number}\\{location}\\D"


def free_scsi_location(used: Iterable[int]) -> int:
    """The first SCSI location that is not in ``used`` (``StopIteration`` when all 64 are)."""
    taken = set(used)
    return next(index for index in range(SCSI_LOCATIONS) if index not in taken)
