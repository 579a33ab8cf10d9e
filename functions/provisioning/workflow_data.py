"""What an orchestration takes and gives back: its input (the request, timing) and its output, typed.

Both are stored as JSON in the orchestration history (and the output in the job record), so their shapes are a
contract with instances in flight: every type has explicit ``to_json``/``from_json``, and a field added later gets a
default so that documents of earlier builds still load (``tests/workflows/test_upgrade_replay.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from functions.hyperv.models import PowerResult
from functions.models.json import JsonObject
from functions.provisioning.approvals import ApprovalRule
from functions.provisioning.payloads import PowerAction, VmSpec, VmSummary

__all__ = [
    "CREATE_VERSION",
    "CleanupReport",
    "CleanupStatus",
    "CreateInput",
    "CreateOutput",
    "DeleteOutput",
    "LifecycleInput",
    "PoolAddress",
    "PowerOutput",
    "SyncInput",
    "SyncOutput",
    "Timing",
]


@dataclass(frozen=True)
class Timing:
    """Deadlines and intervals of a workflow, resolved from settings by the starter (orchestrators cannot read them)."""

    key_timeout: float = 600
    apply_timeout: float = 1800
    poll_interval: float = 5
    publish_delay: float = 30
    retry_attempts: int = 4
    retry_first_interval: float = 5
    slot_retry_interval: float = 5
    clone_slots: int = 2
    address_timeout: float = 180
    """How long a finished create waits for the host to report the guest's static address (a warning after)."""
    disk_timeout: float = 14400
    """How long a create waits for the background preparation of its OS disk (the image copy) on the host."""
    host_poll_interval: float = 10
    """The first wait before checking on background work on a host (later ones follow its progress)."""

    def to_json(self) -> JsonObject:
        """Every field (a reader of an older build ignores the ones it does not know)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Timing:
        """Parse the input's ``timing`` object: unknown keys are ignored, missing ones take their default."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in known})


# -- workflow inputs --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolAddress:
    """An address a create job holds in an IP pool (also the payload of the pool activities, with the VM id)."""

    job_id: str
    pool: str
    address: str
    vm_id: str | None = None

    def to_json(self) -> JsonObject:
        """``{"job_id", "pool", "address"}`` plus ``vm_id`` when known."""
        document: JsonObject = {"job_id": self.job_id, "pool": self.pool, "address": self.address}
        if self.vm_id is not None:
            document["vm_id"] = self.vm_id
        return document

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PoolAddress:
        """Parse the document."""
        vm_id = data.get("vm_id")
        return cls(str(data["job_id"]), str(data["pool"]), str(data["address"]), None if vm_id is None else str(vm_id))


CREATE_VERSION = 5
"""The create workflow version new instances start with (see :attr:`CreateInput.version`)."""


@dataclass(frozen=True)
class CreateInput:
    """The create orchestration's input: the public request, the resolved OS family, sealed guest data, timing."""

    job_id: str
    request: VmSpec
    os_family: str
    sealed_guest: str | None
    timing: Timing
    version: int = 1
    """The workflow's behaviour version: instances keep the one they started with, so their history replays as it
    ran. 1: the first builds. 2: compensation by ownership with cleanup debts, nothing compensated once the VM is
    complete, the static address waited for. 3: the host's ISO checked at preflight, a nonce in the announce, the
    guest's key and agent judged before anything is published (see ``provisioning/guest_checks.py``). 4: the OS disk
    prepared as background work on the host, started by one activity and polled with durable timers, instead of
    copied inside one activity (see ``workflows/host_operations.py``). 5: a canceled guest wait's child orchestration
    is let end before anything is compensated (see ``workflows/guest_wait.py``)."""
    approval: ApprovalRule | None = None
    """The approval policy (``None``: no create waits for one; inputs of earlier builds never carry it)."""
    ip_pool: PoolAddress | None = None
    """The address the API allocated for this job from an IP pool (``guest.ipv4.pool``): the workflow records the
    VM id on it once the VM exists and releases it when the job fails or is canceled. Absent in inputs of earlier
    builds and of creates without a pool, whose steps stay as they were."""
    lease: JsonObject | None = None
    """The lease the create asked for (``{"expires_at", "requested_by"}``): given to the VM once it is complete."""

    def to_json(self) -> JsonObject:
        """The input document (``version`` only from 2 on, so version-1 documents keep their shape)."""
        document: JsonObject = {
            "job_id": self.job_id,
            "request": self.request.to_json(),
            "os_family": self.os_family,
            "sealed_guest": self.sealed_guest,
            "timing": self.timing.to_json(),
        }
        if self.version > 1:
            document["version"] = self.version
        if self.approval is not None:
            document["approval"] = self.approval.to_json()
        if self.ip_pool is not None:
            document["ip_pool"] = self.ip_pool.to_json()
        if self.lease is not None:
            document["lease"] = dict(self.lease)
        return document

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CreateInput:
        """Parse the input document."""
        return cls(
            job_id=str(data["job_id"]),
            request=VmSpec.from_json(data["request"]),
            os_family=str(data["os_family"]),
            sealed_guest=data.get("sealed_guest"),
            timing=Timing.from_json(data.get("timing")),
            version=int(data.get("version", 1)),
            approval=ApprovalRule.from_json(data["approval"]) if data.get("approval") else None,
            ip_pool=PoolAddress.from_json(data["ip_pool"]) if data.get("ip_pool") else None,
            lease=dict(data["lease"]) if data.get("lease") else None,
        )


