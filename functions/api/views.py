"""Response shapes of the public API (pydantic models, also the OpenAPI schemas) and the mapping onto them.

The contract: lists are ``{"items": [...], "continuation": "<token>" | null}``; a VM has at least ``id``, ``name``,
``host``, ``state``, ``cpu_cores``, ``memory_gb``, ``ip_addresses``, ``os_family``, ``stale``, ``last_seen``; a
host ``name``, ``cluster``, ``connected``, ``last_seen``, ``error``; a job ``id``, ``kind``, ``status``, ``target``,
``steps``, ``error``, ``result``, ``requested_by``, ``created``, ``updated``. More fields are welcome.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from functions.models.inventory import HostRecord, InventorySummary, VmRecord
from functions.models.json import JsonObject

__all__ = [
    "VM_STATES",
    "ClusterView",
    "HostView",
    "JobView",
    "Page",
    "VmView",
    "direct_vm_view",
    "host_view",
    "summary_view",
    "validated_vm_view",
    "vm_fields",
    "vm_view",
]


VM_STATES = ("Running", "Off", "Saved", "Paused", "Starting", "Stopping", "Saving", "Pausing", "Resuming", "Unknown")


class _View(BaseModel):
    model_config = ConfigDict(extra="allow")


class DiskView(_View):
    """A virtual disk."""

    id: str | None = None
    name: str | None = None
    path: str | None = None
    type: str | None = None
    capacity_gb: float | None = None
    file_size_gb: float | None = None


class NicView(_View):
    """A network adapter."""

    id: str | None = None
    name: str | None = None
    switch: str | None = None
    vlan_id: int | None = None
    mac_address: str | None = None
    ip_addresses: list[str] = Field(default_factory=list)


class VmView(_View):
    """A VM as the inventory knows it."""

    id: str
    name: str
    host: str
    cluster: str | None = None
    state: str
    cpu_cores: int | None = None
    memory_gb: float | None = None
    startup_memory_gb: float | None = None
    ip_addresses: list[str] = Field(default_factory=list)
    os_family: Literal["windows", "linux"] | None = None
    os_name: str | None = None
    stale: bool
    last_seen: str | None = None
    notes: str | None = None
    generation: int | None = None
    clustered: bool | None = None
    created_at: str | None = None
    started_at: str | None = None
    uptime_seconds: int | None = None
    disks: list[DiskView] = Field(default_factory=list)
    networks: list[NicView] = Field(default_factory=list)
    orphaned: bool = False
    """Made by a job that failed while its host was unreachable: removed once the host answers again."""
    orphaned_by_job: str | None = None


class HostView(_View):
    """A Hyper-V host and its connection state."""

    name: str
    cluster: str
    connected: bool
    last_seen: str | None = None
    last_attempt: str | None = None
    disconnected_since: str | None = None
    error: str | None = None
    vm_count: int = 0
    total_cpu_cores: int | None = None
    total_memory_gb: float | None = None
    free_memory_gb: float | None = None
    facts: dict[str, Any] = Field(default_factory=dict)


class ClusterView(_View):
    """A failover cluster (stand-alone hosts form ``Default``)."""

    name: str
    hosts: list[str]
    total_hosts: int
    connected_hosts: int
    vm_count: int


class StepOperationView(_View):
    """The host operation running a step in the background (an image copy): its id on the host and its progress."""

    id: str
    kind: str
    state: Literal["running", "succeeded", "failed", "canceled"]
    percent: float | None = None
    bytes_done: int | None = None
    bytes_total: int | None = None


class StepView(_View):
    """One step of a job."""

    name: str
    status: str
    started: str | None = None
    finished: str | None = None
    operation: StepOperationView | None = None


class JobView(_View):
    """A job: one workflow run."""

    id: str
    kind: str
    status: Literal["Pending", "Running", "Succeeded", "Failed", "Canceled"]
    target: dict[str, Any] = Field(default_factory=dict)
    steps: list[StepView] = Field(default_factory=list)
    plan: list[str] = Field(default_factory=list)
    current_step: str | None = None
    error: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    cleanup: dict[str, Any] | None = None
    requested_by: dict[str, Any] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
    created: str
    updated: str


class Page(_View):
    """One page of a list."""

    items: list[Any]
    continuation: str | None = None


def vm_view(record: VmRecord, now: datetime | None = None) -> JsonObject:
    """The API view of an inventory VM: a :class:`VmView` document of :func:`vm_fields`.

    Built straight from the fields when every value already has the type the model would give it (what the sync
    writes: :func:`direct_vm_view`), else validated and dumped by the model (:func:`validated_vm_view`).
    """
    fields = vm_fields(record, now)
    document = direct_vm_view(fields)
    return document if document is not None else validated_vm_view(fields)


def vm_fields(record: VmRecord, now: datetime | None = None) -> JsonObject:
    """What a VM view shows of ``record``: its fields, ``uptime_seconds`` for a running VM, renamed time fields."""
    view = record.to_json()
    view["created_at"] = view.pop("creation_time", None)
    view["orphaned"] = bool(view.get("orphaned_by_job"))
    if record.started_at and record.state == "Running":
        moment = now or datetime.now(UTC)
        started = datetime.fromisoformat(record.started_at.replace("Z", "+00:00"))
        view["uptime_seconds"] = max(0, int((moment - started).total_seconds()))
    else:
        view["uptime_seconds"] = None
    return view


def validated_vm_view(fields: JsonObject) -> JsonObject:
    """``fields`` validated and dumped by :class:`VmView`: the reference :func:`direct_vm_view` matches."""
    return VmView.model_validate(fields).model_dump(mode="json")


def direct_vm_view(fields: JsonObject) -> JsonObject | None:
    """What :func:`validated_vm_view` gives for ``fields``, built without the model.

    ``None`` when a value is not one the model would pass through unchanged (or only turn from an int into a float).
    """
    try:
        return _document(fields, VM_SHAPE)
    except _UnvouchedError:
        return None


def host_view(record: HostRecord) -> JsonObject:
    """The API view of an inventory host (lifts the capacity facts)."""
    facts = record.facts
    view = {
        **record.to_json(),
        "total_cpu_cores": facts.get("logical_processors"),
        "total_memory_gb": facts.get("total_memory_gb"),
        "free_memory_gb": facts.get("free_memory_gb"),
    }
    return HostView.model_validate(view).model_dump(mode="json")


def summary_view(summary: InventorySummary) -> JsonObject:
    """The API view of the inventory summary."""
    return {
        **summary.totals(),
        "clusters": [cluster.to_json() for cluster in summary.clusters],
        "hosts": [host_view(host) for host in summary.hosts],
    }


# -- VM documents built without the model ------------------------------------------------------------------------------
#
# What ``VmView.model_validate(view).model_dump(mode="json")`` gives, built directly: the declared fields in the
# model's order (missing ones at their defaults), then the extra fields in the order they came. A value is taken only
# when the model would pass it through unchanged (or only turn an int into a float); anything else raises
# ``_UnvouchedError``, and the model decides (tests/unit/api/test_vm_view.py holds the two to each other).


class _UnvouchedError(Exception):
    """A value the direct build cannot vouch for."""


Check = Callable[[Any], Any]


def _text(value: Any) -> Any:
    if value is None or type(value) is str:
        return value
    raise _UnvouchedError


def _required_text(value: Any) -> Any:
    if type(value) is str:
        return value
    raise _UnvouchedError


def _whole(value: Any) -> Any:
    if value is None or type(value) is int:
        return value
    raise _UnvouchedError


def _number(value: Any) -> Any:
    if value is None or (type(value) is float and math.isfinite(value)):
        return value
    if type(value) is int:
        return float(value)
    raise _UnvouchedError


def _flag(value: Any) -> Any:
    if value is None or type(value) is bool:
        return value
    raise _UnvouchedError


def _required_flag(value: Any) -> Any:
    if type(value) is bool:
        return value
    raise _UnvouchedError


def _os_family(value: Any) -> Any:
    if value is None or (type(value) is str and value in ("windows", "linux")):
        return value
    raise _UnvouchedError


def _texts(value: Any) -> Any:
    if type(value) is list and all(type(item) is str for item in value):
        return list(value)
    raise _UnvouchedError


def _extra(value: Any) -> Any:
    """An extra field: plain JSON scalars only (the model turns other values into JSON its own way)."""
    if value is None or type(value) in (str, int, bool) or (type(value) is float and math.isfinite(value)):
        return value
    raise _UnvouchedError


def _document(value: Any, shape: Mapping[str, tuple[Check, Any]]) -> JsonObject:
    """``value`` (a dict) in the shape of a view model: ``{field: (check, default)}`` in the model's field order."""
    if type(value) is not dict:
        raise _UnvouchedError
    document = {name: check(value.get(name, default)) for name, (check, default) in shape.items()}
    for name, extra in value.items():
        if name not in shape:
            document[name] = _extra(extra)
    return document


