r"""The simulated Hyper-V world: hosts, volumes and files, switches, VMs with a state machine, KVP pools, clusters.

Organised like a moto backend: ``Fake*`` classes hold state, :class:`Backend` is the registry of hosts and
clusters with :meth:`Backend.reset`. Operation handlers (:mod:`tools.hvsim.operations`) call typed methods here and
render the results the way the operation scripts do; nothing here knows about WinRM.

Time comes from an injectable clock (``time.monotonic`` by default), so every transition is deterministic in
tests: a VM started at ``t`` is ``Starting`` until ``t + times.start`` and ``Running`` afterwards. States are
evaluated lazily whenever they are read.

Divergences from real Hyper-V (also listed in ``tools/hvsim/README.md``):

- Files are records (path, size, virtual size, a few metadata fields), not bytes; a VHDX "clone" copies the record.
  A dynamic VHDX's file size never grows as the guest writes.
- Free memory is total memory minus a host reserve minus the memory of every VM that is not Off or Saved.
- Cluster Shared Volumes are the same :class:`FakeVolume` objects on every node of a :class:`FakeCluster`, and the
  nodes share one lock; a clustered VM stays on the node that registered it (no failover or live migration).
- The guest OS is a :class:`FakeGuestOS`: intrinsic KVP items, addresses per adapter and an optional provisioning
  agent (the simulated guest of ``tools/hvsim/guest.py``) that runs while the VM runs with a provisioning ISO.
- A blank disk (or an image without a known OS) boots nothing: no integration services, no KVP, no addresses.
- VM names compare case-insensitively (PowerShell's ``-eq``); Hyper-V itself would allow ``a`` and ``A``.
"""

from __future__ import annotations

import importlib
import itertools
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from tools.hvsim.exceptions import (
    ClusterError,
    InvalidParameters,
    InvalidVmState,
    VmNotFound,
)

__all__ = [
    "GB",
    "MB",
    "Backend",
    "Clock",
    "FakeCluster",
    "FakeDiskDrive",
    "FakeDvdDrive",
    "FakeFile",
    "FakeGuestOS",
    "FakeHost",
    "FakeNic",
    "FakeSwitch",
    "FakeVm",
    "FakeVolume",
    "GuestAgent",
    "ManualClock",
    "TransitionTimes",
    "is_valid_file_name",
    "join_path",
]

GB = 1024**3
MB = 1024**2

Clock = Callable[[], float]


class ManualClock:
    """A clock that moves only when told: ``advance`` it, or let ``sleep`` advance it (deterministic tests)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        with self._lock:
            self.now += seconds

    def sleep(self, seconds: float) -> None:
        """What a wait does under this clock: time passes at once."""
        self.advance(seconds)


STABLE_STATES = ("Running", "Off", "Saved", "Paused")
ACTIVE_STATES = ("Running", "Starting", "Stopping", "Paused", "Pausing", "Resuming", "Saving")

_INVALID_NAME_CHARS = set('"<>|:*?\\/') | {chr(code) for code in range(32)}
_RESERVED_NAME = re.compile(r"^(CON|PRN|AUX|NUL|COM[1-9]|LPT[1-9])(\..*)?$", re.IGNORECASE)


def is_valid_file_name(name: str | None) -> bool:
    """What the scripts' ``Test-AetherFileName`` accepts: a Windows file name of at most 100 characters."""
    if name is None or not name.strip() or len(name) > 100:
        return False
    if any(char in _INVALID_NAME_CHARS for char in name):
        return False
    if name.endswith((".", " ")) or name.startswith(" "):
        return False
    return not _RESERVED_NAME.match(name)


def join_path(*parts: str) -> str:
    r"""``[System.IO.Path]::Combine`` for the parts the scripts combine (no rooted parts after the first)."""
    result = parts[0]
    for part in parts[1:]:
        result = result if result.endswith("\\") else result + "\\"
        result += part
    return result


def parent_path(path: str) -> str:
    r"""``[System.IO.Path]::GetDirectoryName`` (``C:\a\b`` → ``C:\a``, ``C:\a`` → ``C:\``)."""
    head, _, _ = path.rstrip("\\").rpartition("\\")
    return head + "\\" if head.endswith(":") else head