@dataclass(frozen=True)
class LifecycleInput:
    """The input of the delete and power orchestrations: the job, the VM and (power) the action and its options."""

    job_id: str
    host: str
    vm_id: str
    timing: Timing
    action: PowerAction | None = None
    timeout_seconds: int | None = None
    force_after_timeout: bool | None = None

    def to_json(self) -> JsonObject:
        """The input document (power options only when set)."""
        document: JsonObject = {
            "job_id": self.job_id,
            "host": self.host,
            "vm_id": self.vm_id,
            "timing": self.timing.to_json(),
        }
        for name in ("action", "timeout_seconds", "force_after_timeout"):
            if getattr(self, name) is not None:
                document[name] = getattr(self, name)
        return document

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LifecycleInput:
        """Parse the input document."""
        timeout = data.get("timeout_seconds")
        force = data.get("force_after_timeout")
        return cls(
            job_id=str(data["job_id"]),
            host=str(data["host"]),
            vm_id=str(data["vm_id"]),
            timing=Timing.from_json(data.get("timing")),
            action=data.get("action"),
            timeout_seconds=None if timeout is None else int(timeout),
            force_after_timeout=None if force is None else bool(force),
        )


@dataclass(frozen=True)
class SyncInput:
    """The inventory sync's input: the hosts, whether to prune the others, the deadline, and the API job if any.

    ``hosts_per_activity``: how many hosts each collect activity syncs at once; ``None`` (instances started by
    earlier builds) collects each host in an activity of its own, as their history recorded.
    """

    hosts: tuple[str, ...]
    prune: bool = True
    deadline_seconds: float = 600
    job_id: str | None = None
    hosts_per_activity: int | None = None

    def to_json(self) -> JsonObject:
        """The input document (``job_id`` only for syncs the API started, the batch size only when set)."""
        document: JsonObject = {
            "hosts": list(self.hosts),
            "prune": self.prune,
            "deadline_seconds": self.deadline_seconds,
        }
        if self.job_id is not None:
            document["job_id"] = self.job_id
        if self.hosts_per_activity is not None:
            document["hosts_per_activity"] = self.hosts_per_activity
        return document

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> SyncInput:
        """Parse the input document."""
        data = data or {}
        return cls(
            hosts=tuple(str(h) for h in data.get("hosts", ())),
            prune=bool(data.get("prune", True)),
            deadline_seconds=float(data.get("deadline_seconds", 600)),
            job_id=data.get("job_id"),
            hosts_per_activity=_batch_size(data.get("hosts_per_activity")),
        )


def _batch_size(value: Any) -> int | None:
    """A batch size from an input document: a number of at least 1, or ``None`` when absent."""
    return max(1, int(value)) if isinstance(value, int | float) and not isinstance(value, bool) else None


# -- outputs ----------------------------------------------------------------------------------------------------