def _documents(shape: Mapping[str, tuple[Check, Any]]) -> Check:
    def check(value: Any) -> Any:
        if type(value) is not list:
            raise _UnvouchedError
        return [_document(item, shape) for item in value]

    return check


DISK_SHAPE: Mapping[str, tuple[Check, Any]] = {
    "id": (_text, None),
    "name": (_text, None),
    "path": (_text, None),
    "type": (_text, None),
    "capacity_gb": (_number, None),
    "file_size_gb": (_number, None),
}
NIC_SHAPE: Mapping[str, tuple[Check, Any]] = {
    "id": (_text, None),
    "name": (_text, None),
    "switch": (_text, None),
    "vlan_id": (_whole, None),
    "mac_address": (_text, None),
    "ip_addresses": (_texts, []),
}
VM_SHAPE: Mapping[str, tuple[Check, Any]] = {
    "id": (_required_text, None),
    "name": (_required_text, None),
    "host": (_required_text, None),
    "cluster": (_text, None),
    "state": (_required_text, None),
    "cpu_cores": (_whole, None),
    "memory_gb": (_number, None),
    "startup_memory_gb": (_number, None),
    "ip_addresses": (_texts, []),
    "os_family": (_os_family, None),
    "os_name": (_text, None),
    "stale": (_required_flag, None),
    "last_seen": (_text, None),
    "notes": (_text, None),
    "generation": (_whole, None),
    "clustered": (_flag, None),
    "created_at": (_text, None),
    "started_at": (_text, None),
    "uptime_seconds": (_whole, None),
    "disks": (_documents(DISK_SHAPE), []),
    "networks": (_documents(NIC_SHAPE), []),
    "orphaned": (_required_flag, False),
    "orphaned_by_job": (_text, None),
}
"""The fields of :class:`VmView` (and :class:`DiskView`, :class:`NicView`), each with its check and default."""