def leaf_name(path: str) -> str:
    """``[System.IO.Path]::GetFileName``."""
    return path.rstrip("\\").rpartition("\\")[2]


def _key(path: str) -> str:
    return path.rstrip("\\").lower()


# -- storage ---------------------------------------------------------------------------------------------------


@dataclass
class FakeFile:
    """A file on a simulated volume: its size, and for VHDX/ISO files what the scripts read from them."""

    path: str
    size: int
    kind: str = "other"  # vhdx | iso | text | other
    virtual_size: int | None = None
    vhd_type: str | None = None  # Dynamic | Fixed | Differencing
    text: str | None = None
    os_family: str | None = None  # for images and their clones: the installed OS
    os_name: str | None = None
    iso_version: str | None = None  # for provisioning ISOs: the protocol version they carry

    def copy_to(self, path: str) -> FakeFile:
        """A copy of this file at ``path`` (same size and metadata)."""
        return FakeFile(
            path=path,
            size=self.size,
            kind=self.kind,
            virtual_size=self.virtual_size,
            vhd_type=self.vhd_type,
            text=self.text,
            os_family=self.os_family,
            os_name=self.os_name,
            iso_version=self.iso_version,
        )


@dataclass
class FakeVolume:
    r"""A fixed volume (``C:\``) or a Cluster Shared Volume mount point (``C:\ClusterStorage\Volume1\``).

    The volume holds the files and folders below its path (not those of volumes mounted deeper).
    """

    path: str
    capacity: int
    label: str = ""
    base_used: int = 0
    cluster_shared: bool = False
    files: dict[str, FakeFile] = field(default_factory=dict)
    dirs: dict[str, str] = field(default_factory=dict)

    @property
    def used(self) -> int:
        """Bytes in use: the base occupancy plus every file."""
        return self.base_used + sum(file.size for file in self.files.values())

    @property
    def free(self) -> int:
        """Free bytes."""
        return max(self.capacity - self.used, 0)


class FileSystem:
    """A host's view of its volumes: path operations routed to the volume with the longest matching path."""

    def __init__(self, volumes: Iterable[FakeVolume]) -> None:
        self.volumes: list[FakeVolume] = list(volumes)

    def volume_for(self, path: str) -> FakeVolume | None:
        """The volume that holds ``path`` (longest prefix), or None."""
        probe = path.rstrip("\\").lower() + "\\"
        best: FakeVolume | None = None
        for volume in self.volumes:
            if probe.startswith(volume.path.lower()) and (best is None or len(volume.path) > len(best.path)):
                best = volume
        return best

    def _volume(self, path: str) -> FakeVolume:
        volume = self.volume_for(path)
        if volume is None:
            raise InvalidParameters(f"Cannot find drive for path '{path}'.")
        return volume

    def is_file(self, path: str) -> bool:
        """``Test-Path -PathType Leaf``."""
        volume = self.volume_for(path)
        return volume is not None and _key(path) in volume.files

    def is_dir(self, path: str) -> bool:
        """``Test-Path -PathType Container`` (a volume root is a folder)."""
        volume = self.volume_for(path)
        if volume is None:
            return False
        return _key(path) in volume.dirs or _key(path) == _key(volume.path)

    def exists(self, path: str) -> bool:
        """``Test-Path``."""
        return self.is_file(path) or self.is_dir(path)

    def get(self, path: str) -> FakeFile | None:
        """The file at ``path``."""
        volume = self.volume_for(path)
        return None if volume is None else volume.files.get(_key(path))

    def mkdir(self, path: str) -> None:
        """``[System.IO.Directory]::CreateDirectory`` (parents too)."""
        volume = self._volume(path)
        current = path.rstrip("\\")
        while _key(current) != _key(volume.path) and len(current) > 3:
            volume.dirs.setdefault(_key(current), current)
            current = parent_path(current)

    def write(self, file: FakeFile) -> FakeFile:
        """Create or replace a file (its folder must exist)."""
        volume = self._volume(file.path)
        folder = parent_path(file.path)
        if not self.is_dir(folder):
            raise InvalidParameters(f"Could not find a part of the path '{file.path}'.")
        volume.files[_key(file.path)] = file
        return file

    def remove(self, path: str) -> None:
        """``Remove-Item`` of a file (missing is ignored)."""
        volume = self.volume_for(path)
        if volume is not None:
            volume.files.pop(_key(path), None)

    def move(self, source: str, target: str) -> None:
        """``Move-Item`` of a file."""
        file = self.get(source)
        if file is None:
            raise InvalidParameters(f"Cannot find path '{source}' because it does not exist.")
        self.remove(source)
        self.write(file.copy_to(target))

    def list_dir(self, folder: str) -> tuple[list[str], list[FakeFile]]:
        """Immediate sub-folders (paths) and files of ``folder``, sorted by name."""
        prefix = _key(folder) + "\\"
        dirs: list[str] = []
        files: list[FakeFile] = []
        for volume in self.volumes:
            for key, path in volume.dirs.items():
                if key.startswith(prefix) and "\\" not in key[len(prefix) :]:
                    dirs.append(path)
            for key, file in volume.files.items():
                if key.startswith(prefix) and "\\" not in key[len(prefix) :]:
                    files.append(file)
            if _key(volume.path).startswith(prefix) and "\\" not in _key(volume.path)[len(prefix) :]:
                dirs.append(volume.path.rstrip("\\"))
        return sorted(set(dirs), key=str.lower), sorted(files, key=lambda file: file.path.lower())

    def walk_files(self, folder: str) -> list[FakeFile]:
        """Every file below ``folder`` (``Get-ChildItem -Recurse -File``)."""
        prefix = _key(folder) + "\\"
        return sorted(
            (file for volume in self.volumes for key, file in volume.files.items() if key.startswith(prefix)),
            key=lambda file: file.path.lower(),
        )

    def remove_tree(self, folder: str) -> None:
        """``Remove-Item -Recurse`` of a folder."""
        prefix = _key(folder) + "\\"
        for volume in self.volumes:
            for key in [key for key in volume.files if key.startswith(prefix)]:
                del volume.files[key]
            for key in [key for key in volume.dirs if key.startswith(prefix) or key == _key(folder)]:
                del volume.dirs[key]


