r"""Disks: the virtual hard disk drives of a VM and where they sit on its SCSI controller.

A drive points at a VHDX file of :mod:`tools.hvsim.models.files` by path; the file may be missing (Hyper-V keeps a
drive whose file was deleted, and the inventory then reports its type as ``Unknown``). Disks and DVD drives share
SCSI controller 0; :func:`free_scsi_location` finds the first free location on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["SCSI_CONTROLLER_ID", "FakeDiskDrive", "disk_drive_id", "free_scsi_location"]

SCSI_CONTROLLER_ID = "83F8638B-8DCA-4152-9EDA-2CA8B33039B4"
"""The resource-type GUID in a synthetic SCSI drive's RASD InstanceID."""

_SCSI_LOCATIONS = 64


@dataclass
class FakeDiskDrive:
    r"""A virtual hard disk drive; ``id`` is the inventory id (the RASD InstanceID ending in ``\\D``)."""

    id: str
    path: str
    controller_type: str = "SCSI"
    controller_number: int = 0
    controller_location: int = 0
    shared: bool = False


def disk_drive_id(vm_id: str, location: int) -> str:
    r"""The inventory id of the disk at ``location`` of controller 0: ``Microsoft:<VM>\<controller>\0\<n>\D``."""
    return f"Microsoft:{vm_id.upper()}\\{SCSI_CONTROLLER_ID}\\0\\{location}\\D"


def free_scsi_location(used: Iterable[int]) -> int:
    """The first SCSI location of controller 0 that is not in ``used`` (``StopIteration`` when all 64 are)."""
    taken = set(used)
    return next(index for index in range(_SCSI_LOCATIONS) if index not in taken)
