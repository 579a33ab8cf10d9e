"""The operation table: which handler simulates which ``functions/hyperv/scripts/<operation>.ps1``, and running one.

:data:`OPERATIONS` maps every operation script to its handler. :func:`run_operation` runs one in-process under the
host's lock (model tests; the journal records the parameters exactly as received); :func:`install` registers every
handler with the protocol's dispatch, which lets a script run only when its text is byte-identical to the
project's file and renders a :class:`~tools.hvsim.exceptions.HyperVSimError` as the script's ``Fail-AetherV``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from tools.hvsim.exceptions import HyperVSimError
from tools.hvsim.models import FakeHost
from tools.hvsim.operations import (
    background,
    cleanup,
    cluster,
    devices,
    disks,
    dvds,
    inventory,
    kvp,
    nics,
    power,
    switches,
    vms,
)
from tools.hvsim.operations.checkpoints import (
    apply_checkpoint_op,
    create_checkpoint,
    list_checkpoints,
    remove_checkpoint_op,
)
from tools.hvsim.operations.library import install_uploads, upload_chunk, upload_status
from tools.hvsim.operations.migration import discard_migration_copy, migrate_vm
from tools.hvsim.protocol.dispatch import OperationContext, register
from tools.hvsim.protocol.errors import ScriptError

__all__ = ["OPERATIONS", "UNLOCKED", "Operation", "install", "run_operation"]

Operation = Callable[[FakeHost, dict[str, Any]], Any]
"""A handler: the host model and the decoded ``$Params`` in, the script's result object out."""

OPERATIONS: dict[str, Operation] = {
    "collect_inventory": inventory.collect_inventory,
    "get_vm": inventory.get_vm,
    "list_switches": switches.list_switches,
    "list_images": disks.list_images,
    "prepare_disk": disks.prepare_disk,
    "start_operation": background.start_operation,
    "operation_status": background.operation_status,
    "stop_operation": background.stop_operation,
    "list_isos": dvds.list_isos,
    "eject_iso": dvds.eject_iso,
    "preflight_create": vms.preflight_create,
    "create_vm": vms.create_vm,
    "remove_vm": vms.remove_vm,
    "remove_owned": cleanup.remove_owned,
    "start_vm": power.start_vm,
    "stop_vm": power.stop_vm,
    "shutdown_vm": power.shutdown_vm,
    "restart_vm": power.restart_vm,
    "read_guest_kvp": kvp.read_guest_kvp,
    "write_host_kvp": kvp.write_host_kvp,
    "start_and_announce": kvp.start_and_announce,
    "add_to_cluster": cluster.add_to_cluster,
    "remove_from_cluster": cluster.remove_from_cluster,
    "upload_status": upload_status,
    "upload_chunk": upload_chunk,
    "install_uploads": install_uploads,
    "set_vm": devices.set_vm,
    "add_disk": devices.add_disk,
    "expand_disk": devices.expand_disk,
    "remove_disk": devices.remove_disk,
    "add_nic": nics.add_nic,
    "set_nic": nics.set_nic,
    "remove_nic": nics.remove_nic,
    "list_checkpoints": list_checkpoints,
    "create_checkpoint": create_checkpoint,
    "apply_checkpoint": apply_checkpoint_op,
    "remove_checkpoint": remove_checkpoint_op,
    "migrate_vm": migrate_vm,
    "discard_migration_copy": discard_migration_copy,
}

UNLOCKED = frozenset({"shutdown_vm", "prepare_disk"})
"""Handlers that take the host's lock themselves (their waits release it: a polling loop, a ``Copy-Item``)."""


def run_operation(host: FakeHost, name: str, params: dict[str, Any]) -> Any:
    """Run operation ``name`` on ``host`` in-process; raises :class:`HyperVSimError` like the script fails."""
    handler = OPERATIONS[name]
    host.journal.append((name, copy.deepcopy(params)))
    with host.lock:
        host.background.settle()  # what the host's background workers did meanwhile
    if name in UNLOCKED:
        return handler(host, params)
    with host.lock:
        return handler(host, params)


def _dispatch_handler(name: str) -> Callable[[OperationContext, dict[str, Any]], Any]:
    def handler(ctx: OperationContext, params: dict[str, Any]) -> Any:
        host = ctx.backend
        if not isinstance(host, FakeHost):
            raise ScriptError("ScriptFailed", "hvsim host has no Hyper-V model")
        try:
            return run_operation(host, name, params)
        except HyperVSimError as exc:
            raise ScriptError(exc.category, exc.message) from exc

    return handler


def install() -> None:
    """Register every handler with the protocol's dispatch (``tools.hvsim.protocol.dispatch``)."""
    for name in OPERATIONS:
        register(name)(_dispatch_handler(name))