# -- network ---------------------------------------------------------------------------------------------------


@dataclass
class FakeSwitch:
    """A virtual switch; ``subnet`` (``"10.20.0"``) is where the simulated DHCP hands out guest addresses."""

    name: str
    type: str = "External"
    notes: str = ""
    subnet: str = "10.0.0"
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _next_host: int = 100

    def lease(self) -> str:
        """The next address of the switch's subnet (deterministic)."""
        address = f"{self.subnet}.{self._next_host}"
        self._next_host = self._next_host + 1 if self._next_host < 250 else 100
        return address


@dataclass
class FakeNic:
    """A synthetic network adapter."""

    id: str  # Microsoft:<VM GUID>\<adapter GUID>, upper case like Hyper-V
    name: str
    mac: str
    switch: str | None = None
    vlan_id: int | None = None
    addresses: list[str] = field(default_factory=list)  # what the guest reports (only while running)


@dataclass
class FakeDiskDrive:
    r"""A virtual hard disk drive; ``id`` is the inventory id (the RASD InstanceID ending in ``\\D``)."""

    id: str
    path: str
    controller_type: str = "SCSI"
    controller_number: int = 0
    controller_location: int = 0
    shared: bool = False


@dataclass
class FakeDvdDrive:
    """A DVD drive; ``path`` is None when it is empty (e.g. after a Windows guest ejected the CD)."""

    path: str | None
    controller_number: int = 0
    controller_location: int = 1


# -- guest -----------------------------------------------------------------------------------------------------


class GuestAgent(Protocol):
    """The provisioning agent inside a guest (``tools.hvsim.guest.SimulatedGuest`` or a test stand-in)."""

    def tick(self, host_pool: Mapping[str, str], guest_pool: MutableMapping[str, str]) -> None:
        """Advance: read the host pool, write the guest pool."""
        ...


GuestFactory = Callable[[str, str, Any, Clock], "GuestAgent | None"]
"""``(os_family, iso_version, behaviour, clock) -> agent`` (None: the guest runs no provisioning agent)."""


def default_guest_factory(os_family: str, iso_version: str, behaviour: Any, clock: Clock) -> GuestAgent | None:
    """The simulated guest of ``tools/hvsim/guest.py`` (None when that module is not available)."""
    try:
        module = importlib.import_module("tools.hvsim.guest")
    except ModuleNotFoundError:
        return None
    agent: GuestAgent = module.SimulatedGuest(
        os_family, iso_version, behaviour=behaviour, clock=clock, key=module.pooled_key()
    )
    return agent


