"""KVP pools and the guest OS: what a VM's installed system reports, and the provisioning agent that runs in it.

A :class:`FakeGuestOS` is the operating system on a VM's OS disk (cloned from a known image; a blank disk has
none). It holds the **guest pool** of KVP items (the host pool lives on the VM), publishes the intrinsic items of
the integration services, and runs an optional provisioning agent built by a :data:`GuestFactory`. The default
factory runs the project's real Linux agent (:class:`~tools.hvsim.guest.LinuxAgentGuest`) for Linux guests and
the simulated guest of :mod:`tools.hvsim.guest` otherwise (see :func:`default_guest_factory`).

Timing as on a real host: when the VM reaches Running the guest only starts booting; its integration services
(the KVP daemon: guest pool, intrinsic items, addresses) answer ``boot_delay`` seconds later (:attr:`online_at`),
and the agent starts then too. Items the disk's guest pool holds (an earlier run, a golden image) appear only
then. The agent advances only when it is ticked: when the host reads or writes KVP items, or when the backend's
background ticker fires. A static address the agent applies is reported at once (the daemon reads addresses
live); a new host name and a joined domain show after the reboot the agent requests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from tools.hvsim.guest import GuestBehaviour, LinuxAgentGuest, OsFamily, SimulatedGuest, pooled_key
from tools.hvsim.models.core import Clock
from tools.hvsim.models.dvds import FakeDvdDrive
from tools.hvsim.models.network import FakeNic

__all__ = ["FakeGuestOS", "GuestAgent", "GuestFactory", "default_guest_factory"]

_FINISHED_PHASES = ("applied", "failed", "stopped")


class GuestAgent(Protocol):
    """The provisioning agent inside a guest: a simulated guest, the real Linux agent, or a test stand-in.

    Only :meth:`tick` is required. The guest also uses, when present: ``boot_delay`` (seconds until the guest's
    KVP daemon runs), ``configure_os(os_name)`` (called once, before the first tick), ``ejected_cd`` (empty every
    DVD drive), ``reboot_requested`` (cycle the VM, then call ``rebooted()``), ``applied`` (``ipv4.address`` is
    reported at once; ``hostname`` and ``domain.domain`` after that reboot), ``phase`` (``applied``, ``failed`` or
    ``stopped``: done), ``stop()`` (the VM lost power), ``freeze()``/``thaw()`` (paused/resumed), ``close()``
    (the VM is gone) and ``describe()`` (the control plane's view).
    """

    def tick(self, host_pool: Mapping[str, str], guest_pool: MutableMapping[str, str]) -> None:
        """Advance: read the host pool, write the guest pool."""
        ...


GuestFactory = Callable[[str, str, Any, Clock], "GuestAgent | None"]
"""``(os_family, iso_version, behaviour, clock) -> agent`` (None: the guest runs no provisioning agent)."""


def default_guest_factory(
    os_family: str, iso_version: str, behaviour: GuestBehaviour | None, clock: Clock
) -> GuestAgent | None:
    """The guest's agent: the real Linux agent process, or the simulated guest (with a pooled RSA key).

    A Linux guest runs ``agents/linux/aetherv-guest-agent`` when ``behaviour`` (default :class:`GuestBehaviour`)
    says so (:attr:`GuestBehaviour.runs_real_linux_agent`); the agent runs in real time, so use it with a real
    clock. Everything else gets a :class:`SimulatedGuest` playing the chosen agent generation.
    """
    if os_family not in ("windows", "linux"):
        raise ValueError(f"os_family must be 'windows' or 'linux', got {os_family!r}")
    family: OsFamily = "windows" if os_family == "windows" else "linux"
    chosen = behaviour if behaviour is not None else GuestBehaviour()
    if family == "linux" and chosen.runs_real_linux_agent:
        return LinuxAgentGuest(iso_version, behaviour=chosen, clock=clock)
    return SimulatedGuest(family, iso_version, behaviour=behaviour, clock=clock, key=pooled_key())


def _call(agent: object, method: str, *args: Any) -> Any:
    """Call an optional method of an agent (None when it has none)."""
    function = getattr(agent, method, None)
    return function(*args) if callable(function) else None


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
    online_at: float | None = None
    """When the guest's integration services (KVP daemon) run; None while the VM is not running."""
    applied_address: str | None = None

    def boot(
        self,
        nics: list[FakeNic],
        *,
        now: float,
        boot_delay: float,
        iso_version: str | None,
        start_agent: Callable[[str], GuestAgent | None],
    ) -> None:
        """The VM reached Running and the OS starts booting: finish the agent's reboot, or start an agent.

        ``iso_version`` is the version the provisioning ISO in a DVD drive carries (None: no such ISO);
        ``start_agent(iso_version)`` builds the agent. After a requested reboot the new identity shows. The
        integration services answer ``boot_delay`` seconds from ``now`` (the agent's own delay when it has one).
        """
        agent = self.agent
        if agent is not None and self.reboot_pending:
            # The reboot the agent asked for is done: phase two runs, the new identity shows.
            self.reboot_pending = False
            _call(agent, "rebooted")
            self._apply_identity(getattr(agent, "applied", None))
            self.agent_done = str(getattr(agent, "phase", "")) in _FINISHED_PHASES
        elif not self.agent_done and iso_version is not None:
            if agent is not None:
                _call(agent, "close")  # an unfinished agent of an earlier boot
            agent = self.agent = start_agent(iso_version)
            if agent is not None:
                _call(agent, "configure_os", self.os_name)
        delay = getattr(agent, "boot_delay", None) if agent is not None else None
        self.online_at = now + (delay if isinstance(delay, int | float) else boot_delay)

    def online(self, now: float) -> bool:
        """Whether the integration services answer (the guest has booted; the caller checks the VM runs)."""
        return self.online_at is not None and now >= self.online_at

    def power_off(self) -> None:
        """The VM stopped (or is rebooting): the services stop, the agent process (if any) dies."""
        self.online_at = None
        if self.agent is not None:
            _call(self.agent, "stop")

    def freeze(self) -> None:
        """The VM was paused."""
        if self.agent is not None:
            _call(self.agent, "freeze")

    def thaw(self) -> None:
        """The VM was resumed."""
        if self.agent is not None:
            _call(self.agent, "thaw")

    def dispose(self) -> None:
        """The VM is removed (or the lab stops): release the agent's process and sandbox."""
        if self.agent is not None:
            _call(self.agent, "close")

    @property
    def has_work(self) -> bool:
        """Whether :meth:`tick` would run the agent: there is one, not finished and not waiting for its reboot."""
        return self.agent is not None and not self.reboot_pending and not self.agent_done

    def tick(self, host_pool: Mapping[str, str], dvds: list[FakeDvdDrive], nics: list[FakeNic]) -> bool:
        """Let the agent run once; True when it asks for a reboot (the VM then resets)."""
        agent = self.agent
        if agent is None or not self.has_work:
            return False
        agent.tick(host_pool, self.guest_pool)
        if getattr(agent, "ejected_cd", False):
            for dvd in dvds:
                dvd.path = None
        address = getattr(getattr(getattr(agent, "applied", None), "ipv4", None), "address", None)
        if isinstance(address, str) and address and address != self.applied_address:
            self.applied_address = address
            self._apply_address(address, nics)
        if getattr(agent, "reboot_requested", False):
            self.reboot_pending = True
            return True
        if str(getattr(agent, "phase", "")) in _FINISHED_PHASES:
            self.agent_done = True
        return False

    def intrinsic_items(self, nics: list[FakeNic]) -> dict[str, str]:
        """Items the integration services publish (the caller checks that the guest runs and is online)."""
        ipv4 = [a for nic in nics for a in nic.addresses if ":" not in a]
        ipv6 = [a for nic in nics for a in nic.addresses if ":" in a]
        return {
            "FullyQualifiedDomainName": self.hostname,
            "OSName": self.os_name,
            "OSVersion": self.os_version,
            "NetworkAddressIPv4": ";".join(ipv4),
            "NetworkAddressIPv6": ";".join(ipv6),
            "IntegrationServicesVersion": "10.0.20348.1" if self.os_family == "windows" else "3.1",
        }

    def _apply_identity(self, applied: Any) -> None:
        """After the reboot: the host name (with the joined domain) the agent configured."""
        hostname = getattr(applied, "hostname", None)
        if isinstance(hostname, str) and hostname:
            domain = getattr(getattr(applied, "domain", None), "domain", None)
            self.hostname = f"{hostname}.{domain}" if domain else hostname

    @staticmethod
    def _apply_address(address: str, nics: list[FakeNic]) -> None:
        """The static IPv4 address replaces the DHCP lease on the first adapter (IPv6 link-local stays)."""
        if nics:
            nics[0].addresses = [address, *(item for item in nics[0].addresses if ":" in item)]
