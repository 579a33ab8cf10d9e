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
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field

from functions.models.inventory import HostRecord, InventorySummary, VmRecord
from functions.models.json import JsonObject

__all__ = [
    "VM_STATES",
    "CheckpointView",
    "ClusterView",
    "HostView",
    "JobView",
    "Page",
    "VmView",
    "checkpoint_view",
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

    # ``id`` is the API's (the disk routes take it), ``hyperv_id`` the drive's ``InstanceID`` on the host.

    id: str | None = None
    name: str | None = None
    path: str | None = None
    type: str | None = None
    capacity_gb: float | None = None
    file_size_gb: float | None = None
    size_gb: float | None = None
    controller_type: str | None = None
    controller_number: int | None = None
    controller_location: int | None = None
    boot: bool | None = None
    hyperv_id: str | None = None


class NicView(_View):
    """A network adapter."""

    # As ``networks`` lists it, with Hyper-V's names; ``nics`` lists the same adapters with the API's names.

    id: str | None = None
    name: str | None = None
    switch: str | None = None
    vlan_id: int | None = None
    mac_address: str | None = None
    ip_addresses: list[str] = Field(default_factory=list)
    hyperv_id: str | None = None


class VmNicView(_View):
    """A network adapter: ``id`` is the API's (adapter routes take it), ``network`` its switch."""

    id: str | None = None
    name: str | None = None
    network: str | None = None
    vlan_id: int | None = None
    mac: str | None = None
    ip_addresses: list[str] = Field(default_factory=list)
    hyperv_id: str | None = None


class LeaseView(_View):
    """A VM's lease: when it is deleted, for whom, who set it, and what its workflow did (``docs/leases.md``)."""

    expires_at: str
    requested_by: dict[str, Any] = Field(default_factory=dict)
    set_by: dict[str, Any] = Field(default_factory=dict)
    set_at: str | None = None
    version: int = 1
    warned_at: str | None = None
    expired_at: str | None = None
    delete_job_id: str | None = None
    delete_attempts: int = 0


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
    nics: list[VmNicView] = Field(default_factory=list)
    checkpoint_count: int = 0
    orphaned: bool = False
    """Made by a job that failed while its host was unreachable: removed once the host answers again."""
    orphaned_by_job: str | None = None
    lease: LeaseView | None = None
    """When the VM is deleted by its lease (``null``: no lease)."""


class CheckpointView(_View):
    """A checkpoint of a VM (``parent_id``: the checkpoint it was taken after; ``None`` for the first)."""

    id: str
    name: str
    created: str | None = None
    parent_id: str | None = None
    checkpoint_type: str | None = None


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


class ApprovalView(_View):
    """Why a create waited for an approval, until when, and the decision (``approved``, ``rejected``, ``expired``)."""

    required: bool
    required_by: str | None = None
    deadline: str | None = None
    decision: Literal["approved", "rejected", "expired"] | None = None
    decided_by: dict[str, Any] | None = None
    decided_at: str | None = None
    reason: str | None = None


class JobView(_View):
    """A job: one workflow run."""

    id: str
    kind: str
    status: Literal["Pending", "AwaitingApproval", "Running", "Succeeded", "Failed", "Canceled"]
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
    approval: ApprovalView | None = None


class LogEntryView(_View):
    """One entry of a job's log (:class:`functions.joblog.entries.LogEntry`)."""

    at: str
    level: Literal["info", "warning", "error"]
    source: Literal["workflow", "host", "guest", "cleanup"]
    step: str | None
    host: str | None
    message: str


class JobLogPage(_View):
    """A page of a job's log: ``next`` is the token to read on from (``after``); ``more``: a full page followed."""

    job_id: str
    entries: list[LogEntryView]
    next: str | None
    more: bool


class Page(_View):
    """One page of a list."""

    items: list[Any]
    continuation: str | None = None


def vm_view(record: VmRecord, now: datetime | None = None) -> JsonObject:
    """The API view of an inventory VM: the :class:`VmView` document of :func:`vm_fields`.

    Built straight from the record when every value already has the type the model would give it (what the sync
    writes: :func:`direct_vm_view`), else validated and dumped by the model (:func:`validated_vm_view`).
    """
    uptime = _uptime(record, now)
    document = _direct_vm_view(record, uptime)
    return document if document is not None else validated_vm_view(vm_fields(record, now, uptime=uptime))


def _uptime(record: VmRecord, now: datetime | None) -> int | None:
    if not (record.started_at and record.state == "Running"):
        return None
    moment = now or datetime.now(UTC)
    started = datetime.fromisoformat(record.started_at.replace("Z", "+00:00"))
    return max(0, int((moment - started).total_seconds()))


def vm_fields(record: VmRecord, now: datetime | None = None, *, uptime: int | None = None) -> JsonObject:
    """What a VM view shows of ``record``: its fields, ``uptime_seconds`` for a running VM, renamed time fields."""
    view = record.to_json()
    view["created_at"] = view.pop("creation_time", None)
    view["orphaned"] = bool(view.get("orphaned_by_job"))
    view["uptime_seconds"] = uptime if uptime is not None else _uptime(record, now)
    view["nics"] = nics_of(view.get("networks"))
    view["checkpoint_count"] = view.get("checkpoint_count") or 0
    view.pop("lease_expires_at", None)  # the listing's filter column; the view shows ``lease``
    return view


def nics_of(networks: Any) -> list[Any]:
    """The ``nics`` of a VM document: its ``networks`` under the API's names (``network``, ``mac``)."""
    if type(networks) is not list:
        return []
    return [
        {
            "id": item.get("id"),
            "name": item.get("name"),
            "network": item.get("switch"),
            "vlan_id": item.get("vlan_id"),
            "mac": item.get("mac_address"),
            "ip_addresses": item.get("ip_addresses", []),
            "hyperv_id": item.get("hyperv_id"),
        }
        if type(item) is dict
        else item
        for item in networks
    ]


def validated_vm_view(fields: JsonObject) -> JsonObject:
    """``fields`` validated and dumped by :class:`VmView`: the reference :func:`direct_vm_view` matches."""
    return VmView.model_validate(fields).model_dump(mode="json")


def direct_vm_view(record: VmRecord, now: datetime | None = None) -> JsonObject | None:
    """What ``validated_vm_view(vm_fields(record, now))`` gives, built without the model.

    ``None`` when a value is not one the model would pass through unchanged (or only turn from an int into a float).
    """
    return _direct_vm_view(record, _uptime(record, now))


def checkpoint_view(checkpoint: JsonObject) -> JsonObject:
    """The API view of a checkpoint the host listed."""
    return CheckpointView.model_validate(checkpoint).model_dump(mode="json")


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
# What ``VmView.model_validate(fields).model_dump(mode="json")`` gives, built directly: the declared fields in the
# model's order (missing ones at their defaults), then the extra fields in the order they came. A value is taken only
# when its type is one the model passes through unchanged (an int where the model says float becomes a float);
# anything else raises ``_UnvouchedError``, and the model decides (tests/api/test_vm_view.py holds the two together).


class _UnvouchedError(Exception):
    """A value the direct build cannot vouch for."""


_NONE = type(None)
_TEXT: frozenset[type] = frozenset({str, _NONE})
_REQUIRED_TEXT: frozenset[type] = frozenset({str})
_WHOLE: frozenset[type] = frozenset({int, _NONE})
_REQUIRED_WHOLE: frozenset[type] = frozenset({int})
_NUMBER: frozenset[type] = frozenset({float, int, _NONE})
_FLAG: frozenset[type] = frozenset({bool, _NONE})
_REQUIRED_FLAG: frozenset[type] = frozenset({bool})
_LIST: frozenset[type] = frozenset({list})
_SCALAR: frozenset[type] = frozenset({str, int, float, bool, _NONE})
_DICT: frozenset[type] = frozenset({dict})

Convert = Callable[[Any], Any] | None
Shape = tuple[tuple[str, Any, frozenset[type], Convert], ...]
"""A view model's fields in order: name, default, the types taken as they are, and a conversion (or None)."""


def _number(value: Any) -> Any:
    if type(value) is int:
        return float(value)
    if value is not None and not math.isfinite(value):
        raise _UnvouchedError
    return value


def _texts(value: list[Any]) -> list[str]:
    for item in value:
        if type(item) is not str:
            raise _UnvouchedError
    return list(value)


def _os_family(value: Any) -> Any:
    if value is None or value in ("windows", "linux"):
        return value
    raise _UnvouchedError


def _checked(document: JsonObject, shape: Shape) -> None:
    """Check (and convert) ``document``'s declared fields in place."""
    for name, _, allowed, convert in shape:
        value = document[name]
        if type(value) not in allowed:
            raise _UnvouchedError
        if convert is not None:
            document[name] = convert(value)


def _add_extras(document: JsonObject, source: Mapping[str, Any], skip: frozenset[str]) -> None:
    """Append ``source``'s fields that are not in ``skip``, in order.

    Plain JSON scalars only: the model turns other values into JSON its own way.
    """
    for name, value in source.items():
        if name in skip:
            continue
        kind = type(value)
        if kind not in _SCALAR or (kind is float and not math.isfinite(value)):
            raise _UnvouchedError
        document[name] = value


def _documents(shape: Shape) -> Callable[[list[Any]], list[JsonObject]]:
    """The conversion of a list of nested view models (disks, adapters)."""
    names = frozenset(name for name, *_ in shape)

    def convert(items: list[Any]) -> list[JsonObject]:
        documents = []
        for item in items:
            if type(item) is not dict:
                raise _UnvouchedError
            document = {name: item.get(name, default) for name, default, _, _ in shape}
            _checked(document, shape)
            _add_extras(document, item, names)
            documents.append(document)
        return documents

    return convert


DISK_SHAPE: Shape = (
    ("id", None, _TEXT, None),
    ("name", None, _TEXT, None),
    ("path", None, _TEXT, None),
    ("type", None, _TEXT, None),
    ("capacity_gb", None, _NUMBER, _number),
    ("file_size_gb", None, _NUMBER, _number),
    ("size_gb", None, _NUMBER, _number),
    ("controller_type", None, _TEXT, None),
    ("controller_number", None, _WHOLE, None),
    ("controller_location", None, _WHOLE, None),
    ("boot", None, _FLAG, None),
    ("hyperv_id", None, _TEXT, None),
)
NIC_SHAPE: Shape = (
    ("id", None, _TEXT, None),
    ("name", None, _TEXT, None),
    ("switch", None, _TEXT, None),
    ("vlan_id", None, _WHOLE, None),
    ("mac_address", None, _TEXT, None),
    ("ip_addresses", [], _LIST, _texts),
    ("hyperv_id", None, _TEXT, None),
)
VM_NIC_SHAPE: Shape = (
    ("id", None, _TEXT, None),
    ("name", None, _TEXT, None),
    ("network", None, _TEXT, None),
    ("vlan_id", None, _WHOLE, None),
    ("mac", None, _TEXT, None),
    ("ip_addresses", [], _LIST, _texts),
    ("hyperv_id", None, _TEXT, None),
)
LEASE_SHAPE: Shape = (
    ("expires_at", None, _REQUIRED_TEXT, None),
    ("requested_by", {}, _DICT, None),
    ("set_by", {}, _DICT, None),
    ("set_at", None, _TEXT, None),
    ("version", 1, _REQUIRED_WHOLE, None),
    ("warned_at", None, _TEXT, None),
    ("expired_at", None, _TEXT, None),
    ("delete_job_id", None, _TEXT, None),
    ("delete_attempts", 0, _REQUIRED_WHOLE, None),
)


def _lease(value: Any) -> Any:
    if value is None:
        return None
    if type(value) is not dict:
        raise _UnvouchedError
    document = {name: value.get(name, default) for name, default, _, _ in LEASE_SHAPE}
    _checked(document, LEASE_SHAPE)
    for item in (document["requested_by"], document["set_by"]):
        _add_extras({}, cast(Mapping[str, Any], item), frozenset())
    return document


VM_SHAPE: Shape = (
    ("id", None, _REQUIRED_TEXT, None),
    ("name", None, _REQUIRED_TEXT, None),
    ("host", None, _REQUIRED_TEXT, None),
    ("cluster", None, _TEXT, None),
    ("state", None, _REQUIRED_TEXT, None),
    ("cpu_cores", None, _WHOLE, None),
    ("memory_gb", None, _NUMBER, _number),
    ("startup_memory_gb", None, _NUMBER, _number),
    ("ip_addresses", [], _LIST, _texts),
    ("os_family", None, _TEXT, _os_family),
    ("os_name", None, _TEXT, None),
    ("stale", None, _REQUIRED_FLAG, None),
    ("last_seen", None, _TEXT, None),
    ("notes", None, _TEXT, None),
    ("generation", None, _WHOLE, None),
    ("clustered", None, _FLAG, None),
    ("created_at", None, _TEXT, None),
    ("started_at", None, _TEXT, None),
    ("uptime_seconds", None, _WHOLE, None),
    ("disks", [], _LIST, _documents(DISK_SHAPE)),
    ("networks", [], _LIST, _documents(NIC_SHAPE)),
    ("nics", [], _LIST, _documents(VM_NIC_SHAPE)),
    ("checkpoint_count", 0, _REQUIRED_WHOLE, None),
    ("orphaned", False, _REQUIRED_FLAG, None),
    ("orphaned_by_job", None, _TEXT, None),
    ("lease", None, frozenset({dict, _NONE}), _lease),
)
"""The fields of :class:`VmView` (and :class:`DiskView`, :class:`NicView`, :class:`VmNicView`) in the model's order."""

# A record's details that never become extra fields: the declared ones (the record's own values win, as in
# ``vm_fields``) and ``creation_time`` (shown as ``created_at``).
_NOT_EXTRA = frozenset(name for name, *_ in VM_SHAPE) | {"creation_time", "lease_expires_at"}


def _direct_vm_view(record: VmRecord, uptime: int | None) -> JsonObject | None:
    details = record.details
    get = details.get
    ips: Any = record.ip_addresses
    document: JsonObject = {
        "id": record.id,
        "name": record.name,
        "host": record.host,
        "cluster": record.cluster,
        "state": record.state,
        "cpu_cores": record.cpu_cores,
        "memory_gb": record.memory_gb,
        "startup_memory_gb": get("startup_memory_gb"),
        "ip_addresses": list(ips) if type(ips) is tuple else ips,
        "os_family": record.os_family,
        "os_name": get("os_name"),
        "stale": record.stale,
        "last_seen": record.last_seen,
        "notes": get("notes"),
        "generation": get("generation"),
        "clustered": record.clustered,
        "created_at": get("creation_time"),
        "started_at": record.started_at,
        "uptime_seconds": uptime,
        "disks": get("disks", []),
        "networks": get("networks", []),
        "nics": nics_of(get("networks", [])),
        "checkpoint_count": get("checkpoint_count") or 0,
        "orphaned": bool(get("orphaned_by_job")),
        "orphaned_by_job": get("orphaned_by_job"),
        "lease": get("lease"),
    }
    try:
        _checked(document, VM_SHAPE)
        _add_extras(document, details, _NOT_EXTRA)
    except _UnvouchedError:
        return None
    return document