class CleanupStatus(StrEnum):
    """How a job's compensation ended."""

    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    SKIPPED = "Skipped"
    NOTHING = "Nothing to clean up"
    PENDING = "Pending"
    """The host was unreachable: the cleanup is a recorded debt, settled when the host is reachable again."""


@dataclass(frozen=True)
class CleanupReport:
    """What compensation did (:class:`CleanupStatus`) and why."""

    status: CleanupStatus
    actions: tuple[str, ...] | None = None
    error: JsonObject | None = None
    reason: str | None = None
    kept_vm_id: str | None = None
    pending_since: str | None = None
    settled_at: str | None = None
    host: JsonObject | None = None
    """What the host reported: VMs found by the job's marks and removed, files and folders deleted or kept."""
    tables: JsonObject | None = None
    """What was removed from the inventory tables."""

    def to_json(self) -> JsonObject:
        """The report as the job record holds it (only the fields that apply)."""
        document: JsonObject = {"status": str(self.status)}
        if self.reason is not None:
            document["reason"] = self.reason
            if self.status == CleanupStatus.SKIPPED:
                document["kept_vm_id"] = self.kept_vm_id
        if self.actions is not None:
            document["actions"] = list(self.actions)
        if self.error is not None:
            document["error"] = self.error
        for name in ("pending_since", "settled_at", "host", "tables"):
            if getattr(self, name) is not None:
                document[name] = getattr(self, name)
        return document


@dataclass(frozen=True)
class CreateOutput:
    """A finished create: the new VM's id, host and name, and the VM as the inventory shows it."""

    vm_id: str | None
    host: str | None
    name: str
    vm: VmSummary | None
    guest_agent: str | None = None
    """The guest agent that applied the guest data (``aetherv-linux/2.5.0``, or its generation when unmarked)."""

    def to_json(self) -> JsonObject:
        """``{"vm_id", "host", "name", "vm"}`` plus ``guest_agent`` when the guest was provisioned and checked."""
        document: JsonObject = {
            "vm_id": self.vm_id,
            "host": self.host,
            "name": self.name,
            "vm": self.vm.to_json() if self.vm else None,
        }
        if self.guest_agent is not None:
            document["guest_agent"] = self.guest_agent
        return document


@dataclass(frozen=True)
class DeleteOutput:
    """A finished delete: the VM, its host, whether it still existed, and its name."""

    vm_id: str | None
    host: str | None
    existed: bool
    name: str | None

    def to_json(self) -> JsonObject:
        """``{"vm_id", "host", "existed", "name"}``."""
        return {"vm_id": self.vm_id, "host": self.host, "existed": self.existed, "name": self.name}


@dataclass(frozen=True)
class PowerOutput:
    """A finished power action: what was asked, what the host did, and the VM afterwards."""

    vm_id: str | None
    host: str | None
    action: str
    power: PowerResult
    vm: VmSummary | None

    def to_json(self) -> JsonObject:
        """``{"vm_id", "host", "action", "power", "vm"}``."""
        return {
            "vm_id": self.vm_id,
            "host": self.host,
            "action": self.action,
            "power": self.power.model_dump(mode="json"),
            "vm": self.vm.to_json() if self.vm else None,
        }


@dataclass(frozen=True)
class HostFailure:
    """One host a sync could not store, and why."""

    host: str
    error: str | None

    def to_json(self) -> JsonObject:
        """``{"host", "error"}``."""
        return {"host": self.host, "error": self.error}


@dataclass(frozen=True)
class SyncOutput:
    """A finished inventory sync: totals, the hosts that failed, the slowest host and when it ran."""

    hosts: int
    succeeded: int
    failed: tuple[HostFailure, ...]
    vms: int
    entities_written: int
    entities_deleted: int
    slowest_host_s: float
    started: str
    finished: str
    prune_error: str | None = None
    """Why removing the hosts that are no longer configured failed (the next sync tries again)."""

    def to_json(self) -> JsonObject:
        """The summary as a JSON object (``prune_error`` only when pruning failed)."""
        document = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "prune_error"}
        document["failed"] = [failure.to_json() for failure in self.failed]
        if self.prune_error is not None:
            document["prune_error"] = self.prune_error
        return document
