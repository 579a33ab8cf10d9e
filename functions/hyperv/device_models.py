"""Results of the device operations (:mod:`functions.hyperv.device_ops`) that the inventory models do not cover.

A resized VM comes back as :class:`~functions.hyperv.models.VmInfo`, a disk as
:class:`~functions.hyperv.models.VmDisk`, an adapter as :class:`~functions.hyperv.models.VmNetworkAdapter`; these
are the removals' results. Like every result model they are frozen and ignore unknown fields.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["RemovedDisk", "RemovedNic"]


class RemovedDisk(BaseModel):
    """What ``remove_disk`` did: whether the drive was attached, and whether its file was deleted."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    existed: bool
    """The drive was attached to the VM (False on a rerun after it was detached)."""
    path: str
    """The disk's file, as the caller named it."""
    file_deleted: bool
    """The file was deleted by this call (False when it was gone already, or kept: see ``warning``)."""
    warning: str | None = None
    """Why an existing file was kept: another VM has it attached, or it is not in the VM's own folder."""


class RemovedNic(BaseModel):
    """What ``remove_nic`` did."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    existed: bool
    """The adapter was there (False on a rerun)."""
