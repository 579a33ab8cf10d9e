"""API inventory reads against a raw ``TableClient``: 100 hosts x 100 VMs, paged at ``limit=500``, Azurite + devhost.

The inventory is the simulated lab's (``tools.hvsim.seed``, the records its ``collect_inventory`` returns, parsed by
the app's ``HostInventory``) stored through the app's own write path (``functions.inventory.sync.vm_record`` and
``InventoryRepository.apply_snapshot``, one first sync per host); a few hosts are then marked unreachable so some
VMs read as stale. No WinRM servers run: the devhost has no hosts configured, its start-up sync (which prunes
unconfigured hosts) finishes before the seeding, and the schedule does not fire again during the run.

Figures, each a median of alternating repetitions in the same run and process, next to its baseline (the ratios are
the median of each repetition's API ÷ raw pair, see :func:`measure`):

- ``GET /api/v1/vms?limit=500`` following ``continuation`` through all 10,000 VMs over HTTP (auth off), versus a raw
  ``azure.data.tables.TableClient`` paging the same table with the same filter and page size straight from Azurite;
  the ratio API / raw (target <= 1.3);
- the same for one host's 100 VMs (``?host=hv42``) against the raw query of that host's partition (target <= 1.3).

The raw baseline reads whole entities, as a client that knows nothing of the app would; the same raw paging with the
columns the app selects (``VM_COLUMNS``) is printed beside it for reference. The machine's load average is printed
too: the API path crosses three processes (this one, the devhost, Azurite) and the raw one two, so CPU taken by
other work on the machine weighs more on the API's figure.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from azure.data.tables import TableClient, TableServiceClient

from functions.hyperv.models import HostInventory
from functions.inventory.repository import InventoryRepository
from functions.inventory.sync import host_record, vm_record
from functions.inventory.vm_entity import VM_COLUMNS
from tools.azurite import start_azurite
from tools.hvsim.models import Backend
from tools.hvsim.operations.inventory import collect_inventory
from tools.hvsim.seed import seed_lab
from tools.stack import running_stack

HOSTS, VMS, PAGE = 100, 100, 500
HOST = "hv42"
DISCONNECTED = ("hv07", "hv63", "hv88")
ALL_REPS, HOST_REPS = 9, 41
TARGET = 1.3
QUIET = {"AETHERV_INVENTORY_SCHEDULE": "0 0 0 1 1 *"}  # the start-up sync only (before the seeding)


class Client:
    """A keep-alive HTTP client of the devhost that reads a listing page by page."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=120)

    def get(self, path: str) -> Any:
        self.connection.request("GET", path)
        response = self.connection.getresponse()
        data = response.read()
        assert response.status == 200, (response.status, data[:500])
        return json.loads(data)

    def all_pages(self, query: str) -> list[dict[str, Any]]:
        """Every item of ``GET /api/v1/vms?<query>``, following the continuation token."""
        items: list[dict[str, Any]] = []
        path = f"/api/v1/vms?{query}"
        while True:
            body = self.get(path)
            items += body["items"]
            if not body["continuation"]:
                return items
            path = f"/api/v1/vms?{query}&continuation={quote(body['continuation'], safe='')}"

    def close(self) -> None:
        self.connection.close()


def raw_pages(table: TableClient, query_filter: str, parameters: dict[str, Any], select: list[str] | None) -> list[Any]:
    """Every entity of the query, page by page (``PAGE`` per page), as the SDK returns them."""
    entities: list[Any] = []
    pager = table.query_entities(query_filter, parameters=parameters, results_per_page=PAGE, select=select).by_page()
    for page in pager:
        entities += list(page)
    return entities


def seed(repo: InventoryRepository) -> float:
    """Store the lab's inventory as first syncs (eight hosts at a time); returns the seconds it took."""
    started = time.perf_counter()
    backend = Backend()
    hosts = seed_lab(backend, hosts=HOSTS, vms_per_host=VMS)
    repo.ensure_tables()

    def store(host: Any) -> None:
        inventory = HostInventory.model_validate(collect_inventory(host, {}))
        records = [vm_record(vm) for vm in inventory.vms]
        stats = repo.apply_snapshot(host.name, host_record(inventory.host), records, inventory.collected_at)
        assert stats.skipped is None, stats
        if host.name in DISCONNECTED:
            later = inventory.collected_at + timedelta(minutes=5)
            repo.mark_unreachable(host.name, "HostUnreachable: connection timed out", later)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(store, hosts))
    return time.perf_counter() - started


