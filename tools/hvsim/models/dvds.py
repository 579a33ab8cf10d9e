"""DVDs and ISOs: a VM's DVD drives and how the simulator recognises the provisioning ISO in one.

A drive holds an ISO path or nothing (``path`` None, e.g. after a Windows guest ejected the CD; defect 19 of the
original Windows agent, kept on purpose). The provisioning ISO is recognised by name, as the scripts do.
"""

from __future__ import annotations

from dataclasses import dataclass

from tools.hvsim.models.files import leaf_name

__all__ = ["FakeDvdDrive", "is_provisioning_iso", "names_provisioning_media"]


@dataclass
class FakeDvdDrive:
    """A DVD drive; ``path`` is None when it is empty (e.g. after a Windows guest ejected the CD)."""

    path: str | None
    controller_number: int = 0
    controller_location: int = 1


def names_provisioning_media(path: str) -> bool:
    """Whether the file name of ``path`` says it is provisioning media (what boots the guest agent)."""
    return "provisioning" in leaf_name(path).lower()


def is_provisioning_iso(path: str) -> bool:
    """The scripts' test for a provisioning ISO they may eject or delete: ``*provisioning*.iso``."""
    name = leaf_name(path).lower()
    return "provisioning" in name and name.endswith(".iso")
