"""Typed inputs and results of the Hyper-V operations (what the scripts take and return).

Every model is a frozen pydantic model with snake_case fields that serialise to JSON
(``model_dump(mode="json")``) and back (``model_validate``); the inventory sync stores :class:`HostInventory`
and :class:`VmInfo` as they are. Result models ignore unknown fields, so a newer script can add a field
without breaking an older app; input models forbid them, so a typo is an error, not a silent default.

Field meanings follow ``reference/hyperv-host.md`` §11 (inventory) and the operation scripts in
``functions/hyperv/scripts``; sizes are in GB (GiB, 1024³ bytes, as Hyper-V reports them).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from functions.models.json import JsonObject

__all__ = [
    "ClusterChange",
    "CreateVmSpec",
    "DiskType",
    "EjectResult",
    "GuestKvp",
    "HostFacts",
    "HostInventory",
    "HostOperation",
    "ImageInfo",
    "IsoInfo",
    "IsoLibrary",
    "OperationError",
    "OperationId",
    "OperationKind",
    "OperationState",
    "OperationStopped",
    "OsFamily",
    "OwnedRemoval",
    "PingResult",
    "PowerResult",
    "PreflightCheck",
    "PreflightReport",
    "PreflightSpec",
    "PrepareDiskSpec",
    "PreparedDisk",
    "RemoveResult",
    "SwitchInfo",
    "VmDisk",
    "VmInfo",
    "VmNetworkAdapter",
    "VmRef",
    "VmState",
    "VolumeInfo",
    "os_family_from_image_name",
    "os_family_from_os_name",
]

VmState = Literal[
    "Running", "Off", "Saved", "Paused", "Starting", "Pausing", "Resuming", "Saving", "Stopping", "Unknown"
]
"""A VM's state: ``Msvm_ComputerSystem.EnabledState`` mapped as in ``hyperv-host.md`` §11."""

OsFamily = Literal["windows", "linux"]
DiskType = Literal["Fixed", "Dynamic", "Differencing", "Unknown"]
SwitchType = Literal["External", "Internal", "Private", "Unknown"]

_WINDOWS_PREFIX = re.compile(r"^(Windows|Microsoft Windows)", re.IGNORECASE)
_LINUX_PREFIX = re.compile(
    r"^(Ubuntu|Red Hat Enterprise Linux|RHEL|CentOS|Rocky Linux|AlmaLinux|Oracle Linux|Debian|SUSE|openSUSE|Fedora)",
    re.IGNORECASE,
)


def os_family_from_image_name(name: str) -> OsFamily | None:
    """OS family of a golden image by the HLVMM prefix rules (``hyperv-host.md`` §13.5), None if unknown.

    The same rules run on the host in ``list_images.ps1``; an unknown prefix is None, never a silent default.
    """
    if _WINDOWS_PREFIX.match(name):
        return "windows"
    if _LINUX_PREFIX.match(name):
        return "linux"
    return None


def os_family_from_os_name(os_name: str | None) -> OsFamily | None:
    """OS family of a running guest from its intrinsic ``OSName`` KVP item, None if unknown."""
    if not os_name:
        return None
    lowered = os_name.lower()
    if "windows" in lowered:
        return "windows"
    if any(word in lowered for word in ("linux", "ubuntu", "debian", "centos", "rhel", "rocky", "alma", "suse")):
        return "linux"
    return None


class _Result(BaseModel):
    """Base of every result: immutable, unknown fields ignored (forward compatible)."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class _Input(BaseModel):
    """Base of every input: immutable, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# -- results ---------------------------------------------------------------------------------------------------


class VolumeInfo(_Result):
    """A fixed volume of the host (a drive or a Cluster Shared Volume mount point)."""

    path: str
    label: str | None = None
    capacity_gb: float
    free_gb: float
    cluster_shared: bool = False


class SwitchInfo(_Result):
    """A Hyper-V virtual switch."""

    name: str
    id: str | None = None
    type: SwitchType = "Unknown"
    notes: str = ""


class HostFacts(_Result):
    """Facts about the host itself, collected with its VMs."""

    computer_name: str
    cluster_name: str | None = None
    logical_processors: int
    total_memory_gb: float
    free_memory_gb: float
    volumes: list[VolumeInfo] = Field(default_factory=list)
    switches: list[SwitchInfo] = Field(default_factory=list)
    default_vm_path: str | None = None
    default_vhd_path: str | None = None


class VmDisk(_Result):
    """A virtual hard disk attached to a VM."""

    id: str
    name: str
    path: str
    type: DiskType = "Unknown"
    capacity_gb: float | None = None
    file_size_gb: float | None = None
    controller_type: Literal["SCSI", "IDE", "Unknown"] = "Unknown"
    controller_number: int | None = None
    controller_location: int | None = None
    boot: bool = False
    """The disk the VM boots from (generation 2: the first hard disk in the firmware's boot order, else SCSI 0:0;
    generation 1: IDE 0:0). It cannot be removed."""


