"""What a day-2 change job carries: its kind, the host operation's parameters, the input, payload and output.

One orchestration (``change_vm``) runs every change to an existing VM — resize, disks, adapters, checkpoints,
migration — as one host step, optionally between a guest shut down and a start (``restart``: a change Hyper-V
only allows while the VM is off, asked for with ``allow_restart``), then refreshes the inventory. The host step
is one activity (``vm_change``) whose payload names the kind and carries its parameters as plain JSON: each kind's
parameters are built and checked by the VM change service before the job starts, and read by the step that runs
it (:mod:`functions.provisioning.change_steps`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from functions.models.json import JsonObject
from functions.provisioning.payloads import TargetFields, VmSummary, VmTarget, target_fields
from functions.provisioning.workflow_data import Timing

__all__ = [
    "CHANGE_KINDS",
    "ChangeInput",
    "ChangeKind",
    "ChangeOutput",
    "ChangePayload",
    "ChangeResult",
]

ChangeKind = Literal[
    "update_vm",
    "add_disk",
    "expand_disk",
    "remove_disk",
    "add_nic",
    "update_nic",
    "remove_nic",
    "create_checkpoint",
    "apply_checkpoint",
    "remove_checkpoint",
    "migrate_vm",
    "discard_migration_copy",
]
CHANGE_KINDS: tuple[ChangeKind, ...] = get_args(ChangeKind)
"""Every host step of a change: the day-2 job kinds (as job documents name them), and ``discard_migration_copy``,
which only a failed migration's compensation runs (on the destination)."""


def _kind(value: Any) -> ChangeKind:
    if value not in CHANGE_KINDS:
        raise ValueError(f"unknown change kind {value!r}")
    kind: ChangeKind = value
    return kind


@dataclass(frozen=True)
class ChangeInput:
    """The ``change_vm`` orchestration's input.

    ``params`` are the host operation's parameters (see :mod:`functions.provisioning.change_steps`); ``restart``
    shuts the guest down first (within ``shutdown_seconds``) and starts the VM again afterwards.
    """

    job_id: str
    host: str
    vm_id: str
    kind: ChangeKind
    timing: Timing
    params: JsonObject = field(default_factory=dict)
    restart: bool = False
    shutdown_seconds: int = 120

    def to_json(self) -> JsonObject:
        """The input document."""
        return {
            "job_id": self.job_id,
            "host": self.host,
            "vm_id": self.vm_id,
            "kind": self.kind,
            "timing": self.timing.to_json(),
            "params": dict(self.params),
            "restart": self.restart,
            "shutdown_seconds": self.shutdown_seconds,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChangeInput:
        """Parse the input document."""
        return cls(
            job_id=str(data["job_id"]),
            host=str(data["host"]),
            vm_id=str(data["vm_id"]),
            kind=_kind(data["kind"]),
            timing=Timing.from_json(data.get("timing")),
            params=dict(data.get("params") or {}),
            restart=bool(data.get("restart", False)),
            shutdown_seconds=int(data.get("shutdown_seconds", 120)),
        )


@dataclass(frozen=True)
class ChangePayload(VmTarget):
    """The ``vm_change`` activity's payload: the target, the kind and its parameters."""

    kind: ChangeKind = "update_vm"
    params: JsonObject = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChangePayload:
        """Parse a payload."""
        fields_: TargetFields = target_fields(data)
        return cls(**fields_, kind=_kind(data["kind"]), params=dict(data.get("params") or {}))


@dataclass(frozen=True)
class ChangeResult:
    """What the host step did: the host operation's result document, and the VM's host afterwards.

    ``host`` differs from the payload's only after a migration (the VM's new host).
    """

    result: JsonObject
    host: str

    def to_json(self) -> JsonObject:
        """``{"result", "host"}``."""
        return {"result": dict(self.result), "host": self.host}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChangeResult:
        """Parse a result."""
        return cls(result=dict(data.get("result") or {}), host=str(data["host"]))


@dataclass(frozen=True)
class ChangeOutput:
    """A finished change: the kind, the host operation's result, the power steps taken and the VM afterwards."""

    vm_id: str
    host: str
    kind: ChangeKind
    result: JsonObject
    restarted: bool
    vm: VmSummary | None

    def to_json(self) -> JsonObject:
        """``{"vm_id", "host", "kind", "result", "restarted", "vm"}``."""
        return {
            "vm_id": self.vm_id,
            "host": self.host,
            "kind": self.kind,
            "result": dict(self.result),
            "restarted": self.restarted,
            "vm": self.vm.to_json() if self.vm else None,
        }
