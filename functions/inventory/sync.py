"""Inventory sync of one host: collect it over WinRM and store it; prune hosts that are no longer configured.

:meth:`HostSync.collect_and_store` is the body of the per-host sync activity and of the refresh after a workflow
step. It never raises for problems of that host: a host that cannot be collected is marked disconnected (its VMs
stay, read as stale), a storage failure is reported in the summary, so one host never fails the others.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

from functions.events.catalog import OutgoingEvent, host_event, vm_state_event
from functions.hyperv.connector import HostConnector
from functions.hyperv.errors import HyperVError
from functions.hyperv.models import HostFacts, HostInventory, VmInfo, os_family_from_os_name
from functions.inventory.repository import InventoryRepository, WriteStats
from functions.jobs.debts import CleanupDebts
from functions.models.inventory import HostSyncSummary, device_id
from functions.models.json import JsonObject

__all__ = ["HostSync", "MarkedVm", "host_record", "owning_job", "vm_record"]

log = logging.getLogger(__name__)
T = TypeVar("T")


STORE_ATTEMPTS = 3
STORE_BACKOFF = 1.0


def _transient_status(status: int | None) -> bool:
    return status is None or status >= 500 or status == 429


_OWNER = re.compile(r"^aetherv-job: (\S+)\s*$", re.MULTILINE)


def owning_job(notes: str) -> str | None:
    """The job whose ownership mark a VM's notes carry (``aetherv-job: <id>``), or ``None``."""
    match = _OWNER.search(notes)
    return match.group(1) if match else None


# Hosts report a handful of distinct OS names; the family of each is worked out once per process.
_os_family = functools.lru_cache(maxsize=1024)(os_family_from_os_name)


@dataclass(frozen=True)
class MarkedVm:
    """A collected VM that carries a job's ownership mark (``aetherv-job: <id>`` in its notes)."""

    vm_id: str
    name: str
    job_id: str


def vm_record(vm: VmInfo, orphan_jobs: Collection[str] = ()) -> JsonObject:
    """The stored record of a VM: the collected fields plus the API's names (``cpu_cores``, ``os_family``).

    Each disk and adapter keeps Hyper-V's id as ``hyperv_id`` and gets the API's (:func:`device_id`) as ``id``; a
    disk's ``capacity_gb`` is also its ``size_gb``.

    A VM made by a job whose compensation is still pending (``orphan_jobs``) is marked ``orphaned_by_job``.
    """
    record = vm.model_dump(mode="json")
    for device in (*record["disks"], *record["networks"]):
        device["hyperv_id"] = device["id"]
        device["id"] = device_id(device["id"])
    for disk in record["disks"]:
        disk["size_gb"] = disk["capacity_gb"]
    record["cpu_cores"] = vm.processor_count
    record["os_family"] = _os_family(vm.os_name)
    owner = owning_job(vm.notes)
    if owner is not None and owner in orphan_jobs:
        record["orphaned_by_job"] = owner
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
        debts: CleanupDebts | None = None,
        collect: Callable[[str], HostInventory] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        emit: Callable[[list[OutgoingEvent]], object] | None = None,
    ) -> None:
        self.connector = connector
        self._emit = emit
        self.repository = repository
        self.debts = debts
        self._collect = collect or self._collect_over_winrm
        self._clock = clock
        self._sleep = sleep
        self._marked: dict[str, tuple[MarkedVm, ...]] = {}

    def marked_vms(self, host: str) -> tuple[MarkedVm, ...]:
        """The VMs with a job's mark that this process's last stored collection of ``host`` found."""
        return self._marked.get(host.lower(), ())

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
                marked = self.repository.mark_unreachable(host, message, self._clock())
            except Exception:
                log.exception("inventory: could not record that %s is unreachable", host)
            else:
                if marked.disconnected_since is not None:
                    at = self._clock()
                    self._announce(
                        [host_event(host, connected=False, since=marked.disconnected_since, at=at, error=message)]
                    )
            return HostSyncSummary(host=host, ok=False, error=message, duration_s=time.monotonic() - started)
        try:
            stats = self._store(host, inventory)
        except Exception as exc:
            log.exception("inventory: storing %s failed", host)
            with contextlib.suppress(Exception):  # storage may be what failed: best effort
                self.repository.mark_store_failed(host, f"storage: {type(exc).__name__}", self._clock())
            return HostSyncSummary(
                host=host,
                ok=False,
                vms=len(inventory.vms),
                error=f"storage: {type(exc).__name__}",
                duration_s=time.monotonic() - started,
            )
        self._announce(self._changes(host, stats, inventory.collected_at))
        self._marked[host.lower()] = tuple(
            MarkedVm(vm.id, vm.name, owner) for vm in inventory.vms if (owner := owning_job(vm.notes)) is not None
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

    @staticmethod
    def _changes(host: str, stats: WriteStats, at: datetime) -> list[OutgoingEvent]:
        """The events a stored snapshot stands for: the host back, VMs in a new state."""
        events = [vm_state_event(host, record, previous, at) for record, previous in stats.state_changes]
        if stats.reconnected_since is not None:
            events.insert(0, host_event(host, connected=True, since=stats.reconnected_since, at=at))
        return events

    def _announce(self, events: list[OutgoingEvent]) -> None:
        """Emit ``events``, a storage outage retried as the snapshot's is.

        A failure that stays is logged, never the host's: its inventory is stored either way (and the next sync sees
        no change to announce, so the event is lost; docs/events.md says so).
        """
        if not events or self._emit is None:
            return
        emit = self._emit
        try:
            self._retrying(f"emitting {len(events)} event(s)", lambda: emit(events))
        except Exception:
            log.exception("inventory: could not emit %d event(s)", len(events))

    def _retrying(self, what: str, write: Callable[[], T]) -> T:
        """``write()``, a transient storage failure retried up to ``STORE_ATTEMPTS`` times with a growing pause."""
        for attempt in range(1, STORE_ATTEMPTS + 1):
            try:
                return write()
            except (ServiceRequestError, ServiceResponseError, HttpResponseError) as exc:
                transient = not isinstance(exc, HttpResponseError) or _transient_status(exc.status_code)
                if not transient or attempt == STORE_ATTEMPTS:
                    raise
                log.warning("inventory: %s failed (%s); retrying", what, type(exc).__name__)
                self._sleep(STORE_BACKOFF * attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _store(self, host: str, inventory: HostInventory) -> WriteStats:
        """Write the snapshot; a storage outage is retried a few times (``STORE_ATTEMPTS``) before it is reported."""

        def write() -> WriteStats:
            orphans = self._orphan_jobs(host, inventory.vms)
            records = [vm_record(vm, orphans) for vm in inventory.vms]
            return self.repository.apply_snapshot(host, host_record(inventory.host), records, inventory.collected_at)

        return self._retrying(f"storing {host}", write)

    def _orphan_jobs(self, host: str, vms: Sequence[VmInfo]) -> set[str]:
        """The jobs with pending cleanup debts on ``host`` that a VM's mark names (none marked: no read)."""
        if self.debts is None or not any(owning_job(vm.notes) for vm in vms):
            return set()
        return {debt.job_id for debt in self.debts.pending(host)}

    def prune(self, configured: Sequence[str]) -> int:
        """Remove hosts that are not in ``configured`` (and their VMs) from the tables; returns rows deleted."""
        return self.repository.prune_hosts(configured).entities_deleted
