"""Checkpoints (``Get-VMSnapshot``): what a VM keeps of itself at a point in time, in a tree.

A checkpoint records the VM's configuration and the state it was in; ``parent_id`` is the checkpoint that was the
VM's current one when it was taken (None for the first), so the checkpoints form a tree like Hyper-V's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["FakeCheckpoint"]


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
