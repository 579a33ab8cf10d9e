"""Response shapes of the public API (pydantic models, also the OpenAPI schemas) and the mapping onto them.

The contract: lists are ``{"items": [...], "continuation": "<token>" | null}``; a VM has at least ``id``, ``name``,
``host``, ``state``, ``cpu_cores``, ``memory_gb``, ``ip_addresses``, ``os_family``, ``stale``, ``last_seen``; a
host ``name``, ``cluster``, ``connected``, ``last_seen``, ``error``; a job ``id``, ``kind``, ``status``, ``target``,
``steps``, ``error``, ``result``, ``requested_by``, ``created``, ``updated``. More fields are welcome.
"""

from __future__ import annotations

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
    "host_view",
    "summary_view",
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
    """The API view of an inventory VM (adds ``uptime_seconds`` for running VMs, renames time fields)."""
    view = record.to_json()
    view["created_at"] = view.pop("creation_time", None)
    view["orphaned"] = bool(view.get("orphaned_by_job"))
    if record.started_at and record.state == "Running":
        moment = now or datetime.now(UTC)
        started = datetime.fromisoformat(record.started_at.replace("Z", "+00:00"))
        view["uptime_seconds"] = max(0, int((moment - started).total_seconds()))
    else:
        view["uptime_seconds"] = None
    return VmView.model_validate(view).model_dump(mode="json")


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
