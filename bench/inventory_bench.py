"""Inventory sync at scale, through the devhost against the simulated lab, 50 ms added per WinRM round trip.

Two labs, one after the other, each with its own Azurite, devhost and figures measured in the same run:

- the target lab, 200 hosts x 100 VMs: (a) the full-sync wall time of a no-change resync through the API, (b) the
  slowest single host's sync as the sync reports it, (c) their ratio (target <= 1.5), (d) a sequential baseline (5
  hosts synced one after another in this process, scaled to every host) and the speed-up over it, and (e) Table
  requests of the first sync and of the resync: inventory writes per host (first sync ceil(VMs/100) + 1, resync
  at most 1);
- a 500-host report (100 VMs each) with the same figures.

Table requests are counted from Azurite's request log. ``python -m bench.inventory_bench --help`` sizes the labs.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.azurite import ROOT, start_azurite
from tools.hvsim.lab import Lab
from tools.stack import Stack, running_stack

HOSTS, VMS, LATENCY_MS = 200, 100, 50
LARGE_HOSTS, LARGE_VMS = 500, 100
BASELINE_HOSTS = 5
RATIO_TARGET = 1.5
_REQUEST = re.compile(
    r"^\S+ (\S+) info: \S+ RequestMethod=(\w+) RequestURL=\S+/devstoreaccount1/([$\w]+)", re.MULTILINE
)
_BATCH_BODY = re.compile(r"^\S+ (\S+) debug: TableHandler:batch\(\) Raw request string is (.*)$", re.MULTILINE)
_BATCH_TABLE = re.compile(r"/devstoreaccount1/(\w+)\(")


def table_requests(log: Path, offset: int, prefix: str) -> tuple[int, int, int]:
    """(all, inventory writes, new offset): requests to the app's tables since ``offset`` in Azurite's log.

    Inventory writes are writes to the hosts and VMs tables, entity group transactions included (their tables are
    read from the batch's body in the log); job-record and job-log writes of the refresh job are counted in "all"
    only.
    """
    with log.open("rb") as handle:
        handle.seek(offset)
        text = handle.read().decode(errors="replace")
        end = handle.tell()
    batches = {request: set(_BATCH_TABLE.findall(body)) for request, body in _BATCH_BODY.findall(text)}
    total = writes = 0
    for request, method, table in _REQUEST.findall(text):
        tables = batches.get(request, set()) if table.startswith("$batch") else {table}
        own = [name.lower().removeprefix(prefix.lower()) for name in tables if name.lower().startswith(prefix.lower())]
        if not own:
            continue
        total += 1
        inventory = any(name.startswith(("hosts", "vms", "vmindex")) for name in own)
        writes += method != "GET" and inventory
    return total, writes, end


def settled(log: Path, quiet: float = 0.5, limit: float = 15.0) -> None:
    """Wait until Azurite has written its request log (its size unchanged for ``quiet`` s, at most ``limit`` s)."""
    deadline = time.monotonic() + limit
    size = -1
    while time.monotonic() < deadline:
        current = log.stat().st_size if log.exists() else 0
        if current == size:
            return
        size = current
        time.sleep(quiet)


def wait_job(stack: Stack, job_id: str) -> dict[str, Any]:
    while True:
        status, _, body = stack.request("GET", f"/api/v1/jobs/{job_id}")
        if status != 202:
            job: dict[str, Any] = body.get("job", body)
            return job
        time.sleep(0.05)


@dataclass
class Figures:
    """What one lab's run measured."""

    hosts: int
    vms: int
    hosts_per_activity: int
    first_wall: float
    first_ok: int
    first_total: int
    first_writes: int
    resync_wall: float
    resync_ok: int
    slowest: float
    re_total: int
    re_writes: int
    entities_written: int
    per_host: float


def run(hosts: int, vms: int) -> Figures:
    """Start a lab of ``hosts`` x ``vms``, let the start-up sync fill the tables, then measure a no-change resync."""
    work = Path(tempfile.mkdtemp(prefix="inventory-bench-"))
    log = work / "azurite.log"
    with (
        start_azurite(debug_log=log) as azurite,
        Lab.start(hosts=hosts, vms_per_host=vms, latency_ms=LATENCY_MS) as lab,
    ):
        offset = log.stat().st_size if log.exists() else 0
        started = time.monotonic()
        settings = {
            "AETHERV_INVENTORY_SCHEDULE": "0 0 0 1 1 *",
            "AETHERV_WINRM_CONNECT_TIMEOUT": "10",
            "AETHERV_WINRM_OPERATION_TIMEOUT": "20",
            "AETHERV_WINRM_READ_TIMEOUT": "30",
        }
        with running_stack(azurite, work, lab, **settings) as stack:  # start-up runs the first full sync
            prefix = stack.env["AETHERV_TABLE_PREFIX"]
            env = stack.env
            first = stack.wait("refresh-inventory-all-1", timeout=900)
            first_wall = time.monotonic() - started
            settled(log)
            first_total, first_writes, offset = table_requests(log, offset, prefix)

            began = time.monotonic()
            status, _, job = stack.request("POST", "/api/v1/inventory/refresh")
            assert status == 202, job
            resync = wait_job(stack, job["id"])
            resync_wall = time.monotonic() - began
            settled(log)
            re_total, re_writes, offset = table_requests(log, offset, prefix)
            summary = resync["result"]

        # Sequential baseline, same lab and storage: a few hosts synced (as the sync activity does) one after another.
        from functions.app import Container

        container = Container(env)
        provisioner = container.get_provisioner()
        names = [host.name for host in lab.hosts[:BASELINE_HOSTS]]
        seq_start = time.monotonic()
        for name in names:
            result = provisioner.sync_host(name)
            assert result.ok, result
        per_host = (time.monotonic() - seq_start) / len(names)

    return Figures(
        hosts=hosts,
        vms=vms,
        hosts_per_activity=container.settings().inventory_hosts_per_activity,
        first_wall=first_wall,
        first_ok=int(first["output"]["succeeded"]),
        first_total=first_total,
        first_writes=first_writes,
        resync_wall=resync_wall,
        resync_ok=int(summary["succeeded"]),
        slowest=float(summary["slowest_host_s"]),
        re_total=re_total,
        re_writes=re_writes,
        entities_written=int(summary["entities_written"]),
        per_host=per_host,
    )


def report(f: Figures, *, target: bool) -> None:
    """Print one lab's figures, each next to its baseline."""
    durable = json.loads((ROOT / "host.json").read_text(encoding="utf-8"))["extensions"]["durableTask"]
    activities = math.ceil(f.hosts / f.hosts_per_activity)
    batch_writes = math.ceil(f.vms / 100) + 1
    sequential = f.per_host * f.hosts
    print(f"hosts x VMs: {f.hosts} x {f.vms}, {LATENCY_MS} ms added per WinRM round trip")
    print(
        f"fan-out: {activities} collect activities of <= {f.hosts_per_activity} hosts each "
        f"(AETHERV_INVENTORY_HOSTS_PER_ACTIVITY), at most {durable['maxConcurrentActivityFunctions']} running "
        "(host.json maxConcurrentActivityFunctions)"
    )
    print(f"first sync (timer at start-up): {f.first_wall:.2f} s until completed; {f.first_ok} of {f.hosts} hosts ok")
    print(f"(a) full sync wall time (API refresh, no changes): {f.resync_wall:.2f} s; {f.resync_ok} hosts ok")
    print(f"(b) slowest single host's sync (debts, collect, store, orphan check): {f.slowest:.2f} s")
    goal = f"  (target <= {RATIO_TARGET})" if target else ""
    print(f"(c) ratio a/b: {f.resync_wall / f.slowest:.2f}{goal}")
    print(
        f"(d) sequential baseline: {f.per_host:.2f} s per host x {f.hosts} = {sequential:.1f} s; "
        f"speed-up x{sequential / f.resync_wall:.1f}"
    )
    print(
        f"(e) Table requests, first sync: {f.first_total}; inventory writes {f.first_writes} "
        f"({f.first_writes / f.hosts:.2f}/host, target ceil({f.vms}/100) + 1 = {batch_writes})"
    )
    print(
        f"(e) Table requests, no-change resync: {f.re_total}; inventory writes {f.re_writes} "
        f"({f.re_writes / f.hosts:.2f}/host, target <= 1)"
    )
    print(f"    entities written by the resync: {f.entities_written} for {f.hosts} hosts", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.inventory_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=HOSTS)
    parser.add_argument("--vms", type=int, default=VMS)
    parser.add_argument("--large-hosts", type=int, default=LARGE_HOSTS, help="hosts of the report lab (0: none)")
    parser.add_argument("--large-vms", type=int, default=LARGE_VMS)
    args = parser.parse_args(argv)
    report(run(args.hosts, args.vms), target=True)
    if args.large_hosts:
        print(f"-- report: {args.large_hosts} hosts x {args.large_vms} VMs (no target) --", flush=True)
        report(run(args.large_hosts, args.large_vms), target=False)


if __name__ == "__main__":
    main()