class VmNetworkAdapter(_Result):
    """A VM's network adapter; IP addresses come from the guest (never link-local ``fe80::``)."""

    id: str
    name: str
    switch: str | None = None
    vlan_id: int | None = None
    mac_address: str | None = None
    ip_addresses: list[str] = Field(default_factory=list)


class VmInfo(_Result):
    """One VM with the inventory fields of ``hyperv-host.md`` §11."""

    id: str
    name: str
    state: VmState
    creation_time: datetime | None = None
    notes: str = ""
    version: str | None = None
    generation: int = 2
    startup_memory_gb: float
    minimum_memory_gb: float | None = None
    maximum_memory_gb: float | None = None
    dynamic_memory_enabled: bool = False
    memory_gb: float
    """Assigned memory while running, else the startup memory."""
    processor_count: int
    os_name: str | None = None
    networks: list[VmNetworkAdapter] = Field(default_factory=list)
    ip_addresses: list[str] = Field(default_factory=list)
    disks: list[VmDisk] = Field(default_factory=list)
    uptime_seconds: int = 0
    clustered: bool = False
    configuration_path: str | None = None
    """Folder of the VM's configuration (its VM folder for VMs created by Aether-V)."""
    checkpoint_count: int = 0
    """How many checkpoints the VM has (a VM with checkpoints runs on differencing disks)."""

    @property
    def os_family(self) -> OsFamily | None:
        """OS family inferred from the guest's reported ``OSName``."""
        return os_family_from_os_name(self.os_name)


class HostInventory(_Result):
    """Everything one ``collect_inventory`` run returns: host facts and every VM."""

    host: HostFacts
    vms: list[VmInfo] = Field(default_factory=list)
    collected_at: datetime
    warnings: list[str] = Field(default_factory=list)


class ImageInfo(_Result):
    """A golden image (``*.vhdx``) in one of the host's image libraries."""

    name: str
    path: str
    size_gb: float
    """Size of the file on disk."""
    os_family: OsFamily | None = None
    """By the prefix rules of ``hyperv-host.md`` §13.5; None when the name matches none."""


class IsoInfo(_Result):
    """A provisioning ISO in the install directory."""

    os_family: OsFamily
    path: str
    size_gb: float


class IsoLibrary(_Result):
    """The provisioning ISOs and the protocol version (content of ``version``) of the install directory."""

    install_dir: str
    version: str | None = None
    isos: list[IsoInfo] = Field(default_factory=list)


class PreflightCheck(_Result):
    """One preflight check: its name, whether it passed and why not."""

    name: Literal["name_free", "image_present", "switch_present", "memory_available", "disk_space_available"]
    ok: bool
    message: str = ""


class PreflightReport(_Result):
    """Every preflight check of a create request; :attr:`ok` only when all pass."""

    checks: list[PreflightCheck]
    target_volume: str | None = None
    """The volume ``prepare_disk`` would choose."""

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return all(check.ok for check in self.checks)

    @property
    def failures(self) -> list[PreflightCheck]:
        """The checks that failed, in order."""
        return [check for check in self.checks if not check.ok]


class PreparedDisk(_Result):
    """The OS disk ``prepare_disk`` made (or found from an earlier attempt of the same job)."""

    folder: str
    path: str
    size_gb: float
    """Virtual size of the disk."""
    image_name: str | None = None
    created: bool
    """False when an earlier attempt of the same job had already made it."""


class PingResult(_Result):
    """What ``ping`` answers: the host's computer name, its PowerShell version and the parameters it was sent."""

    computer_name: str
    ps_version: str
    echo: JsonObject = Field(default_factory=dict)


class PowerResult(_Result):
    """Outcome of a power action."""

    id: str
    previous_state: VmState
    state: VmState
    changed: bool
    """False when the VM was already in the requested state (an idempotent repeat)."""


class RemoveResult(_Result):
    """Outcome of ``remove_vm``."""

    id: str | None
    """The VM id asked for (None when only a prepared folder was cleaned up)."""
    existed: bool
    deleted_files: list[str] = Field(default_factory=list)
    folder_removed: bool = False
    kept_files: list[str] = Field(default_factory=list)
    """Unknown files that kept the VM folder from being deleted."""


class VmRef(_Result):
    """A VM named by id and name."""

    id: str
    name: str


class OwnedRemoval(_Result):
    """Outcome of ``remove_owned``: what a job owned on the host, what was removed, and what was left and why."""

    job_id: str
    vms_found: list[VmRef] = Field(default_factory=list)
    """VMs carrying the job's ownership mark (notes or folder marker)."""
    vms_removed: list[str] = Field(default_factory=list)
    cluster_roles_removed: list[str] = Field(default_factory=list)
    not_owned: list[VmRef] = Field(default_factory=list)
    """VMs with the job's VM name but without its mark: left alone."""
    deleted_files: list[str] = Field(default_factory=list)
    folders_removed: list[str] = Field(default_factory=list)
    kept_files: list[str] = Field(default_factory=list)
    """Unknown files that kept a job folder from being deleted."""


class EjectResult(_Result):
    """Outcome of ``eject_iso``."""

    removed_drives: int
    deleted_files: list[str] = Field(default_factory=list)


