"""Switches and NICs: virtual switches (with the simulated DHCP that leases guest addresses) and network adapters.

A guest's addresses come from a per-switch counter ("DHCP") plus a link-local IPv6 address; an adapter reports
them only while its guest runs (the VM decides that, see :attr:`tools.hvsim.models.vms.FakeVm.integration_services`).
Switch ids are generated GUIDs; NIC ids and MACs are deterministic for a seeded lab (the host allocates them).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

__all__ = ["LINK_LOCAL_FALLBACK", "FakeNic", "FakeSwitch"]

LINK_LOCAL_FALLBACK = "169.254.10.10"
"""The APIPA address a guest shows when its adapter's switch no longer exists (no DHCP answers)."""


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