@dataclass
class FakeGuestOS:
    """The operating system installed on a VM's OS disk: what it reports through integration services."""

    os_family: str
    os_name: str
    hostname: str
    os_version: str = ""
    guest_pool: dict[str, str] = field(default_factory=dict)
    agent: GuestAgent | None = None
    agent_done: bool = False
    reboot_pending: bool = False


# -- VMs -------------------------------------------------------------------------------------------------------


@dataclass
class TransitionTimes:
    """Seconds each transition takes (0 = immediate)."""

    start: float = 0.0  # Off/Saved → Starting → Running
    stop: float = 0.0  # guest shutdown: Running → Stopping → Off
    save: float = 0.0  # Running → Saving → Saved
    reboot: float = 0.0  # Running → Stopping → Starting → Running (reset and guest reboots), per phase


class FakeVm:
    """A VM: configuration, devices, a deterministic state machine and its KVP pools.

    The host pool (``host_items``) is what the host writes; the guest pool lives in :class:`FakeGuestOS` and is
    visible to the host only while the guest runs (as on Hyper-V, where the component is down otherwise).
    """

    def __init__(
        self,
        host: FakeHost,
        *,
        name: str,
        folder: str,
        memory_mb: int,
        cpu_count: int,
        vm_id: str | None = None,
        created: datetime | None = None,
        notes: str = "",
        version: str = "10.0",
        generation: int = 2,
    ) -> None:
        self.host = host
        self.id = (vm_id or str(uuid.uuid4())).lower()
        self.name = name
        self.folder = folder
        self.memory_mb = memory_mb
        self.dynamic_memory = False
        self.minimum_mb = 512
        self.maximum_mb = 1048576
        self.cpu_count = cpu_count
        self.created = created or host.backend.now()
        self.notes = notes
        self.version = version
        self.generation = generation
        self.secure_boot = True
        self.secure_boot_template = "MicrosoftWindows"
        self.automatic_checkpoints = True
        self.first_boot_device: str | None = None
        self.disks: list[FakeDiskDrive] = []
        self.dvds: list[FakeDvdDrive] = []
        self.nics: list[FakeNic] = []
        self.host_items: dict[str, str] = {}
        self.guest: FakeGuestOS | None = None
        self.guest_behaviour: Any = None
        self._state = "Off"
        self._timeline: list[tuple[float, str]] = []
        self._running_since: float | None = None
        self.boot_count = 0

    # -- state machine -------------------------------------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        """The backend's clock."""
        return self.host.backend.clock

    @property
    def times(self) -> TransitionTimes:
        """The backend's transition times."""
        return self.host.backend.times

    def _advance(self) -> None:
        now = self.clock()
        while self._timeline and self._timeline[0][0] <= now:
            at, state = self._timeline.pop(0)
            self._enter(state, at)

    def _enter(self, state: str, at: float) -> None:
        self._state = state
        if state == "Running":
            self._running_since = at
            self.boot_count += 1
            self._boot()
        elif state in ("Off", "Stopping", "Saved", "Starting"):
            self._running_since = None

    def _schedule(self, steps: Iterable[tuple[str, float]], final: str) -> None:
        """Enter each transitional state for its duration, then ``final``."""
        at = self.clock()
        timeline: list[tuple[float, str]] = []
        for state, duration in steps:
            timeline.append((at, state))
            at += duration
        timeline.append((at, final))
        self._timeline = timeline
        self._advance()

    @property
    def state(self) -> str:
        """The current state (transitions are applied lazily)."""
        self._advance()
        return self._state

    @property
    def uptime_seconds(self) -> int:
        """Seconds since the VM last reached Running (0 unless it runs)."""
        if self.state not in ("Running", "Paused") or self._running_since is None:
            return 0
        return int(self.clock() - self._running_since)

    def set_state(self, state: str, *, uptime_seconds: float = 0.0) -> None:
        """Put the VM in a stable state at once (seeding and out-of-band changes; no guest agent starts)."""
        if state not in STABLE_STATES:
            raise InvalidParameters(f"state must be one of {', '.join(STABLE_STATES)}")
        self._timeline = []
        self._state = state
        running = state in ("Running", "Paused")
        self._running_since = self.clock() - uptime_seconds if running else None
        if running and self.guest is not None:
            for nic in self.nics:
                if nic.switch is not None and not nic.addresses:
                    switch = self.host.switch(nic.switch)
                    nic.addresses = [switch.lease() if switch is not None else "169.254.10.10"]

    def start(self) -> None:
        """Off or Saved → Starting → Running."""
        if self.state not in ("Off", "Saved"):
            raise InvalidVmState(f"cannot start VM {self.id}: it is {self.state}")
        self._schedule([("Starting", self.times.start)], "Running")

    def resume(self) -> None:
        """Paused → Running."""
        if self.state != "Paused":
            raise InvalidVmState(f"cannot resume VM {self.id}: it is {self.state}")
        self._timeline = []
        self._state = "Running"

    def pause(self) -> None:
        """Running → Paused."""
        if self.state != "Running":
            raise InvalidVmState(f"cannot pause VM {self.id}: it is {self.state}")
        self._timeline = []
        self._state = "Paused"

    def save(self) -> None:
        """Running → Saving → Saved."""
        if self.state != "Running":
            raise InvalidVmState(f"cannot save VM {self.id}: it is {self.state}")
        self._schedule([("Saving", self.times.save)], "Saved")

    def turn_off(self) -> None:
        """Any state → Off at once (pulling the plug)."""
        self._timeline = []
        self._enter("Off", self.clock())

    def shutdown(self) -> None:
        """Guest shutdown: Running → Stopping → Off."""
        self._schedule([("Stopping", self.times.stop)], "Off")

    def reset(self) -> None:
        """Hard reset or guest reboot: Running → Stopping → Starting → Running."""
        self._schedule([("Stopping", self.times.reboot), ("Starting", self.times.reboot)], "Running")

    @property
    def integration_services(self) -> bool:
        """Whether the guest's integration services answer (an OS is installed and it runs)."""
        return self.guest is not None and self.state == "Running"

    # -- guest -----------------------------------------------------------------------------------------------

    def _boot(self) -> None:
        guest = self.guest
        if guest is None:
            return
        for nic in self.nics:
            if nic.switch is None:
                nic.addresses = []
            elif not nic.addresses:
                switch = self.host.switch(nic.switch)
                lease = switch.lease() if switch is not None else "169.254.10.10"
                nic.addresses = [lease, f"fe80::215:5dff:fe{self.boot_count:02x}:{len(self.nics):04x}"]
        agent = guest.agent
        if agent is not None and guest.reboot_pending:
            # The reboot the agent asked for is done: phase two ran, the new identity shows.
            guest.reboot_pending = False
            _call(agent, "rebooted")
            self._apply_guest_config(getattr(agent, "applied", None))
            guest.agent_done = True
            return
        iso = self.provisioning_iso()
        if not guest.agent_done and iso is not None:
            behaviour = self.guest_behaviour if self.guest_behaviour is not None else self.host.guest_behaviour
            factory = self.host.backend.guest_factory
            guest.agent = factory(guest.os_family, iso.iso_version or "", behaviour, self.clock)

    def provisioning_iso(self) -> FakeFile | None:
        """The provisioning ISO in one of the VM's DVD drives, if any."""
        for dvd in self.dvds:
            if dvd.path and "provisioning" in leaf_name(dvd.path).lower():
                file = self.host.fs.get(dvd.path)
                if file is not None:
                    return file
        return None

    def tick_guest(self) -> None:
        """Let the guest agent run once (the host reads or writes KVP items, or the background ticker fires)."""
        running = self.state == "Running"  # first: entering Running is what boots the agent
        guest = self.guest
        if not running or guest is None or guest.agent is None or guest.reboot_pending:
            return
        agent = guest.agent
        agent.tick(self.host_items, guest.guest_pool)
        if getattr(agent, "ejected_cd", False):
            for dvd in self.dvds:
                dvd.path = None
        if getattr(agent, "reboot_requested", False):
            guest.reboot_pending = True
            self.reset()
        elif str(getattr(agent, "phase", "")) in ("applied", "failed", "stopped"):
            guest.agent_done = True

    def _apply_guest_config(self, applied: Any) -> None:
        guest = self.guest
        if guest is None or applied is None:
            return
        hostname = getattr(applied, "hostname", None)
        if isinstance(hostname, str) and hostname:
            domain = getattr(getattr(applied, "domain", None), "domain", None)
            guest.hostname = f"{hostname}.{domain}" if domain else hostname
        address = getattr(getattr(applied, "ipv4", None), "address", None)
        if isinstance(address, str) and address and self.nics:
            self.nics[0].addresses = [address, *(item for item in self.nics[0].addresses if ":" in item)]

    @property
    def guest_items(self) -> dict[str, str]:
        """The guest pool as the host sees it (empty unless the guest runs)."""
        if not self.integration_services or self.guest is None:
            return {}
        return dict(self.guest.guest_pool)

    @property
    def intrinsic_items(self) -> dict[str, str]:
        """Items the integration services publish (empty unless the guest runs)."""
        guest = self.guest
        if guest is None or not self.integration_services:
            return {}
        ipv4 = [a for nic in self.nics for a in nic.addresses if ":" not in a]
        ipv6 = [a for nic in self.nics for a in nic.addresses if ":" in a]
        return {
            "FullyQualifiedDomainName": guest.hostname,
            "OSName": guest.os_name,
            "OSVersion": guest.os_version,
            "NetworkAddressIPv4": ";".join(ipv4),
            "NetworkAddressIPv6": ";".join(ipv6),
            "IntegrationServicesVersion": "10.0.20348.1" if guest.os_family == "windows" else "3.1",
        }

    # -- projection -------------------------------------------------------------------------------------------

    @property
    def clustered(self) -> bool:
        """Whether a cluster holds a role for this VM."""
        cluster = self.host.cluster
        return cluster is not None and self.id in cluster.roles

    def nic_addresses(self, nic: FakeNic) -> list[str]:
        """What ``Msvm_GuestNetworkAdapterConfiguration`` reports for ``nic`` (nothing unless the guest runs)."""
        return list(nic.addresses) if self.integration_services else []