OperationState = Literal["running", "succeeded", "failed", "canceled"]
"""Where a background operation is: its worker ``running``, or ended (``succeeded``, ``failed``, ``canceled``)."""


class OperationError(_Result):
    """Why a background operation failed: an error category (``HostOperationFailed`` …) and the host's message."""

    category: str
    message: str = ""


class HostOperation(_Result):
    """A background operation on a host (``start_operation`` / ``operation_status``): state, progress and result.

    The work runs in a scheduled task on the host, outside any WinRM call; ``folder`` is where its status file lives
    (the job's VM folder), which with ``id`` is how it is found again. ``result`` is what the kind's synchronous
    script would return (for ``prepare_disk``: a :class:`PreparedDisk`) once it has ``succeeded``.
    """

    id: str
    kind: str
    job_id: str = ""
    folder: str
    state: OperationState
    bytes_done: int = 0
    bytes_total: int = 0
    percent: float = 0.0
    started: str | None = None
    updated: str | None = None
    result: JsonObject | None = None
    error: OperationError | None = None

    @property
    def ended(self) -> bool:
        """Whether the worker has finished, one way or another."""
        return self.state != "running"


class OperationStopped(_Result):
    """Outcome of ``stop_operation``: the operation's state afterwards (``missing`` when there was none)."""

    id: str
    state: Literal["running", "succeeded", "failed", "canceled", "missing"]
    stopped: bool
    """Whether a running worker was stopped by this call."""


class ClusterChange(_Result):
    """Outcome of ``add_to_cluster`` / ``remove_from_cluster``."""

    id: str
    cluster_name: str | None
    clustered: bool
    changed: bool


class GuestKvp(_Result):
    """What the host sees of a VM's KVP exchange: its state, the guest pool and selected intrinsic items."""

    state: VmState = "Unknown"
    guest: dict[str, str] = Field(default_factory=dict)
    intrinsic: dict[str, str] = Field(default_factory=dict)


class StartAnnounced(_Result):
    """Outcome of ``start_and_announce``: the guest pool around the start, the ISO library, and what was written."""

    before: GuestKvp
    power: PowerResult
    after: GuestKvp
    library: IsoLibrary
    announced: bool
    """False when nothing was written: the library has no version, or the started VM's pool held a guest state."""


# -- inputs ----------------------------------------------------------------------------------------------------

VmId = Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{8}-([0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}$")]
VmName = Annotated[str, Field(min_length=1, max_length=100)]
JobId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]
OperationId = Annotated[str, Field(min_length=1, max_length=150, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
"""A background operation's id: it names a scheduled task and two files on the host, hence the narrow alphabet."""
OperationKind = Literal["prepare_disk"]
"""The kinds of background operation hosts run (``start_operation.ps1``)."""


def _normalise_id(value: str) -> str:
    return str(uuid.UUID(value))


class PreflightSpec(_Input):
    """What ``preflight_create`` checks: name, image, switch, memory and disk space."""

    name: VmName
    image_name: str | None = None
    switch_name: str | None = None
    memory_gb: float = Field(gt=0, le=12288)
    disk_gb: int | None = Field(default=None, ge=1, le=65536)
    storage_roots: tuple[str, ...] | None = None
    image_paths: tuple[str, ...] | None = None


class PrepareDiskSpec(_Input):
    """The OS disk to make: a clone of ``image_name`` (resized to ``disk_gb`` if larger) or a blank disk."""

    vm_name: VmName
    job_id: JobId
    image_name: str | None = None
    disk_gb: int | None = Field(default=None, ge=1, le=65536)
    storage_roots: tuple[str, ...] | None = None
    """Standalone storage roots; None uses the script's default (``C:\\``). CSVs always win when present."""
    image_paths: tuple[str, ...] | None = None
    """Standalone image libraries; None uses the script's default (``C:\\Hyper-V\\DiskImages``)."""


class CreateVmSpec(_Input):
    """The VM to register around a prepared disk."""

    name: VmName
    job_id: JobId
    disk_path: str = Field(min_length=3)
    """The ``PreparedDisk.path`` from ``prepare_disk``; its folder becomes the VM folder."""
    cpu_count: int = Field(ge=1, le=240)
    memory_gb: float = Field(gt=0, le=12288)
    os_family: OsFamily
    switch_name: str | None = None
    vlan_id: int | None = Field(default=None, ge=1, le=4094)
    attach_provisioning_iso: bool = True
    install_dir: str | None = None
    """Where the provisioning ISOs live; None uses the script's default (``C:\\Program Files\\Aether-V``)."""

    @model_validator(mode="after")
    def _vlan_needs_switch(self) -> CreateVmSpec:
        if self.vlan_id is not None and self.switch_name is None:
            raise ValueError("vlan_id needs switch_name (a VLAN is set on the network adapter)")
        return self


def normalise_vm_id(value: str) -> str:
    """Canonical lower-case form of a VM GUID; ``ValueError`` if it is not a GUID."""
    return _normalise_id(value)
