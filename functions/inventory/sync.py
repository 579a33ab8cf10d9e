"""Inventory sync service: collect one host over WinRM and store it; prune hosts; summarise a run.

``collect_and_store`` is the body of the per-host activity. It never raises for problems of that host: a host that
cannot be collected is marked disconnected (its VMs stay, read as stale), a storage failure is reported in the
summary, so one host never fails the others. ``summarise`` is pure and runs inside the orchestrator.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from functions.hyperv.errors import HyperVError
from functions.hyperv.factory import open_client, resolve_host
from functions.hyperv.models import HostFacts, HostInventory, VmInfo, os_family_from_os_name
from functions.inventory.repository import InventoryRepository
from functions.settings import get_settings
from functions.storage import table_service

__all__ = [
    "HostSyncSummary",
    "collect_and_store",
    "get_repository",
    "host_record",
    "prune",
    "set_repository",
    "vm_record",
]

log = logging.getLogger(__name__)


class _Holder:
    lock = threading.Lock()
    repository: InventoryRepository | None = None


def get_repository() -> InventoryRepository:
    """The process-wide inventory repository (tables created on first use)."""
    with _Holder.lock:
        if _Holder.repository is None:
            _Holder.repository = InventoryRepository(table_service(), get_settings().storage.table_prefix)
        return _Holder.repository


def set_repository(repository: InventoryRepository | None) -> None:
    """Inject a repository (tests) or clear the cached one."""
    with _Holder.lock:
        _Holder.repository = repository


@dataclass
class HostSyncSummary:
    """What one host's sync did: small enough for orchestration history."""

    host: str
    ok: bool
    vms: int = 0
    written: int = 0
    deleted: int = 0
    duration_s: float = 0.0
    error: str | None = None
    skipped: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The summary as a JSON object."""
        return asdict(self)


def vm_record(vm: VmInfo) -> dict[str, Any]:
    """The inventory record of a VM: the collected fields plus the API's names (``cpu_cores``, ``os_family``)."""
    record = vm.model_dump(mode="json")
    record["cpu_cores"] = vm.processor_count
    record["os_family"] = os_family_from_os_name(vm.os_name)
    return record


def host_record(facts: HostFacts) -> dict[str, Any]:
    """The host facts as stored (``cluster`` is lifted out by the repository)."""
    record = facts.model_dump(mode="json")
    record["cluster"] = record.pop("cluster_name", None)
    return record


def collect_and_store(
    host_name: str,
    *,
    repository: InventoryRepository | None = None,
    collect: Callable[[str], HostInventory] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> HostSyncSummary:
    """Collect ``host_name`` and write its inventory; never raises for that host's own failures."""
    repo = repository or get_repository()
    started = time.monotonic()
    configured = {host.name.lower() for host in get_settings().hosts}
    if host_name.lower() not in configured:
        return HostSyncSummary(host=host_name, ok=False, error="not a configured host")
    try:
        inventory = (collect or _collect)(host_name)
    except HyperVError as exc:
        message = f"{type(exc).__name__}: {exc}"
        log.warning("inventory: %s is unreachable: %s", host_name, message)
        try:
            repo.mark_unreachable(host_name, message, clock())
        except Exception:
            log.exception("inventory: could not record that %s is unreachable", host_name)
        return HostSyncSummary(host=host_name, ok=False, error=message, duration_s=time.monotonic() - started)
    try:
        stats = repo.apply_snapshot(
            host_name,
            host_record(inventory.host),
            [vm_record(vm) for vm in inventory.vms],
            inventory.collected_at,
        )
    except Exception as exc:
        log.exception("inventory: storing %s failed", host_name)
        return HostSyncSummary(
            host=host_name,
            ok=False,
            vms=len(inventory.vms),
            error=f"storage: {type(exc).__name__}",
            duration_s=time.monotonic() - started,
        )
    return HostSyncSummary(
        host=host_name,
        ok=True,
        vms=len(inventory.vms),
        written=stats.entities_written,
        deleted=stats.entities_deleted,
        skipped=stats.skipped,
        duration_s=round(time.monotonic() - started, 3),
    )


def _collect(host_name: str) -> HostInventory:
    settings = get_settings()
    with open_client(resolve_host(host_name, settings.hosts), addresses=settings.host_addresses) as client:
        return client.collect_inventory()


def prune(configured: Sequence[str]) -> dict[str, Any]:
    """Remove unconfigured hosts from the tables; returns counts."""
    stats = get_repository().prune_hosts(configured)
    return {"deleted": stats.entities_deleted}