def _call(obj: Any, name: str) -> None:
    method = getattr(obj, name, None)
    if callable(method):
        method()


# -- hosts and clusters ----------------------------------------------------------------------------------------


class FakeHost:
    """A Hyper-V host: hardware, volumes and files, switches, VMs, an install directory and a lock."""

    def __init__(
        self,
        backend: Backend,
        name: str,
        *,
        logical_processors: int = 32,
        memory_gb: int = 256,
        reserve_gb: int = 4,
        volumes: Iterable[FakeVolume] = (),
        install_dir: str = "C:\\Program Files\\Aether-V",
    ) -> None:
        self.backend = backend
        self.name = name
        self.logical_processors = logical_processors
        self.total_memory = memory_gb * GB
        self.reserve_memory = reserve_gb * GB
        self.fs = FileSystem(volumes)
        self.switches: list[FakeSwitch] = []
        self.vms: dict[str, FakeVm] = {}
        self.install_dir = install_dir
        self.default_vm_path = "C:\\ProgramData\\Microsoft\\Windows\\Hyper-V"
        self.default_vhd_path = "C:\\ProgramData\\Microsoft\\Windows\\Virtual Hard Disks"
        self.cluster: FakeCluster | None = None
        self.lock = threading.RLock()
        self.guest_behaviour: Any = None
        self.journal: list[tuple[str, dict[str, Any]]] = []
        self._mac_counter = itertools.count(1)

    @property
    def computer_name(self) -> str:
        """``$env:COMPUTERNAME``: the upper-case first label, at most 15 characters."""
        return self.name.split(".")[0].upper()[:15]

    # -- memory ------------------------------------------------------------------------------------------------

    @property
    def free_memory(self) -> int:
        """Bytes of physical memory free."""
        used = sum(vm.memory_mb * MB for vm in self.vms.values() if vm.state in ACTIVE_STATES)
        return max(self.total_memory - self.reserve_memory - used, 0)

    # -- lookups ------------------------------------------------------------------------------------------------

    def switch(self, name: str) -> FakeSwitch | None:
        """The switch named ``name`` (case-insensitive, like PowerShell ``-eq``)."""
        return next((switch for switch in self.switches if switch.name.lower() == name.lower()), None)

    def vm(self, vm_id: str) -> FakeVm:
        """The VM with id ``vm_id``; :class:`VmNotFound` otherwise."""
        vm = self.find_vm(vm_id)
        if vm is None:
            raise VmNotFound(f"no VM with id {vm_id} on this host")
        return vm

    def find_vm(self, vm_id: str) -> FakeVm | None:
        """The VM with id ``vm_id``, or None."""
        return self.vms.get(vm_id.lower())

    def vms_named(self, name: str) -> list[FakeVm]:
        """VMs whose name equals ``name`` (case-insensitive)."""
        return [vm for vm in self.vms.values() if vm.name.lower() == name.lower()]

    def csv_roots(self) -> list[str]:
        r"""Folders below ``C:\ClusterStorage`` (the CSV mount points), sorted."""
        if not self.fs.is_dir("C:\\ClusterStorage"):
            return []
        dirs, _ = self.fs.list_dir("C:\\ClusterStorage")
        return dirs

    def storage_roots(self, requested: list[str] | None) -> list[str]:
        r"""CSVs when the host has any, else ``requested`` or ``C:\`` (the scripts' ``Get-AetherStorageRoots``)."""
        csv = self.csv_roots()
        if csv:
            return csv
        if requested is not None:
            return [str(root) for root in requested]
        return ["C:\\"]

    def image_folders(self, requested: list[str] | None) -> list[str]:
        r"""CSV ``DiskImages`` folders, then the standalone folders (default ``C:\\Hyper-V\\DiskImages``)."""
        folders = [join_path(root, "DiskImages") for root in self.csv_roots()]
        folders += [str(path) for path in requested] if requested is not None else ["C:\\Hyper-V\\DiskImages"]
        return folders

    def find_image(self, name: str, requested: list[str] | None) -> FakeFile | None:
        r"""``<folder>\<name>.vhdx`` in the first image folder that has it."""
        for folder in self.image_folders(requested):
            file = self.fs.get(join_path(folder, name + ".vhdx"))
            if file is not None:
                return file
        return None

    def free_bytes(self, path: str) -> int:
        """Free space of the volume holding ``path`` (0 when none does)."""
        volume = self.fs.volume_for(path)
        return 0 if volume is None else volume.free

    # -- VM construction ---------------------------------------------------------------------------------------

    def new_mac(self) -> str:
        """The next dynamic MAC address (Hyper-V's 00:15:5D prefix)."""
        serial = next(self._mac_counter)
        host_byte = sum(self.name.encode()) % 256
        return f"00:15:5D:{host_byte:02X}:{(serial >> 8) & 0xFF:02X}:{serial & 0xFF:02X}"

    def add_vm(self, vm: FakeVm) -> FakeVm:
        """Register ``vm`` on this host."""
        self.vms[vm.id] = vm
        return vm

    def add_nic(self, vm: FakeVm, switch: str | None, *, name: str = "Network Adapter") -> FakeNic:
        """Add a synthetic adapter to ``vm``."""
        mac = self.new_mac()
        adapter = uuid.uuid5(uuid.UUID(vm.id), mac)  # deterministic for a seeded lab
        nic = FakeNic(id=f"Microsoft:{vm.id.upper()}\\{str(adapter).upper()}", name=name, mac=mac, switch=switch)
        vm.nics.append(nic)
        return nic

    def add_disk(self, vm: FakeVm, path: str, *, shared: bool = False) -> FakeDiskDrive:
        """Attach ``path`` to the first free SCSI location of controller 0."""
        used = {drive.controller_location for drive in vm.disks} | {dvd.controller_location for dvd in vm.dvds}
        location = next(index for index in range(64) if index not in used)
        drive = FakeDiskDrive(
            id=f"Microsoft:{vm.id.upper()}\\{_CONTROLLER_ID}\\0\\{location}\\D",
            path=path,
            controller_location=location,
            shared=shared,
        )
        vm.disks.append(drive)
        return drive

    def add_dvd(self, vm: FakeVm, path: str | None) -> FakeDvdDrive:
        """Add a SCSI DVD drive holding ``path``."""
        used = {drive.controller_location for drive in vm.disks} | {dvd.controller_location for dvd in vm.dvds}
        location = next(index for index in range(64) if index not in used)
        dvd = FakeDvdDrive(path=path, controller_location=location)
        vm.dvds.append(dvd)
        return dvd

    def install_guest(self, vm: FakeVm, disk: FakeFile | None) -> None:
        """Give ``vm`` the OS of its OS disk (an image clone), or none for a blank disk."""
        if disk is None or not disk.os_family:
            vm.guest = None
            return
        hostname = "WIN-" + vm.id[:8].upper() if disk.os_family == "windows" else "localhost"
        vm.guest = FakeGuestOS(
            os_family=disk.os_family,
            os_name=disk.os_name or disk.os_family,
            hostname=hostname,
            os_version="10.0.20348" if disk.os_family == "windows" else "6.8.0",
        )


