"""The host service: the configured hosts as the inventory knows them, their libraries (images, networks), the probe.

Library reads go to the host over WinRM; a host that cannot be reached is a ``HostUnavailable`` (503 while retrying
may help, 502 when it will not), never a raw WinRM error. The probe (:mod:`functions.hyperv.probe`) never fails for
what the host does: its report says which stage failed and why. It is an admin action and audited like a write,
with the stage that failed as the record's detail.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from functions.errors import HostUnavailable, NotFound
from functions.hyperv.client import HyperVClient
from functions.hyperv.connector import HostConnector
from functions.hyperv.errors import HyperVError
from functions.hyperv.models import ImageInfo, SwitchInfo
from functions.hyperv.probe_report import ProbeReport
from functions.inventory.repository import InventoryRepository
from functions.models.inventory import ClusterRecord, HostRecord
from functions.models.paging import Page
from functions.services.audit import AuditTrail, Caller

__all__ = ["HostService"]

T = TypeVar("T")


class HostService:
    """Host reads and the probe (see the module docstring)."""

    def __init__(self, inventory: InventoryRepository, connector: HostConnector, audit: AuditTrail) -> None:
        self.inventory = inventory
        self.connector = connector
        self.audit = audit

    def page(self, *, page_size: int, continuation: str | None) -> Page[HostRecord]:
        """A page of the hosts in the inventory, by name."""
        return self.inventory.page_hosts(page_size=page_size, continuation=continuation)

    def get(self, name: str) -> HostRecord:
        """One host; ``NotFound`` if the inventory does not know it."""
        host = self.inventory.get_host(name)
        if host is None:
            raise NotFound(f"host {name} is not in the inventory")
        return host

    def clusters(self) -> list[ClusterRecord]:
        """Clusters derived from host membership."""
        return self.inventory.clusters()

    def images(self, name: str) -> list[ImageInfo]:
        """The host's golden images (what a create form offers)."""
        return self._ask(name, lambda client: client.list_images())

    def networks(self, name: str) -> list[SwitchInfo]:
        """The host's virtual switches."""
        return self._ask(name, lambda client: client.list_switches())

    def probe(self, name: str, caller: Caller) -> ProbeReport:
        """Probe the configured host ``name`` stage by stage; ``HostNotConfigured`` (404) for any other name."""
        with self.audit.write(caller, "probe_host", {"host": name}, status=200) as record:
            report = self.connector.probe(name)
            record.detail = "ok" if report.ok else f"failed at {report.failed_stage}"
        return report

    def _ask(self, name: str, question: Callable[[HyperVClient], T]) -> T:
        try:
            with self.connector.open(name) as client:
                return question(client)
        except HyperVError as exc:
            raise HostUnavailable(name, type(exc).__name__, transient=exc.transient) from exc
