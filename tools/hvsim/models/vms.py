"""VMs: configuration, devices, the host pool of KVP items, and a deterministic state machine.

States are evaluated lazily whenever they are read: a VM started at ``t`` is ``Starting`` until ``t + times.start``
and ``Running`` afterwards, by the backend's clock. Entering ``Running`` boots the guest OS (addresses from the
switch's DHCP, the provisioning agent when a provisioning ISO is in a DVD drive); its integration services answer
after the guest's boot delay. Leaving ``Running`` powers the guest off (its agent process dies), pausing freezes it.

A VM sees the world above it only through the small protocols below — :class:`VmHost` (its host),
:class:`Runtime` (the backend's clocks, transition times and guest factory) and :class:`ClusterRoles` (the
host's cluster) — which :class:`~tools.hvsim.models.hosts.FakeHost`, :class:`~tools.hvsim.models.backend.Backend`
and :class:`~tools.hvsim.models.cluster.FakeCluster` satisfy, so the imports point one way (hosts → VMs).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from tools.hvsim.exceptions import InvalidParameters, InvalidVmState
from tools.hvsim.guest import GuestBehaviour
from tools.hvsim.models.checkpoints import FakeCheckpoint
from tools.hvsim.models.core import Clock
from tools.hvsim.models.disks import FakeDiskDrive
from tools.hvsim.models.dvds import FakeDvdDrive, names_provisioning_media
from tools.hvsim.models.files import FakeFile, FileSystem
from tools.hvsim.models.guest_os import FakeGuestOS, GuestAgent, GuestFactory
from tools.hvsim.models.network import LINK_LOCAL_FALLBACK, FakeNic, FakeSwitch

__all__ = [
    "ACTIVE_STATES",
    "STABLE_STATES",
    "ClusterRoles",
    "FakeVm",
    "Runtime",
    "TransitionTimes",
    "VmHost",
]

STABLE_STATES = ("Running", "Off", "Saved", "Paused")
ACTIVE_STATES = ("Running", "Starting", "Stopping", "Paused", "Pausing", "Resuming", "Saving")


@dataclass
class TransitionTimes:
    """Seconds each transition takes (0 = immediate)."""

    start: float = 0.0  # Off/Saved → Starting → Running
    stop: float = 0.0  # guest shutdown: Running → Stopping → Off
    save: float = 0.0  # Running → Saving → Saved
    reboot: float = 0.0  # Running → Stopping → Starting → Running (reset and guest reboots), per phase


class Runtime(Protocol):
    """What hosts and VMs need from the backend: clocks, the transition times and the guest-agent factory."""

    @property
    def clock(self) -> Clock:
        """The monotonic clock every transition and wait uses."""
        ...

    @property
    def sleep(self) -> Callable[[float], None]:
        """What a polling wait calls between polls."""
        ...

    @property
    def times(self) -> TransitionTimes:
        """How long each VM transition takes."""
        ...

    @property
    def guest_factory(self) -> GuestFactory:
        """Builds a guest's provisioning agent."""
        ...

    @property
    def guest_behaviour(self) -> GuestBehaviour | None:
        """The lab-wide default behaviour of guest agents (a host's or a VM's own behaviour wins)."""
        ...

    def now(self) -> datetime:
        """Wall-clock time for creation timestamps."""
        ...

    @property
    def copy_rate(self) -> float | None:
        """How fast a host's background worker copies an image, bytes per second (None: at once)."""
        ...


class ClusterRoles(Protocol):
    """The cluster a host belongs to, as VMs and operations use it: its name and its VM roles."""

    @property
    def name(self) -> str:
        """The cluster's name."""
        ...

    @property
    def roles(self) -> dict[str, str]:
        """VM id → owner node name."""
        ...

    def add_role(self, vm: FakeVm) -> None:
        """Make ``vm`` a clustered role."""
        ...

    def remove_role(self, vm: FakeVm) -> bool:
        """Remove ``vm``'s role; False when it had none."""
        ...