_CONTROLLER_ID = "83F8638B-8DCA-4152-9EDA-2CA8B33039B4"


@dataclass
class FakeCluster:
    """A failover cluster: its nodes and the VM roles it holds (``roles``: VM id → owner node name)."""

    name: str
    nodes: list[FakeHost] = field(default_factory=list)
    roles: dict[str, str] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def add_node(self, host: FakeHost) -> None:
        """Join ``host`` to the cluster (it then shares the cluster's lock and CSVs)."""
        host.cluster = self
        host.lock = self.lock
        self.nodes.append(host)

    def add_role(self, vm: FakeVm) -> None:
        """``MSCluster_Cluster.AddVirtualMachine``: the VM's files must all be on cluster storage."""
        paths = [vm.folder, *(drive.path for drive in vm.disks), *(dvd.path for dvd in vm.dvds if dvd.path)]
        for path in paths:
            volume = vm.host.fs.volume_for(path)
            if volume is None or not volume.cluster_shared:
                raise ClusterError(
                    f"the cluster refused VM {vm.id}: '{path}' is not on cluster storage (a Cluster Shared Volume)"
                )
        self.roles[vm.id] = vm.host.name

    def remove_role(self, vm: FakeVm) -> bool:
        """Delete the VM's resources and group; False when it had none."""
        return self.roles.pop(vm.id, None) is not None


