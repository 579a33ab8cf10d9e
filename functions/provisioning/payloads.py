"""What crosses between an orchestrator and its activities: every activity's payload and result, typed.

Durable Functions stores these as JSON in the orchestration history, so their shapes are a contract with instances
already in flight: an activity of this build must accept a payload an earlier build scheduled, and an orchestrator
must read results an earlier build recorded (``tests/workflows/test_upgrade_replay.py`` replays recorded histories
to prove it). Each type therefore has explicit ``to_json``/``from_json``; a field added later gets a default so old
documents still load. Secrets never appear here in plaintext: guest data travels sealed (``sealed_guest``).

Results that are the host's own models (:class:`PreparedDisk`, :class:`HostOperation`, :class:`OperationStopped`)
are re-exported here, so orchestrators name every type they handle from this module and never import the Hyper-V
layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal, TypedDict

from pydantic import BaseModel

from functions.hyperv.models import HostOperation, OperationStopped, OwnedRemoval, PreparedDisk
from functions.models.jobs import JobPatch
from functions.models.json import JsonObject

__all__ = [
    "CleanupPayload",
    "CleanupResult",
    "CreatePayload",
    "CreatedVm",
    "DebtPayload",
    "DebtRecorded",
    "HostOperation",
    "JobUpdate",
    "JobUpdateResult",
    "OperationRef",
    "OperationStopped",
    "PlacePayload",
    "Placement",
    "PowerAction",
    "PowerPayload",
    "PreflightPayload",
    "PreflightResult",
    "PrepareDiskPayload",
    "PreparedDisk",
    "PruneResult",
    "RemovedVm",
    "StartOperationPayload",
    "TargetFields",
    "VmSpec",
    "VmSummary",
    "VmTarget",
    "target_fields",
]

PowerAction = Literal["start", "stop", "shutdown", "restart"]


@dataclass(frozen=True)
class VmSpec:
    """The public create request as workflows carry it: every field of the request, guest secrets masked."""

    name: str
    cpu_cores: int
    memory_gb: float
    host: str | None = None
    image: str | None = None
    os_family: str | None = None
    disk_gb: int | None = None
    network: str | None = None
    vlan_id: int | None = None
    clustered: bool = False
    keep_on_failure: bool = False
    guest: JsonObject | None = None
    """The guest section with its secrets masked (``**********``): kept for the job record, never used for work."""

    def to_json(self) -> JsonObject:
        """The request document (the shape of ``VmCreateRequest.model_dump(mode="json")``)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VmSpec:
        """Parse the request document."""
        return cls(
            name=str(data["name"]),
            cpu_cores=data["cpu_cores"],
            memory_gb=data["memory_gb"],
            host=data.get("host"),
            image=data.get("image"),
            os_family=data.get("os_family"),
            disk_gb=data.get("disk_gb"),
            network=data.get("network"),
            vlan_id=data.get("vlan_id"),
            clustered=bool(data.get("clustered", False)),
            keep_on_failure=bool(data.get("keep_on_failure", False)),
            guest=dict(data["guest"]) if data.get("guest") is not None else None,
        )


@dataclass(frozen=True)
class VmTarget:
    """The payload most VM steps take: the job, the host and the VM (``None`` before it exists)."""

    job_id: str
    host: str
    vm_id: str | None = None

    def to_json(self) -> JsonObject:
        """``{"job_id", "host", "vm_id"}`` plus the fields of a subclass."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VmTarget:
        """Parse a payload."""
        return cls(job_id=str(data["job_id"]), host=str(data["host"]), vm_id=data.get("vm_id"))


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    to_json = getattr(value, "to_json", None)
    return to_json() if callable(to_json) else value


class TargetFields(TypedDict):
    """The fields of :class:`VmTarget`, to build a step's payload from."""

    job_id: str
    host: str
    vm_id: str | None


def target_fields(data: Mapping[str, Any]) -> TargetFields:
    """The target fields of a payload document (for payload types defined elsewhere)."""
    return _target(data)


def _target(data: Mapping[str, Any]) -> TargetFields:
    return {"job_id": str(data["job_id"]), "host": str(data["host"]), "vm_id": data.get("vm_id")}


