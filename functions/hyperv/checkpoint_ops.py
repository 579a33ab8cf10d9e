"""Checkpoint (and migration) operations of :class:`functions.hyperv.client.HyperVClient`, as a mixin.

:class:`CheckpointOperations` holds the typed methods; it uses the client's private helpers (``_run``, ``_parse``,
``_call``, ``_list``), declared here so the mixin type-checks on its own. Every method is safe to repeat after an
unknown outcome (an activity may run twice): see each docstring.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from functions.hyperv.checkpoint_models import CheckpointApplied, CheckpointInfo, RemovedCheckpoint
from functions.hyperv.errors import InvalidParameters
from functions.hyperv.models import normalise_vm_id

__all__ = ["CheckpointOperations"]

M = TypeVar("M", bound=BaseModel)


def _guid(field: str, value: str) -> str:
    try:
        return normalise_vm_id(value)
    except ValueError:
        raise InvalidParameters(f"{field} {value!r} is not a GUID") from None


class CheckpointOperations:
    """Checkpoints of a VM: list, create (idempotent by name), apply, remove."""

    host: str | None

    # -- the client's plumbing -------------------------------------------------------------------------------------

    @abstractmethod
    def _run(self, operation: str, params: Mapping[str, Any] | None = None) -> Any:
        """Run an operation script and return its parsed JSON result."""

    @abstractmethod
    def _parse(self, operation: str, model: type[M], value: Any) -> M:
        """Validate ``value`` into ``model`` (``ProtocolError`` when it does not fit)."""

    @abstractmethod
    def _call(self, operation: str, model: type[M], params: Mapping[str, Any] | None = None) -> M:
        """Run an operation and validate its result into ``model``."""

    @abstractmethod
    def _list(self, operation: str, key: str, model: type[M], params: Mapping[str, Any] | None = None) -> list[M]:
        """Run an operation and validate the list under ``key`` of its result."""

    # -- checkpoints -------------------------------------------------------------------------------------------------

    def list_checkpoints(self, vm_id: str) -> list[CheckpointInfo]:
        """The VM's checkpoints, oldest first (the tree through ``parent_id``). Raises ``VmNotFound``. Reads only."""
        return self._list("list_checkpoints", "checkpoints", CheckpointInfo, {"vm_id": _guid("vm_id", vm_id)})

    def create_checkpoint(self, vm_id: str, *, name: str) -> CheckpointInfo:
        """Checkpoint the VM and return the checkpoint (``checkpoint_type`` says what Hyper-V made).

        A production checkpoint when the VM's checkpoint type allows it and the guest can make one (Off, or running
        with its backup integration service answering); with type ``Production`` Hyper-V falls back to a standard
        checkpoint otherwise, with ``ProductionOnly`` it refuses (``InvalidVmState``). Idempotent by name: a
        checkpoint named ``name`` already on the VM is returned as it is (the caller keeps names unique per VM), so
        a rerun after an unknown outcome never makes a second one.

        Raises ``InvalidParameters`` (blank name or over 100 characters), ``VmNotFound``, ``InvalidVmState``
        (checkpoints disabled on the VM, the VM in a transition, or ProductionOnly without a production checkpoint),
        ``InsufficientResources`` (50 checkpoints already, Hyper-V's maximum; or no room on the VM's volume).
        """
        return self._call("create_checkpoint", CheckpointInfo, {"vm_id": _guid("vm_id", vm_id), "name": name})

    def apply_checkpoint(self, vm_id: str, checkpoint_id: str) -> CheckpointApplied:
        """Apply a checkpoint: the VM's configuration and disks become the checkpoint's.

        The VM must be Off or Saved (``InvalidVmState`` otherwise: stop or save it first). Afterwards it is Off for
        a production checkpoint and Saved for a standard one that holds memory, and the checkpoint is the current
        one. Idempotent: applying the same checkpoint again leaves the same state. Raises ``VmNotFound``,
        ``CheckpointNotFound``, ``InvalidParameters``.
        """
        params = {"vm_id": _guid("vm_id", vm_id), "checkpoint_id": _guid("checkpoint_id", checkpoint_id)}
        return self._call("apply_checkpoint", CheckpointApplied, params)

    def remove_checkpoint(self, vm_id: str, checkpoint_id: str) -> RemovedCheckpoint:
        """Remove one checkpoint; its children move up to its parent and Hyper-V merges its disks.

        Idempotent: a checkpoint that is not there is success with ``existed`` False. Raises ``VmNotFound``,
        ``InvalidParameters``.
        """
        params = {"vm_id": _guid("vm_id", vm_id), "checkpoint_id": _guid("checkpoint_id", checkpoint_id)}
        return self._call("remove_checkpoint", RemovedCheckpoint, params)
