"""KVP pools and the guest OS: what a VM's installed system reports, and the provisioning agent that runs in it.

A :class:`FakeGuestOS` is the operating system on a VM's OS disk (cloned from a known image; a blank disk has
none). It holds the **guest pool** of KVP items (the host pool lives on the VM), publishes the intrinsic items of
the integration services, and runs an optional provisioning agent — by default the simulated guest of
:mod:`tools.hvsim.guest`; tests may pass any :class:`GuestAgent` through a :data:`GuestFactory`.

The agent advances only when it is ticked: when the host reads or writes KVP items, or when the backend's
background ticker fires. A guest that applies a static address or hostname shows it after the reboot it requests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from tools.hvsim.guest import GuestBehaviour, OsFamily, SimulatedGuest, pooled_key
from tools.hvsim.models.core import Clock
from tools.hvsim.models.dvds import FakeDvdDrive
from tools.hvsim.models.network import FakeNic

__all__ = ["FakeGuestOS", "GuestAgent", "GuestFactory", "default_guest_factory"]

_FINISHED_PHASES = ("applied", "failed", "stopped")


class GuestAgent(Protocol):
    """The provisioning agent inside a guest (:class:`tools.hvsim.guest.SimulatedGuest` or a test stand-in).

    Only :meth:`tick` is required. The guest also reads, when present: ``ejected_cd`` (empty every DVD drive),
    ``reboot_requested`` (cycle the VM, then call ``rebooted()``), ``applied`` (``hostname``, ``domain.domain``,
    ``ipv4.address`` show after that reboot) and ``phase`` (``applied``, ``failed`` or ``stopped``: done).
    """

    def tick(self, host_pool: Mapping[str, str], guest_pool: MutableMapping[str, str]) -> None:
        """Advance: read the host pool, write the guest pool."""
        ...


GuestFactory = Callable[[str, str, Any, Clock], "GuestAgent | None"]
"""``(os_family, iso_version, behaviour, clock) -> agent`` (None: the guest runs no provisioning agent)."""


def default_guest_factory(
    os_family: str, iso_version: str, behaviour: GuestBehaviour | None, clock: Clock
) -> GuestAgent | None:
    """The simulated guest of :mod:`tools.hvsim.guest`, with a pooled RSA key so that big labs stay fast."""
    if os_family not in ("windows", "linux"):
        raise ValueError(f"os_family must be 'windows' or 'linux', got {os_family!r}")
    family: OsFamily = "windows" if os_family == "windows" else "linux"
    return SimulatedGuest(family, iso_version, behaviour=behaviour, clock=clock, key=pooled_key())


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

    def boot(
        self,
        nics: list[FakeNic],
        *,
        iso_version: str | None,
        start_agent: Callable[[str], GuestAgent | None],
    ) -> None:
        """The OS came up: finish the reboot the agent asked for, or start an agent from the provisioning ISO.

        ``iso_version`` is the version the provisioning ISO in a DVD drive carries (None: no such ISO);
        ``start_agent(iso_version)`` builds the agent. After a requested reboot the new identity shows.
        """
        agent = self.agent
        if agent is not None and self.reboot_pending:
            # The reboot the agent asked for is done: phase two ran, the new identity shows.
            self.reboot_pending = False
            rebooted = getattr(agent, "rebooted", None)
            if callable(rebooted):
                rebooted()
            self._apply(getattr(agent, "applied", None), nics)
            self.agent_done = True
            return
        if not self.agent_done and iso_version is not None:
            self.agent = start_agent(iso_version)

    def tick(self, host_pool: Mapping[str, str], dvds: list[FakeDvdDrive]) -> bool:
        """Let the agent run once; True when it asks for a reboot (the VM then resets)."""
        agent = self.agent
        if agent is None or self.reboot_pending:
            return False
        agent.tick(host_pool, self.guest_pool)
        if getattr(agent, "ejected_cd", False):
            for dvd in dvds:
                dvd.path = None
        if getattr(agent, "reboot_requested", False):
            self.reboot_pending = True
            return True
        if str(getattr(agent, "phase", "")) in _FINISHED_PHASES:
            self.agent_done = True
        return False

    def intrinsic_items(self, nics: list[FakeNic]) -> dict[str, str]:
        """Items the integration services publish (the caller checks that the guest runs)."""
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

    def _apply(self, applied: Any, nics: list[FakeNic]) -> None:
        """Show what the agent's modules configured: hostname (with the joined domain) and static IPv4 address."""
        if applied is None:
            return
        hostname = getattr(applied, "hostname", None)
        if isinstance(hostname, str) and hostname:
            domain = getattr(getattr(applied, "domain", None), "domain", None)
            self.hostname = f"{hostname}.{domain}" if domain else hostname
        address = getattr(getattr(applied, "ipv4", None), "address", None)
        if isinstance(address, str) and address and nics:
            nics[0].addresses = [address, *(item for item in nics[0].addresses if ":" in item)]