class VmHost(Protocol):
    """What a VM needs from the host it is registered on."""

    @property
    def name(self) -> str:
        """The host's name."""
        ...

    @property
    def backend(self) -> Runtime:
        """The backend's clocks, times and guest factory."""
        ...

    @property
    def fs(self) -> FileSystem:
        """The host's volumes and files."""
        ...

    @property
    def cluster(self) -> ClusterRoles | None:
        """The host's failover cluster, if any."""
        ...

    @property
    def guest_behaviour(self) -> GuestBehaviour | None:
        """Default behaviour of the guest agents of this host's VMs."""
        ...

    def switch(self, name: str) -> FakeSwitch | None:
        """The switch named ``name``."""
        ...


class FakeVm:
    """A VM: configuration, devices, a deterministic state machine and its KVP pools.

    The host pool (``host_items``) is what the host writes; the guest pool lives in :class:`FakeGuestOS` and is
    visible to the host only while the guest runs (as on Hyper-V, where the component is down otherwise).
    """

    def __init__(
        self,
        host: VmHost,
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
        self.checkpoint_type = "Production"  # Set-VM -CheckpointType: Production, ProductionOnly, Standard, Disabled
        self.first_boot_device: str | None = None
        self.scsi_controllers = 1  # Add-VMScsiController; a generation 1 VM may have none
        self.disks: list[FakeDiskDrive] = []
        self.dvds: list[FakeDvdDrive] = []
        self.nics: list[FakeNic] = []
        self.host_items: dict[str, str] = {}
        self.checkpoints: list[FakeCheckpoint] = []  # in the order they were taken
        self.current_checkpoint_id: str | None = None  # the checkpoint the running configuration derives from
        self.guest: FakeGuestOS | None = None
        self.guest_behaviour: GuestBehaviour | None = None
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
        elif state in ("Off", "Stopping", "Saving", "Saved", "Starting"):
            self._running_since = None
            if self.guest is not None and state != "Starting":  # Starting follows Off, Saved or Stopping
                self.guest.power_off()

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
        if self.guest is not None:
            if running:
                self.guest.online_at = self._running_since  # it has been up all along
            else:
                self.guest.power_off()
        if running and self.guest is not None:
            for nic in self.nics:
                if nic.switch is not None and not nic.addresses:
                    nic.addresses = [self._lease(nic.switch)]

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
        if self.guest is not None:
            self.guest.thaw()

    def pause(self) -> None:
        """Running → Paused."""
        if self.state != "Running":
            raise InvalidVmState(f"cannot pause VM {self.id}: it is {self.state}")
        self._timeline = []
        self._state = "Paused"
        if self.guest is not None:
            self.guest.freeze()

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
        """Hard reset (``Restart-VM``): Running → Stopping → Starting → Running."""
        self._schedule([("Stopping", self.times.reboot), ("Starting", self.times.reboot)], "Running")

    @property
    def integration_services(self) -> bool:
        """Whether the guest's integration services answer (an OS is installed, it runs and has booted)."""
        return self.guest is not None and self.state == "Running" and self.guest.online(self.clock())

    def dispose(self) -> None:
        """The VM is being removed: release its guest's agent (process and sandbox)."""
        if self.guest is not None:
            self.guest.dispose()

    # -- guest -----------------------------------------------------------------------------------------------

    def _lease(self, switch_name: str) -> str:
        switch = self.host.switch(switch_name)
        return switch.lease() if switch is not None else LINK_LOCAL_FALLBACK

    def guest_behaviour_in_effect(self) -> GuestBehaviour | None:
        """The VM's own guest behaviour, else its host's, else the lab's (None: the factory's default)."""
        for behaviour in (self.guest_behaviour, self.host.guest_behaviour, self.host.backend.guest_behaviour):
            if behaviour is not None:
                return behaviour
        return None

    def _boot(self, at: float | None = None) -> None:
        guest = self.guest
        if guest is None:
            return
        for nic in self.nics:
            if nic.switch is None:
                nic.addresses = []
            elif not nic.addresses:
                link_local = f"fe80::215:5dff:fe{self.boot_count:02x}:{len(self.nics):04x}"
                nic.addresses = [self._lease(nic.switch), link_local]
        iso = self.provisioning_iso()
        behaviour = self.guest_behaviour_in_effect()
        guest.boot(
            self.nics,
            now=self.clock() if at is None else at,  # when the agent starts counting its boot delay
            boot_delay=behaviour.boot_delay if behaviour is not None else 0.0,
            iso_version=None if iso is None else iso.iso_version or "",
            start_agent=lambda iso_version: self._start_agent(guest, iso_version, behaviour),
        )

    def _start_agent(self, guest: FakeGuestOS, iso_version: str, behaviour: GuestBehaviour | None) -> GuestAgent | None:
        return self.host.backend.guest_factory(guest.os_family, iso_version, behaviour, self.clock)

    def provisioning_iso(self) -> FakeFile | None:
        """The provisioning ISO in one of the VM's DVD drives, if any."""
        for dvd in self.dvds:
            if dvd.path and names_provisioning_media(dvd.path):
                file = self.host.fs.get(dvd.path)
                if file is not None:
                    return file
        return None

    def tick_guest(self) -> None:
        """Let the guest agent run once (the host reads or writes KVP items, or the background ticker fires).

        A VM with no transition to come and no agent with work to do has nothing to advance: it returns at once,
        so the ticker's pass over a lab of many quiet VMs stays cheap.
        """
        guest = self.guest
        if not self._timeline and (guest is None or not guest.has_work):
            return
        running = self.state == "Running"  # first: entering Running is what boots the agent
        if not running or guest is None or not guest.online(self.clock()):
            return
        if guest.tick(self.host_items, self.dvds, self.nics):
            self._guest_reboot()

    def _guest_reboot(self) -> None:
        """The guest OS restarts itself: the VM stays Running.

        Hyper-V's state follows the virtual machine, not the OS in it; the integration services are gone while the
        OS reboots, and the uptime starts again.
        """
        guest = self.guest
        if guest is not None:
            guest.power_off()
        self._running_since = self.clock()
        self.boot_count += 1
        self._boot(at=self.clock() + 2 * self.times.reboot)

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
        return guest.intrinsic_items(self.nics)

    # -- projection -------------------------------------------------------------------------------------------

    def boot_disk(self) -> FakeDiskDrive | None:
        """The disk the VM boots from, by the rule ``Get-AetherVmRecords`` applies.

        A VM's only disk. With more, generation 2: the firmware's first boot device when it is one of the disks,
        else the disk at SCSI 0:0 (the script takes the first hard disk of the whole boot order; the model keeps only
        the first device). Generation 1: the disk at IDE 0:0 (the BIOS boots from IDE).
        """
        if len(self.disks) == 1:
            return self.disks[0]
        if self.generation >= 2:
            first = next((drive for drive in self.disks if drive.id == self.first_boot_device), None)
            if first is not None:
                return first
            wanted = ("SCSI", 0, 0)
        else:
            wanted = ("IDE", 0, 0)
        return next(
            (d for d in self.disks if (d.controller_type, d.controller_number, d.controller_location) == wanted), None
        )

    @property
    def clustered(self) -> bool:
        """Whether a cluster holds a role for this VM."""
        cluster = self.host.cluster
        return cluster is not None and self.id in cluster.roles

    def nic_addresses(self, nic: FakeNic) -> list[str]:
        """What ``Msvm_GuestNetworkAdapterConfiguration`` reports for ``nic`` (nothing unless the guest runs)."""
        return list(nic.addresses) if self.integration_services else []
