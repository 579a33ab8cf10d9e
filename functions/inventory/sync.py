"""Inventory sync of one host: collect it over WinRM and store it; prune hosts that are no longer configured.

:meth:`HostSync.collect_and_store` is the body of the per-host sync activity and of the refresh after a workflow
step. It never raises for problems of that host: a host that cannot be collected is marked disconnected (its VMs
stay, read as stale), a storage failure is reported in the summary, so one host never fails the others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from functions.hyperv.connector import HostConnector
from functions.hyperv.errors import HyperVError
from functions.hyperv.models import HostFacts, HostInventory, VmInfo, os_family_from_os_name
from functions.inventory.repository import InventoryRepository
from functions.models.inventory import HostSyncSummary
from functions.models.json import JsonObject

__all__ = ["HostSync", "host_record", "vm_record"]

log = logging.getLogger(__name__)


def vm_record(vm: VmInfo) -> JsonObject:
    """The stored record of a VM: the collected fields plus the API's names (``cpu_cores``, ``os_family``)."""
    record = vm.model_dump(mode="json")
    record["cpu_cores"] = vm.processor_count
    record["os_family"] = os_family_from_os_name(vm.os_name)
    return record


def host_record(facts: HostFacts) -> JsonObject:
    """The host facts as stored (``cluster`` is lifted out by the repository)."""
    record = facts.model_dump(mode="json")
    record["cluster"] = record.pop("cluster_name", None)
    return record


class HostSync:
    """Collects hosts through the connector and stores what it found in the repository."""

    def __init__(
        self,
        connector: HostConnector,
        repository: InventoryRepository,
        *,
        collect: Callable[[str], HostInventory] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.connector = connector
        self.repository = repository
        self._collect = collect or self._collect_over_winrm
        self._clock = clock

    def _collect_over_winrm(self, host: str) -> HostInventory:
        with self.connector.open(host) as client:
            return client.collect_inventory()

    def collect_and_store(self, host: str) -> HostSyncSummary:
        """Collect ``host`` and write its inventory; never raises for that host's own failures."""
        started = time.monotonic()
        if not self.connector.is_configured(host):
            return HostSyncSummary(host=host, ok=False, error="not a configured host")
        try:
            inventory = self._collect(host)
        except HyperVError as exc:
            message = f"{type(exc).__name__}: {exc}"
            log.warning("inventory: %s is unreachable: %s", host, message)
            try:
                self.repository.mark_unreachable(host, message, self._clock())
            except Exception:
                log.exception("inventory: could not record that %s is unreachable", host)
            return HostSyncSummary(host=host, ok=False, error=message, duration_s=time.monotonic() - started)
        try:
            stats = self.repository.apply_snapshot(
                host,
                host_record(inventory.host),
                [vm_record(vm) for vm in inventory.vms],
                inventory.collected_at,
            )
        except Exception as exc:
            log.exception("inventory: storing %s failed", host)
            return HostSyncSummary(
                host=host,
                ok=False,
                vms=len(inventory.vms),
                error=f"storage: {type(exc).__name__}",
                duration_s=time.monotonic() - started,
            )
        return HostSyncSummary(
            host=host,
            ok=True,
            vms=len(inventory.vms),
            written=stats.entities_written,
            deleted=stats.entities_deleted,
            skipped=stats.skipped,
            duration_s=round(time.monotonic() - started, 3),
        )

    def prune(self, configured: Sequence[str]) -> int:
        """Remove hosts that are not in ``configured`` (and their VMs) from the tables; returns rows deleted."""
        return self.repository.prune_hosts(configured).entities_deleted
