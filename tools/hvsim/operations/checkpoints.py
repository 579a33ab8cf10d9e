"""Checkpoints: ``list_checkpoints``, ``create_checkpoint``, ``apply_checkpoint`` and ``remove_checkpoint``.

The rules Hyper-V applies, and where they are written down:

- The checkpoint type is the VM's setting (``Set-VM -CheckpointType``): ``Production`` makes a production
  checkpoint and "if the production checkpoint fails a standard checkpoint is being created"; ``ProductionOnly``
  makes none then; ``Standard`` always makes a standard one (learn.microsoft.com/virtualization/hyper-v-on-windows/
  user-guide/checkpoints, "Changing the Checkpoint Type"). A production checkpoint "uses Volume Shadow Copy Service
  or File System Freeze" in the guest, so a running guest must answer through its backup integration service; here
  that is :attr:`FakeVm.integration_services`. A saved or paused VM gets the fallback too (no guest to ask; this is
  the stricter reading). ``Disabled`` ("Enable Checkpoints" cleared, same page) refuses: ``InvalidVmState``.
- At most 50 checkpoints per VM ("Plan for Hyper-V scalability in Windows Server": "Checkpoints 50"):
  ``InsufficientResources``. The new differencing disks, configuration and saved memory need room on the VM's
  volume ("The actual number may be lower, depending on the available storage", same table): also
  ``InsufficientResources``.
- ``Checkpoint-VM`` works on a VM that is Off, Running, Saved or Paused; in a transition (Starting, Saving,
  Stopping, ...) the snapshot service answers "Invalid state for this operation" (32775,
  ``Msvm_VirtualSystemSnapshotService.CreateSnapshot``): ``InvalidVmState``.
- Checkpoint names: "Names are limited to 100 characters, and the name cannot be blank" (user guide, "Renaming
  checkpoints"): ``InvalidParameters``.
- ``Restore-VMSnapshot`` applies a checkpoint only to a VM that is Off or Saved; a running VM answers "Invalid state
  for this operation" (32775, ``Msvm_VirtualSystemSnapshotService.ApplySnapshot``), which is why Hyper-V Manager
  saves or turns the VM off first. Modelled as ``InvalidVmState`` for every other state (the stricter reading:
  Hyper-V Manager's own apply does the stop for you). After a production checkpoint "the virtual machine is in an
  off state"; after a standard one "the system is in the exact state that it was when the checkpoint was created"
  (user guide, "Checkpoint demo"): Saved when it held memory, else Off.
- ``Remove-VMSnapshot`` removes one checkpoint (not ``-IncludeAllChildSnapshots``): its children move up, and its
  differencing disks are merged ("When you delete a checkpoint, Hyper-V merges the .avhdx and .vhdx files").

Ids are compared as GUIDs; names case-insensitively (PowerShell's ``-eq``), which is how ``create_checkpoint`` finds
a checkpoint it already made.
"""

from __future__ import annotations

import uuid
from typing import Any

from tools.hvsim.exceptions import CheckpointNotFound, InsufficientResources, InvalidParameters, InvalidVmState
from tools.hvsim.models import FakeHost, FakeVm
from tools.hvsim.models.checkpoints import (
    MAX_CHECKPOINTS,
    FakeCheckpoint,
    apply_checkpoint,
    checkpoint_bytes,
    remove_checkpoint,
    take_checkpoint,
)
from tools.hvsim.operations.params import text, vm_param

__all__ = [
    "apply_checkpoint_op",
    "checkpoint_record",
    "create_checkpoint",
    "list_checkpoints",
    "remove_checkpoint_op",
]

_CHECKPOINTABLE = ("Off", "Running", "Saved", "Paused")


def _checkpoint_id(value: Any) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise InvalidParameters(f"checkpoint_id '{text(value)}' is not a GUID") from None


def _find(vm: FakeVm, checkpoint_id: str) -> FakeCheckpoint | None:
    return next((checkpoint for checkpoint in vm.checkpoints if checkpoint.id == checkpoint_id), None)


def checkpoint_record(vm: FakeVm, checkpoint: FakeCheckpoint) -> dict[str, Any]:
    """What ``Get-AetherCheckpointRecord`` returns for one checkpoint."""
    return {
        "id": checkpoint.id,
        "vm_id": vm.id,
        "name": checkpoint.name,
        "created": checkpoint.created.isoformat().replace("+00:00", "Z"),
        "parent_id": checkpoint.parent_id,
        "checkpoint_type": checkpoint.checkpoint_type,
        "is_current": checkpoint.id == vm.current_checkpoint_id,
        "processor_count": checkpoint.cpu_count,
        "startup_memory_gb": round(checkpoint.memory_mb / 1024, 2),
    }


