"""The bodies of the day-2 routes (resize, disks, adapters, checkpoints, migration), validated like a create.

Each model forbids unknown fields and takes whole numbers strictly (``2.0`` is not a core count); :func:`parse_change`
turns every problem of a body into one :class:`RequestValidationError` naming each field. What needs the VM or its
host to judge (the VM's state, a switch on the host, the disk's current size) is the VM change service's.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    model_validator,
)

from functions.models.problems import RequestValidationError, problems_from_pydantic
from functions.models.vm_request import library_name

__all__ = [
    "CheckpointApplyRequest",
    "CheckpointCreateRequest",
    "DiskAddRequest",
    "DiskExpandRequest",
    "MigrateRequest",
    "NicAddRequest",
    "NicUpdateRequest",
    "VmUpdateRequest",
    "parse_change",
]

M = TypeVar("M", bound=BaseModel)
MAX_DISK_GB = 65536
"""A VHDX holds at most 64 TB."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WINDOWS_PATH = re.compile(r"^[A-Za-z]:\\(?:[^\\/:*?\"<>|\x00-\x1f]+\\?)*$")


def _checkpoint_name(value: str) -> str:
    if value != value.strip():
        raise ValueError("must not start or end with spaces")
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _notes(value: str) -> str:
    if _CONTROL.search(value.translate({9: None, 10: None, 13: None})):
        raise ValueError("must not contain control characters other than line breaks and tabs")
    return value


def _storage_path(value: str) -> str:
    if not _WINDOWS_PATH.match(value) or ".." in value.split("\\"):
        raise ValueError("must be an absolute Windows folder path such as D:\\Hyper-V")
    return value


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, frozen=True)


class VmUpdateRequest(_Body):
    """``PATCH /api/v1/vms/{vm_id}``: any subset of size and notes; ``allow_restart`` for changes needing Off."""

    cpu_cores: StrictInt | None = Field(default=None, ge=1, le=240, description="Virtual processors.")
    memory_gb: StrictInt | None = Field(default=None, ge=1, le=2048, description="Startup memory in GB (static).")
    notes: Annotated[str, AfterValidator(_notes)] | None = Field(
        default=None, max_length=4000, description="The VM's notes in Hyper-V (replaces them; '' clears them)."
    )
    allow_restart: StrictBool = Field(
        default=False,
        description="Shut the guest down for a change Hyper-V only makes while the VM is off, then start it again.",
    )

    @model_validator(mode="after")
    def _something(self) -> VmUpdateRequest:
        if self.cpu_cores is None and self.memory_gb is None and self.notes is None:
            raise ValueError("give at least one of cpu_cores, memory_gb, notes")
        return self


class DiskAddRequest(_Body):
    """``POST /api/v1/vms/{vm_id}/disks``: a new dynamic VHDX on the VM's SCSI controller."""

    size_gb: StrictInt = Field(ge=1, le=MAX_DISK_GB, description="The disk's size in GB.")


class DiskExpandRequest(_Body):
    """``POST /api/v1/vms/{vm_id}/disks/{disk_id}/expand``: the disk's new, larger size."""

    size_gb: StrictInt = Field(ge=1, le=MAX_DISK_GB, description="The new size in GB (larger than the current).")


class NicAddRequest(_Body):
    """``POST /api/v1/vms/{vm_id}/nics``: an adapter on a switch of the VM's host."""

    network: Annotated[str, AfterValidator(library_name)] = Field(
        min_length=1, max_length=100, description="The virtual switch."
    )
    vlan_id: StrictInt | None = Field(default=None, ge=1, le=4094, description="Access VLAN (omit: untagged).")


class NicUpdateRequest(_Body):
    """``PATCH /api/v1/vms/{vm_id}/nics/{nic_id}``: reconnect to a switch and/or set the VLAN (null: untagged)."""

    network: Annotated[str, AfterValidator(library_name)] | None = Field(
        default=None, min_length=1, max_length=100, description="The virtual switch (omit: keep)."
    )
    vlan_id: StrictInt | None = Field(default=None, ge=1, le=4094, description="Access VLAN; null: untagged.")

    @model_validator(mode="after")
    def _something(self) -> NicUpdateRequest:
        if not self.model_fields_set & {"network", "vlan_id"}:
            raise ValueError("give network, vlan_id or both")
        return self


class CheckpointCreateRequest(_Body):
    """``POST /api/v1/vms/{vm_id}/checkpoints``: a production checkpoint with this name (unique on the VM)."""

    name: Annotated[str, AfterValidator(_checkpoint_name)] = Field(
        min_length=1, max_length=100, description="The checkpoint's name."
    )


class CheckpointApplyRequest(_Body):
    """``POST /api/v1/vms/{vm_id}/checkpoints/{checkpoint_id}/apply`` (body optional)."""

    allow_restart: StrictBool = Field(
        default=False,
        description="Shut a running VM down first (Hyper-V applies a checkpoint only to a VM that is off or saved), "
        "then start it again.",
    )


class MigrateRequest(_Body):
    """``POST /api/v1/vms/{vm_id}/migrate``: the destination host, and for a stand-alone VM where its files go."""

    host: Annotated[str, AfterValidator(library_name)] = Field(
        min_length=1, max_length=100, description="The destination host."
    )
    storage_path: Annotated[str, AfterValidator(_storage_path)] | None = Field(
        default=None,
        max_length=240,
        description="Folder on the destination for the VM's files (stand-alone hosts; default: its default VM path).",
    )


def parse_change(model: type[M], payload: Any) -> M:
    """``payload`` (decoded JSON) validated into ``model``, or a :class:`RequestValidationError` naming each problem."""
    if payload is None:
        payload = {}
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False, include_context=False)
        raise RequestValidationError(problems_from_pydantic(errors)) from None
