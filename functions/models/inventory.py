"""Inventory records: a host and a VM as the inventory tables hold them, typed, with their JSON shapes.

The repository returns these; the API's views (``functions/api/views.py``) shape them for callers. A VM record's
less-used fields (disks, adapters, notes, memory limits …) stay in ``details`` exactly as collected, so a field a
newer host script adds reaches the API without a change here (once ``VmInfo`` and the columns VM reads select,
``functions/inventory/vm_entity.py``, name it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from functions.models.json import JsonObject

__all__ = [
    "DEFAULT_CLUSTER",
    "STILL_RUNNING",
    "ClusterRecord",
    "HostBatch",
    "HostRecord",
    "HostSyncSummary",
    "InventorySummary",
    "VmRecord",
    "device_id",
]

DEFAULT_CLUSTER = "Default"
"""The group stand-alone hosts belong to."""

# Fields of a stored VM that the record types; everything else is kept in ``details``.
_VM_FIELDS = frozenset(
    ("id", "name", "state", "cpu_cores", "memory_gb", "os_family", "ip_addresses", "started_at", "clustered")
)


def device_id(hyperv_id: str) -> str:
    r"""The API's id of a VM's disk or network adapter: short, URL-safe, and as stable as Hyper-V's own id.

    Hyper-V names a drive or adapter by its ``InstanceID`` (``Microsoft:<VM>\<controller>\0\1\D``), which holds
    backslashes and colons; the API's id is the first 16 hex digits of its SHA-256 (case-insensitive).
    """
    return hashlib.sha256(hyperv_id.lower().encode()).hexdigest()[:16]


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class HostRecord:
    """A configured host: connection state, last successful collection, last error and its facts."""

    name: str
    cluster: str = DEFAULT_CLUSTER
    clustered: bool = False
    connected: bool = False
    last_seen: str | None = None
    last_attempt: str | None = None
    disconnected_since: str | None = None
    error: str | None = None
    vm_count: int = 0
    facts: Mapping[str, Any] = field(default_factory=dict)

    @property
    def free_memory_gb(self) -> float:
        """Free memory the host last reported (0 when unknown)."""
        return float(self.facts.get("free_memory_gb") or 0)

    def to_json(self) -> JsonObject:
        """The record as a JSON object."""
        return {
            "name": self.name,
            "cluster": self.cluster,
            "clustered": self.clustered,
            "connected": self.connected,
            "last_seen": self.last_seen,
            "last_attempt": self.last_attempt,
            "disconnected_since": self.disconnected_since,
            "error": self.error,
            "vm_count": self.vm_count,
            "facts": dict(self.facts),
        }


@dataclass(frozen=True)
class VmRecord:
    """A VM as the inventory knows it, with the host it is on and whether that host's data is stale."""

    id: str
    name: str
    host: str
    state: str
    cluster: str = DEFAULT_CLUSTER
    stale: bool = False
    last_seen: str | None = None
    cpu_cores: int | None = None
    memory_gb: float | None = None
    os_family: str | None = None
    ip_addresses: tuple[str, ...] = ()
    started_at: str | None = None
    clustered: bool = False
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any], *, host: HostRecord | None, host_name: str) -> VmRecord:
        """The record of a stored VM (its entity's fields) on ``host`` (``None``: the host row is missing)."""
        cores = stored.get("cpu_cores")
        return cls(
            id=str(stored["id"]),
            name=str(stored.get("name", "")),
            host=host_name,
            state=str(stored.get("state", "Unknown")),
            cluster=host.cluster if host else DEFAULT_CLUSTER,
            stale=not (host.connected if host else False),
            last_seen=host.last_seen if host else None,
            cpu_cores=None if cores is None else int(cores),
            memory_gb=_float(stored.get("memory_gb")),
            os_family=stored.get("os_family"),
            ip_addresses=tuple(map(str, stored.get("ip_addresses") or ())),
            started_at=stored.get("started_at"),
            clustered=bool(stored.get("clustered", False)),
            details={k: v for k, v in stored.items() if k not in _VM_FIELDS},
        )

    def to_json(self) -> JsonObject:
        """Every field of the record (the stored VM, plus host, cluster, stale and last_seen)."""
        return {
            **self.details,
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "cpu_cores": self.cpu_cores,
            "memory_gb": self.memory_gb,
            "os_family": self.os_family,
            "ip_addresses": list(self.ip_addresses),
            "started_at": self.started_at,
            "clustered": self.clustered,
            "host": self.host,
            "cluster": self.cluster,
            "stale": self.stale,
            "last_seen": self.last_seen,
        }


@dataclass(frozen=True)
class ClusterRecord:
    """A failover cluster derived from host membership (stand-alone hosts form ``Default``)."""

    name: str
    hosts: tuple[str, ...]
    connected_hosts: int
    vm_count: int

    def to_json(self) -> JsonObject:
        """``{"name", "hosts", "total_hosts", "connected_hosts", "vm_count"}``."""
        return {
            "name": self.name,
            "hosts": list(self.hosts),
            "total_hosts": len(self.hosts),
            "connected_hosts": self.connected_hosts,
            "vm_count": self.vm_count,
        }


@dataclass(frozen=True)
class InventorySummary:
    """Totals, clusters and hosts: what ``GET /api/v1/inventory`` shows."""

    hosts: tuple[HostRecord, ...]
    clusters: tuple[ClusterRecord, ...]

    @property
    def last_sync(self) -> str | None:
        """The newest successful collection of any host."""
        seen = [host.last_seen for host in self.hosts if host.last_seen]
        return max(seen) if seen else None

    def totals(self) -> JsonObject:
        """The counters of the summary."""
        return {
            "total_hosts": len(self.hosts),
            "connected_hosts": sum(1 for h in self.hosts if h.connected),
            "disconnected_hosts": sum(1 for h in self.hosts if not h.connected),
            "total_vms": sum(h.vm_count for h in self.hosts),
            "stale_vms": sum(h.vm_count for h in self.hosts if not h.connected),
            "total_clusters": len({h.cluster for h in self.hosts if h.clustered}),
            "last_sync": self.last_sync,
        }


@dataclass(frozen=True)
class HostSyncSummary:
    """What one host's sync did: small enough for orchestration history."""

    host: str
    ok: bool
    vms: int = 0
    written: int = 0
    deleted: int = 0
    duration_s: float = 0.0
    error: str | None = None
    skipped: str | None = None

    def to_json(self) -> JsonObject:
        """The summary as a JSON object."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: JsonObject) -> HostSyncSummary:
        """Parse a summary (unknown fields are ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


STILL_RUNNING = "timed out; the collection is still running"
"""What a sync reports for a host it stopped waiting for (its collection goes on and stores its result)."""


@dataclass(frozen=True)
class HostBatch:
    """The hosts one collect activity syncs at once, and until when it waits for them (ISO 8601, UTC).

    A host still running at ``report_by`` is reported as still running; its collection goes on and stores its
    result when it ends.
    """

    hosts: tuple[str, ...]
    report_by: str | None = None

    def to_json(self) -> JsonObject:
        """``{"hosts": [...], "report_by": ...}``."""
        return {"hosts": list(self.hosts), "report_by": self.report_by}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> HostBatch:
        """Parse the payload."""
        data = data or {}
        report_by = data.get("report_by")
        return cls(tuple(str(h) for h in data.get("hosts", ())), None if report_by is None else str(report_by))
