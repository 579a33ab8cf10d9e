"""Checkpoint (and migration) operations of :class:`functions.hyperv.client.HyperVClient`, as a mixin.

:class:`CheckpointOperations` holds the typed methods; it uses the client's private helpers (``_run``, ``_parse``,
``_call``, ``_list``), declared here so the mixin type-checks on its own. Every method is safe to repeat after an
unknown outcome (an activity may run twice): see each docstring.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

from functions.hyperv.calls import ClientCalls, guid
from functions.hyperv.checkpoint_models import (
    CheckpointApplied,
    CheckpointInfo,
    DiscardedCopy,
    MigrationResult,
    RemovedCheckpoint,
)

__all__ = ["CheckpointOperations"]

M = TypeVar("M", bound=BaseModel)


class CheckpointOperations(ClientCalls):
    """Checkpoints of a VM (list, create idempotent by name, apply, remove) and its migration to another host."""

    # -- checkpoints -------------------------------------------------------------------------------------------------

    def list_checkpoints(self, vm_id: str) -> list[CheckpointInfo]:
        """The VM's checkpoints, oldest first (the tree through ``parent_id``). Raises ``VmNotFound``. Reads only."""
        return self._list("list_checkpoints", "checkpoints", CheckpointInfo, {"vm_id": guid("vm_id", vm_id)})

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
        return self._call("create_checkpoint", CheckpointInfo, {"vm_id": guid("vm_id", vm_id), "name": name})

    def apply_checkpoint(self, vm_id: str, checkpoint_id: str) -> CheckpointApplied:
        """Apply a checkpoint: the VM's configuration and disks become the checkpoint's.

        The VM must be Off or Saved (``InvalidVmState`` otherwise: stop or save it first). Afterwards it is Off for
        a production checkpoint and Saved for a standard one that holds memory, and the checkpoint is the current
        one. Idempotent: applying the same checkpoint again leaves the same state. Raises ``VmNotFound``,
        ``CheckpointNotFound``, ``InvalidParameters``.
        """
        params = {"vm_id": guid("vm_id", vm_id), "checkpoint_id": guid("checkpoint_id", checkpoint_id)}
        return self._call("apply_checkpoint", CheckpointApplied, params)

    def remove_checkpoint(self, vm_id: str, checkpoint_id: str) -> RemovedCheckpoint:
        """Remove one checkpoint; its children move up to its parent and Hyper-V merges its disks.

        Idempotent: a checkpoint that is not there is success with ``existed`` False. Raises ``VmNotFound``,
        ``InvalidParameters``.
        """
        params = {"vm_id": guid("vm_id", vm_id), "checkpoint_id": guid("checkpoint_id", checkpoint_id)}
        return self._call("remove_checkpoint", RemovedCheckpoint, params)

    # -- migration ---------------------------------------------------------------------------------------------------

    def discard_migration_copy(self, vm_id: str, *, vm_name: str, storage_path: str) -> DiscardedCopy:
        """On a migration's destination: remove the partial copy a failed shared-nothing move left in ``storage_path``.

        Only for a move that failed in Move-VM itself (its checks found ``storage_path`` empty just before). Nothing
        a VM of this host uses is deleted: the VM registered here (the move went through), or a folder holding a file
        of any VM here, leaves everything and says so in ``warning``. Idempotent: nothing left is ``existed`` False.
        Raises ``InvalidParameters`` (a GUID, a folder below a volume's root).
        """
        params = {"vm_id": guid("vm_id", vm_id), "vm_name": vm_name, "storage_path": storage_path}
        return self._call("discard_migration_copy", DiscardedCopy, params)

    def migrate_vm(
        self,
        vm_id: str,
        *,
        destination: str,
        storage_path: str | None = None,
        clustered: bool,
        timeout_seconds: int | None = None,
    ) -> MigrationResult:
        r"""Move the VM from this (the source) host to ``destination``, keeping its id; waits until it has moved.

        ``clustered``: a live migration to another node of the VM's failover cluster (through CIM, no second hop);
        the files stay on the CSV and the role's owner node changes (``kind`` "cluster"; ``storage_path`` must be
        None). Otherwise a shared-nothing live migration with storage (``Move-VM -IncludeStorage``) to
        ``storage_path`` on the destination, by default its default VM folder + the VM's name (``kind``
        "shared_nothing"); it needs Kerberos constrained delegation or CredSSP between the hosts (see
        ``docs/hyperv-hosts.md``). ``timeout_seconds`` bounds the wait for a cluster move (default 300 s).

        Idempotent through the caller: after a move the VM is no longer on this host, so a rerun raises
        ``VmNotFound`` -- look for the VM (same id) on the destination then. A cluster move still under way is
        waited for again, not started twice. A shared-nothing move that failed part-way leaves the VM complete here
        and may leave a partial folder at the destination; a new attempt raises ``VmAlreadyExists`` until that
        folder is removed (or another ``storage_path`` is given).

        Raises ``InvalidParameters`` (no destination, this host, a storage path with a cluster move),
        ``VmNotFound``, ``InvalidVmState`` (a VM in a transition; an ISO in a DVD drive for a shared-nothing move),
        ``ClusterError`` (``clustered`` does not match the VM, the destination is not an up node of its cluster, or
        the cluster refused the move: a missing switch, not enough memory), ``HostUnreachable`` (the destination did
        not answer), ``VmAlreadyExists``, ``SwitchNotFound``, ``InsufficientResources`` (space on the destination
        volume, memory for a running VM), ``OperationTimeout`` (a cluster move still running: call again), and
        ``ScriptFailed`` with Move-VM's message when the move itself fails.
        """
        params: dict[str, Any] = {
            "vm_id": guid("vm_id", vm_id),
            "destination": destination,
            "storage_path": storage_path,
            "clustered": clustered,
        }
        if timeout_seconds is not None:
            params["timeout_seconds"] = int(timeout_seconds)
        return self._call("migrate_vm", MigrationResult, params)