@dataclass(frozen=True)
class PlacePayload:
    """Placement of a request that names no host."""

    job_id: str
    request: VmSpec

    def to_json(self) -> JsonObject:
        """``{"job_id", "request"}``."""
        return {"job_id": self.job_id, "request": self.request.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PlacePayload:
        """Parse a payload."""
        return cls(job_id=str(data["job_id"]), request=VmSpec.from_json(data["request"]))


@dataclass(frozen=True)
class Placement:
    """The chosen host, and its failover cluster (``None``: stand-alone, or a result of an earlier build)."""

    host: str
    cluster: str | None = None

    def to_json(self) -> JsonObject:
        """``{"host", "cluster"}`` (``cluster`` only when known)."""
        document: JsonObject = {"host": self.host}
        if self.cluster is not None:
            document["cluster"] = self.cluster
        return document

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Placement:
        """Parse a result."""
        cluster = data.get("cluster")
        return cls(host=str(data["host"]), cluster=None if cluster is None else str(cluster))


@dataclass(frozen=True, kw_only=True)
class PreflightPayload(VmTarget):
    """Preflight of a request on its host; ``guest``: the guest will be provisioned (check the host's ISO too)."""

    request: VmSpec
    guest: bool = False

    def to_json(self) -> JsonObject:
        """The payload (``guest`` only when set, so earlier payloads keep their shape)."""
        document = super().to_json()
        if not self.guest:
            document.pop("guest")
        return document

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PreflightPayload:
        """Parse a payload."""
        return cls(**_target(data), request=VmSpec.from_json(data["request"]), guest=bool(data.get("guest")))


@dataclass(frozen=True)
class PreflightResult:
    """The volume the VM's folder will go to (``None``: the host's default)."""

    target_volume: str | None

    def to_json(self) -> JsonObject:
        """``{"target_volume"}``."""
        return {"target_volume": self.target_volume}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PreflightResult:
        """Parse a result."""
        return cls(target_volume=data.get("target_volume"))


@dataclass(frozen=True, kw_only=True)
class PrepareDiskPayload(PreflightPayload):
    """Clone the image (or make a blank disk) on ``volume``."""

    volume: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PrepareDiskPayload:
        """Parse a payload."""
        return cls(**_target(data), request=VmSpec.from_json(data["request"]), volume=data.get("volume"))


@dataclass(frozen=True, kw_only=True)
class StartOperationPayload(VmTarget):
    """Start a step's long host work as a background operation on the host, named ``operation_id``.

    ``kind`` says what the work is (``prepare_disk``: the OS disk ``request`` asks for); ``time_limit_seconds``
    bounds it on the host itself, should the workflow never come back for it.
    """

    operation_id: str
    kind: str
    request: VmSpec
    time_limit_seconds: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StartOperationPayload:
        """Parse a payload."""
        limit = data.get("time_limit_seconds")
        return cls(
            **_target(data),
            operation_id=str(data["operation_id"]),
            kind=str(data["kind"]),
            request=VmSpec.from_json(data["request"]),
            time_limit_seconds=None if limit is None else int(limit),
        )


@dataclass(frozen=True, kw_only=True)
class OperationRef(VmTarget):
    """A background operation on the job's host: its id and the folder its status file is in."""

    operation_id: str
    folder: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OperationRef:
        """Parse a payload."""
        return cls(**_target(data), operation_id=str(data["operation_id"]), folder=str(data["folder"]))


@dataclass(frozen=True, kw_only=True)
class CreatePayload(PreflightPayload):
    """Register the VM around the prepared disk (``disk`` is ``prepare_disk``'s result, as the host reported it)."""

    os_family: str
    disk: PreparedDisk

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CreatePayload:
        """Parse a payload."""
        return cls(
            **_target(data),
            request=VmSpec.from_json(data["request"]),
            os_family=str(data["os_family"]),
            disk=PreparedDisk.model_validate(data["disk"]),
        )


@dataclass(frozen=True)
class CreatedVm:
    """The id of the VM the create step registered."""

    vm_id: str

    def to_json(self) -> JsonObject:
        """``{"vm_id"}``."""
        return {"vm_id": self.vm_id}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CreatedVm:
        """Parse a result."""
        return cls(vm_id=str(data["vm_id"]))


@dataclass(frozen=True, kw_only=True)
class CleanupPayload(VmTarget):
    """Compensation of a create: remove what the job made (``name`` finds a folder made before the VM)."""

    name: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CleanupPayload:
        """Parse a payload."""
        return cls(**_target(data), name=str(data["name"]))


@dataclass(frozen=True)
class CleanupResult:
    """What the compensation found and removed: in words, on the host (by ownership) and in the tables."""

    summary: str
    existed: bool = False
    folder_removed: bool = False
    host: OwnedRemoval | None = None
    """The host's report: VMs found by the job's marks, removed, left alone; files and folders deleted or kept."""
    inventory_rows_removed: tuple[str, ...] | None = None
    """VM rows the compensation removed from the inventory tables."""

    def to_json(self) -> JsonObject:
        """``{"summary", "existed", "folder_removed"}`` and, when known, ``host`` and ``tables``."""
        document: JsonObject = {"summary": self.summary, "existed": self.existed, "folder_removed": self.folder_removed}
        if self.host is not None:
            document["host"] = self.host.model_dump(mode="json")
        if self.inventory_rows_removed is not None:
            document["tables"] = {"vm_rows_removed": list(self.inventory_rows_removed)}
        return document

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CleanupResult:
        """Parse a result (results of earlier builds have only the first three fields)."""
        host = data.get("host")
        tables = data.get("tables")
        return cls(
            summary=str(data.get("summary", "removed")),
            existed=bool(data.get("existed")),
            folder_removed=bool(data.get("folder_removed")),
            host=OwnedRemoval.model_validate(host) if host is not None else None,
            inventory_rows_removed=tuple(tables["vm_rows_removed"]) if tables is not None else None,
        )


@dataclass(frozen=True, kw_only=True)
class DebtPayload(VmTarget):
    """Record a compensation that could not finish (the host was unreachable) as a cleanup debt."""

    name: str
    error: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DebtPayload:
        """Parse a payload."""
        return cls(**_target(data), name=str(data["name"]), error=str(data["error"]))


@dataclass(frozen=True)
class DebtRecorded:
    """When the debt was first recorded."""

    since: str

    def to_json(self) -> JsonObject:
        """``{"since"}``."""
        return {"since": self.since}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DebtRecorded:
        """Parse a result."""
        return cls(since=str(data["since"]))


@dataclass(frozen=True)
class VmSummary:
    """A VM as the inventory shows it after a step (state, addresses, size)."""

    id: str
    name: str
    host: str
    state: str
    ip_addresses: tuple[str, ...] = ()
    cpu_cores: int | None = None
    memory_gb: float | None = None
    os_family: str | None = None

    def to_json(self) -> JsonObject:
        """The summary as a JSON object."""
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v for f in fields(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VmSummary:
        """Parse a result."""
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            host=str(data["host"]),
            state=str(data["state"]),
            ip_addresses=tuple(data.get("ip_addresses") or ()),
            cpu_cores=data.get("cpu_cores"),
            memory_gb=data.get("memory_gb"),
            os_family=data.get("os_family"),
        )


@dataclass(frozen=True)
class RemovedVm:
    """Whether the VM existed when it was deleted, and its name."""

    existed: bool
    name: str | None = None

    def to_json(self) -> JsonObject:
        """``{"existed", "name"}``."""
        return {"existed": self.existed, "name": self.name}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RemovedVm:
        """Parse a result."""
        return cls(existed=bool(data["existed"]), name=data.get("name"))


@dataclass(frozen=True, kw_only=True)
class PowerPayload(VmTarget):
    """A power action and its options (``shutdown``: how long to wait, and whether to turn off after)."""

    action: PowerAction = "start"
    timeout_seconds: int = 120
    force_after_timeout: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PowerPayload:
        """Parse a payload."""
        return cls(
            **_target(data),
            action=data["action"],
            timeout_seconds=int(data.get("timeout_seconds", 120)),
            force_after_timeout=bool(data.get("force_after_timeout", False)),
        )


@dataclass(frozen=True)
class JobUpdate:
    """A patch of a job record, written by the workflow as it runs."""

    job_id: str
    patch: JobPatch

    def to_json(self) -> JsonObject:
        """``{"job_id", "patch"}``."""
        return {"job_id": self.job_id, "patch": self.patch.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobUpdate:
        """Parse a payload."""
        return cls(job_id=str(data["job_id"]), patch=JobPatch.from_json(data["patch"]))


@dataclass(frozen=True)
class JobUpdateResult:
    """The job's status after the update (``None``: the job record is gone)."""

    status: str | None

    def to_json(self) -> JsonObject:
        """``{"status"}``."""
        return {"status": self.status}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobUpdateResult:
        """Parse a result."""
        return cls(status=data.get("status"))


@dataclass(frozen=True)
class PruneResult:
    """How many inventory rows pruning deleted."""

    deleted: int

    def to_json(self) -> JsonObject:
        """``{"deleted"}``."""
        return {"deleted": self.deleted}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PruneResult:
        """Parse a result."""
        return cls(deleted=int(data.get("deleted") or 0))