class Backend:
    """The registry of simulated hosts and clusters (one per lab), with reset, a clock and a guest ticker.

    ``times`` are the VM transition times; ``guest_factory`` builds each VM's provisioning agent (default: the
    simulated guest of ``tools/hvsim/guest.py``); ``clock``/``sleep`` drive every wait (tests pass a manual clock
    whose ``sleep`` advances it).
    """

    def __init__(
        self,
        *,
        clock: Clock = time.monotonic,
        times: TransitionTimes | None = None,
        guest_factory: GuestFactory = default_guest_factory,
        wall_clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.clock = clock
        self.sleep = sleep
        self.times = times or TransitionTimes()
        self.guest_factory = guest_factory
        self._wall_clock = wall_clock or (lambda: datetime.now(UTC))
        self.hosts: dict[str, FakeHost] = {}
        self.clusters: dict[str, FakeCluster] = {}
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()

    def now(self) -> datetime:
        """Wall-clock time for creation timestamps."""
        return self._wall_clock()

    def reset(self) -> None:
        """Forget every host and cluster."""
        self.hosts.clear()
        self.clusters.clear()

    def add_host(self, host: FakeHost) -> FakeHost:
        """Register ``host`` (by lower-case name)."""
        self.hosts[host.name.lower()] = host
        return host

    def host(self, name: str) -> FakeHost:
        """The host named ``name``; ``KeyError`` otherwise."""
        return self.hosts[name.lower()]

    def all_vms(self) -> Iterator[FakeVm]:
        """Every VM of every host."""
        for host in list(self.hosts.values()):
            yield from list(host.vms.values())

    def tick(self) -> None:
        """Advance every running guest agent once."""
        for host in list(self.hosts.values()):
            with host.lock:
                for vm in list(host.vms.values()):
                    vm.tick_guest()

    def start_ticker(self, interval: float = 0.2) -> None:
        """Tick guests in a daemon thread every ``interval`` seconds until :meth:`stop_ticker`."""
        if self._ticker is not None:
            return
        self._stop.clear()

        def run() -> None:
            while not self._stop.wait(interval):
                self.tick()

        self._ticker = threading.Thread(target=run, name="hvsim-guest-ticker", daemon=True)
        self._ticker.start()

    def stop_ticker(self) -> None:
        """Stop the background ticker."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
            self._ticker = None
