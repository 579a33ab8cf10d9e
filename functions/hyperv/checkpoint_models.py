"""Typed results of the checkpoint and migration operations (``list_checkpoints`` … ``migrate_vm``).

Like :mod:`functions.hyperv.models`: frozen pydantic models with snake_case fields, unknown fields ignored so a newer
script can add one. Times are ISO 8601 UTC; ids are lower-case GUIDs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from functions.hyperv.models import VmState

__all__ = [
    "CheckpointApplied",
    "CheckpointInfo",
    "CheckpointType",
    "MigrationKind",
    "MigrationResult",
    "RemovedCheckpoint",
]

CheckpointType = Literal["Production", "Standard"]
"""What Hyper-V made: a production checkpoint (guest VSS / file-system freeze, no memory) or a standard one."""

MigrationKind = Literal["cluster", "shared_nothing"]
"""How a VM moved: a live migration inside its failover cluster, or a shared-nothing live migration with storage."""


class _Result(BaseModel):
    """Base of these results: immutable, unknown fields ignored (forward compatible)."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class CheckpointInfo(_Result):
    """One checkpoint of a VM (``Get-VMSnapshot``)."""

    id: str
    name: str
    created: datetime
    parent_id: str | None = None
    """The checkpoint this one was taken on top of (None for a root of the tree)."""
    checkpoint_type: CheckpointType
    vm_id: str | None = None
    is_current: bool = False
    """Whether the VM's running state derives from this checkpoint (the last one taken or applied)."""
    processor_count: int | None = None
    startup_memory_gb: float | None = None


class CheckpointApplied(_Result):
    """Outcome of ``apply_checkpoint``: the VM's state afterwards (Off, or Saved for a standard checkpoint)."""

    checkpoint_id: str
    state: VmState
    vm_id: str | None = None


class RemovedCheckpoint(_Result):
    """Outcome of ``remove_checkpoint``; ``existed`` is False when the checkpoint was already gone."""

    existed: bool
    checkpoint_id: str | None = None
    vm_id: str | None = None


class DiscardedCopy(_Result):
    """Outcome of ``discard_migration_copy``: whether a partial copy was there, how many files went, and why not."""

    existed: bool
    files_deleted: int = 0
    warning: str | None = None


class MigrationResult(_Result):
    """Outcome of ``migrate_vm``: where the VM went and how (its id is unchanged)."""

    vm_id: str
    source: str
    """The source host's computer name."""
    destination: str
    """The destination as the caller named it."""
    kind: MigrationKind
    storage_path: str | None = None
    """Where the VM's files are on the destination (None for a cluster move: they stay on the CSV)."""
    state: VmState | None = None
    """The VM's state when it moved (a live migration keeps it)."""