def timed(action: Callable[[], list[Any]]) -> tuple[float, int]:
    started = time.perf_counter()
    count = len(action())
    return time.perf_counter() - started, count


def measure(reps: int, runs: dict[str, Callable[[], list[Any]]], expected: int) -> dict[str, float]:
    """Median seconds of each run over ``reps`` repetitions, alternating which goes first (after a warm-up).

    Also ``"ratio"``: the median over the repetitions of the API's time ÷ the raw one's in the same repetition. Each
    pair runs back to back, so a change in the machine's load between repetitions weighs on both sides of a ratio
    alike, where the ratio of two medians would take each side from a different moment.
    """
    for action in runs.values():
        action()
    samples: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for rep in range(reps):
        for name in names if rep % 2 == 0 else reversed(names):
            seconds, count = timed(runs[name])
            assert count == expected, (name, count, expected)
            samples[name].append(seconds)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    medians["ratio"] = statistics.median(api / raw for api, raw in zip(samples["api"], samples["raw"], strict=True))
    return medians


def _load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def verdict(ratio: float) -> str:
    return "ok" if ratio <= TARGET else "MISSED"


def report(label: str, pages: int, medians: dict[str, float], reps: int) -> None:
    api, raw, projected, ratio = medians["api"], medians["raw"], medians["raw_select"], medians["ratio"]
    print(
        f"{label}: {pages} page(s), median of {reps}: API {api * 1000:.1f} ms, "
        f"raw TableClient {raw * 1000:.1f} ms -> API / raw {ratio:.2f} (median of the {reps} paired ratios; "
        f"target <= {TARGET}) {verdict(ratio)}"
    )
    print(f"    raw TableClient with the app's columns: {projected * 1000:.1f} ms, API / that {api / projected:.2f}")


def main() -> None:
    logging.getLogger("azure").setLevel(logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="api-read-bench-"))
    bench_started, load = time.perf_counter(), _load()
    with start_azurite() as azurite, running_stack(azurite, work, None, **QUIET) as stack:
        stack.wait("refresh-inventory-all-1", timeout=120)  # the start-up sync: nothing configured, nothing kept
        seconds = seed(stack.repo)
        service = TableServiceClient.from_connection_string(azurite.connection_string)
        table = service.get_table_client(stack.repo.vms_table)
        client = Client(stack.base_url)
        try:
            everything = "PartitionKey ne ''"
            one_host = ("PartitionKey eq @host", {"host": HOST})
            api_items = client.all_pages(f"limit={PAGE}")
            raw_items = raw_pages(table, everything, {}, None)
            assert sorted(v["id"] for v in api_items) == sorted(e["id"] for e in raw_items)
            total = len(raw_items)
            assert total == HOSTS * VMS, total
            all_medians = measure(
                ALL_REPS,
                {
                    "api": lambda: client.all_pages(f"limit={PAGE}"),
                    "raw": lambda: raw_pages(table, everything, {}, None),
                    "raw_select": lambda: raw_pages(table, everything, {}, list(VM_COLUMNS)),
                },
                total,
            )
            host_medians = measure(
                HOST_REPS,
                {
                    "api": lambda: client.all_pages(f"host={HOST}&limit={PAGE}"),
                    "raw": lambda: raw_pages(table, *one_host, None),
                    "raw_select": lambda: raw_pages(table, *one_host, list(VM_COLUMNS)),
                },
                VMS,
            )
        finally:
            client.close()
    print(
        f"inventory: {HOSTS} hosts x {VMS} VMs = {total} VMs ({len(DISCONNECTED)} hosts disconnected), "
        f"seeded in {seconds:.1f} s through InventoryRepository.apply_snapshot"
    )
    report(f"GET /api/v1/vms?limit={PAGE}, all {total} VMs", -(-total // PAGE), all_medians, ALL_REPS)
    report(f"GET /api/v1/vms?host={HOST}&limit={PAGE}, {VMS} VMs", 1, host_medians, HOST_REPS)
    wall = time.perf_counter() - bench_started
    print(f"bench wall time {wall:.0f} s; load average {load} at the start, {_load()} at the end")


if __name__ == "__main__":
    main()
