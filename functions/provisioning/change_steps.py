"""The host side of a day-2 change: one typed client call per change kind, safe to run twice.

Each kind's parameters (``ChangePayload.params``) are what the VM change service put in the job's input:

================== ==============================================================================================
``update_vm``      ``cpu_cores``, ``memory_mb``, ``notes`` (each optional); ``previous``: what the VM had of them
``add_disk``       ``size_gb``, ``file_name`` (the job's own, so a rerun finds the disk it made), ``path`` (where
                   it will be, when the inventory knows the VM's folder: what the compensation removes)
``expand_disk``    ``disk_id``, ``size_gb``
``remove_disk``    ``disk_id``, ``path`` (so a rerun deletes the file a first run detached); without ``disk_id``
                   the drive holding ``path`` (an add_disk undone)
``add_nic``        ``switch``, ``vlan_id``, ``name`` (the job's own, so a rerun finds the adapter it added)
``update_nic``     ``nic_id``, ``switch`` (None: keep), ``vlan_id`` (None: untagged); ``previous``: its switch and
                   VLAN before
``remove_nic``     ``nic_id``, or ``name`` (an add_nic undone)
``create_checkpoint`` ``name`` (unique on the VM, checked before the job starts: a rerun finds it)
``apply_checkpoint``  ``checkpoint_id``
``remove_checkpoint`` ``checkpoint_id``
``migrate_vm``     ``destination``, ``storage_path`` (the destination's default VM folder + the VM's name unless
                   given; None when the destination's default is unknown), ``clustered``, ``vm_name``
``discard_migration_copy`` ``vm_name``, ``storage_path``: run on the destination (the payload's host) by a failed
                   migration's compensation
================== ==============================================================================================

Every operation is idempotent on the host (see each :class:`~functions.hyperv.client.HyperVClient` method). A
migration that already happened (a rerun after an unknown outcome) finds no VM on the source; the VM on the
destination is then the proof, and its result says so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from functions.errors import StepError
from functions.hyperv.client import HyperVClient
from functions.hyperv.connector import HostConnector
from functions.hyperv.errors import HyperVError
from functions.models.json import JsonObject
from functions.provisioning.changes import ChangeKind, ChangePayload, ChangeResult

__all__ = ["MIGRATION_SECONDS", "run_change"]

MIGRATION_SECONDS = 480
"""How long a migration step waits for the move: inside host.json's ``functionTimeout`` (600 s) with a margin, so
the step ends with its own answer rather than the platform's. The VM change service keeps shared-nothing moves small
enough to fit (``AETHERV_MIGRATION_MAX_STORAGE_GB``)."""

_Step = Callable[[HyperVClient, str, JsonObject], Any]


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


_STEPS: dict[ChangeKind, _Step] = {
    "update_vm": lambda hv, vm, p: hv.set_vm(
        vm,
        cpu_cores=_optional_int(p.get("cpu_cores")),
        memory_mb=_optional_int(p.get("memory_mb")),
        notes=p.get("notes"),
    ),
    "add_disk": lambda hv, vm, p: hv.add_disk(vm, size_gb=int(p["size_gb"]), file_name=str(p["file_name"])),
    "expand_disk": lambda hv, vm, p: hv.expand_disk(vm, str(p["disk_id"]), size_gb=int(p["size_gb"])),
    "remove_disk": lambda hv, vm, p: hv.remove_disk(vm, str(p["disk_id"]), path=str(p["path"])),
    "add_nic": lambda hv, vm, p: hv.add_nic(
        vm, switch=str(p["switch"]), vlan_id=_optional_int(p.get("vlan_id")), name=str(p["name"])
    ),
    "update_nic": lambda hv, vm, p: hv.set_nic(
        vm, str(p["nic_id"]), switch=p.get("switch"), vlan_id=_optional_int(p.get("vlan_id"))
    ),
    "remove_nic": lambda hv, vm, p: hv.remove_nic(vm, str(p.get("nic_id") or ""), name=p.get("name")),
    "create_checkpoint": lambda hv, vm, p: hv.create_checkpoint(vm, name=str(p["name"])),
    "apply_checkpoint": lambda hv, vm, p: hv.apply_checkpoint(vm, str(p["checkpoint_id"])),
    "remove_checkpoint": lambda hv, vm, p: hv.remove_checkpoint(vm, str(p["checkpoint_id"])),
    "discard_migration_copy": lambda hv, vm, p: hv.discard_migration_copy(
        vm, vm_name=str(p.get("vm_name") or ""), storage_path=str(p["storage_path"])
    ),
}


def _document(value: Any) -> JsonObject:
    if isinstance(value, BaseModel):
        document: JsonObject = value.model_dump(mode="json")
        return document
    return {"value": value}


def run_change(connector: HostConnector, payload: ChangePayload) -> ChangeResult:
    """Run the payload's change on its host; the host operation's result, and the VM's host afterwards."""
    if payload.vm_id is None:
        raise StepError("InvalidParameters", "a change needs the VM's id")
    if payload.kind == "migrate_vm":
        return _migrate(connector, payload, payload.vm_id)
    step = _STEPS[payload.kind]
    with connector.open(payload.host) as client:
        return ChangeResult(_document(step(client, payload.vm_id, payload.params)), payload.host)


def _migrate(connector: HostConnector, payload: ChangePayload, vm_id: str) -> ChangeResult:
    params = payload.params
    destination = str(params["destination"])
    try:
        with connector.open(payload.host, timeout=MIGRATION_SECONDS) as client:
            moved = client.migrate_vm(
                vm_id,
                destination=destination,
                storage_path=params.get("storage_path"),
                clustered=bool(params.get("clustered")),
                timeout_seconds=MIGRATION_SECONDS - 60 if params.get("clustered") else None,
            )
        return ChangeResult(_document(moved), destination)
    except HyperVError as exc:
        if exc.category == "OperationTimeout" and not params.get("clustered"):  # a cluster move is waited for again
            raise StepError(
                "MigrationUnconfirmed",
                f"the move of VM {vm_id} to {destination} did not finish within {MIGRATION_SECONDS} s; it may still "
                "be under way on the host: the inventory shows where the VM is once it ends",
            ) from exc
        if exc.category != "VmNotFound":
            raise
    with connector.open(destination) as client:  # a rerun: the first run moved it (or it is gone: VmNotFound)
        vm = client.get_vm(vm_id)
    return ChangeResult(
        {"vm_id": vm.id, "source": payload.host, "destination": destination, "found": True}, destination
    )