def list_checkpoints(host: FakeHost, params: dict[str, Any]) -> Any:
    """``list_checkpoints.ps1``: every checkpoint, oldest first."""
    vm = vm_param(host, params.get("vm_id"))
    ordered = sorted(vm.checkpoints, key=lambda checkpoint: checkpoint.created)
    return {"checkpoints": [checkpoint_record(vm, checkpoint) for checkpoint in ordered]}


def _type_to_make(vm: FakeVm, state: str) -> str:
    """The type ``Checkpoint-VM`` makes for the VM's ``CheckpointType`` in ``state`` (see the module docstring)."""
    setting = vm.checkpoint_type
    if setting == "Standard":
        return "Standard"
    if state == "Off" or (state == "Running" and vm.integration_services):
        return "Production"
    if setting == "ProductionOnly":
        raise InvalidVmState(
            f"cannot checkpoint VM {vm.id}: its checkpoint type is ProductionOnly and the guest cannot make a "
            f"production checkpoint (it is {state}; the backup integration service does not answer)"
        )
    return "Standard"


def create_checkpoint(host: FakeHost, params: dict[str, Any]) -> Any:
    """``create_checkpoint.ps1``: a checkpoint named ``name``, or the one of that name already there."""
    vm = vm_param(host, params.get("vm_id"))
    name = text(params.get("name"))
    if not name.strip() or len(name) > 100:
        raise InvalidParameters("checkpoint name must be 1 to 100 characters and not blank")
    existing = next((checkpoint for checkpoint in vm.checkpoints if checkpoint.name.lower() == name.lower()), None)
    if existing is not None:
        return checkpoint_record(vm, existing)
    if vm.checkpoint_type == "Disabled":
        raise InvalidVmState(f"cannot checkpoint VM {vm.id}: checkpoints are disabled on it (CheckpointType Disabled)")
    state = vm.state
    if state not in _CHECKPOINTABLE:
        raise InvalidVmState(f"cannot checkpoint VM {vm.id}: it is {state}")
    if len(vm.checkpoints) >= MAX_CHECKPOINTS:
        raise InsufficientResources(
            f"cannot checkpoint VM {vm.id}: it has {len(vm.checkpoints)} checkpoints, Hyper-V's maximum is "
            f"{MAX_CHECKPOINTS}"
        )
    # Room for saved memory whenever a standard checkpoint may be made of a VM that is not Off (the script cannot
    # know in advance whether a running guest's production checkpoint will fall back; it reserves it then too).
    needed = checkpoint_bytes(vm, state != "Off" and vm.checkpoint_type in ("Standard", "Production"))
    free = host.free_bytes(vm.folder)
    if needed > free:
        raise InsufficientResources(
            f"cannot checkpoint VM {vm.id}: it needs {needed} bytes on the volume of '{vm.folder}', {free} are free"
        )
    kind = _type_to_make(vm, state)
    checkpoint = take_checkpoint(
        vm,
        host.fs,
        checkpoint_id=str(uuid.uuid4()),
        name=name,
        checkpoint_type=kind,
        state=state,
        created=host.backend.now(),
    )
    return checkpoint_record(vm, checkpoint)


def apply_checkpoint_op(host: FakeHost, params: dict[str, Any]) -> Any:
    """``apply_checkpoint.ps1``: the VM becomes the checkpoint (Off, or Saved for a standard one with memory)."""
    vm = vm_param(host, params.get("vm_id"))
    checkpoint = _find(vm, _checkpoint_id(params.get("checkpoint_id")))
    if checkpoint is None:
        raise CheckpointNotFound(f"VM {vm.id} has no checkpoint {_checkpoint_id(params.get('checkpoint_id'))}")
    state = vm.state
    if state not in ("Off", "Saved"):
        raise InvalidVmState(f"cannot apply a checkpoint to VM {vm.id}: it is {state} (turn it off or save it first)")
    apply_checkpoint(vm, host.fs, checkpoint)
    vm.set_state("Saved" if checkpoint.saved_memory else "Off")
    return {"vm_id": vm.id, "checkpoint_id": checkpoint.id, "state": vm.state}


def remove_checkpoint_op(host: FakeHost, params: dict[str, Any]) -> Any:
    """``remove_checkpoint.ps1``: remove one checkpoint (a missing one is success with ``existed`` False)."""
    vm = vm_param(host, params.get("vm_id"))
    checkpoint_id = _checkpoint_id(params.get("checkpoint_id"))
    checkpoint = _find(vm, checkpoint_id)
    if checkpoint is not None:
        remove_checkpoint(vm, host.fs, checkpoint)
    return {"vm_id": vm.id, "checkpoint_id": checkpoint_id, "existed": checkpoint is not None}
