"""Inventory sync at scale, through the devhost against the simulated lab: 50 hosts x 40 VMs, 50 ms per round trip.

Prints (a) the full-sync wall time, (b) the slowest single host's collect time, (c) their ratio (target <= 3),
(d) a sequential baseline measured in the same run (5 hosts one after another, scaled to 50) and the speed-up, and
(e) Table requests of the first sync and of a no-change resync (target: at most 1 Table write per host).
Table requests are counted from Azurite's request log.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path
from typing import Any

from tools.azurite import start_azurite
from tools.hvsim.lab import Lab
from tools.stack import Stack, running_stack

HOSTS, VMS, LATENCY_MS = 50, 40, 50
_REQUEST = re.compile(r"RequestMethod=(\w+) RequestURL=\S+/devstoreaccount1/([$\w]+)")


def table_requests(log: Path, offset: int, prefix: str) -> tuple[int, int, int]:
    """(all, inventory writes, new offset): requests to the app's tables since ``offset`` in Azurite's log.

    Inventory writes are writes to the hosts and VMs tables, and entity group transactions (only the
    inventory uses them); job-record writes of the refresh job are counted in "all" only.
    """
    with log.open("rb") as handle:
        handle.seek(offset)
        text = handle.read().decode(errors="replace")
        end = handle.tell()
    total = writes = 0
    for method, table in _REQUEST.findall(text):
        if not table.lower().startswith(prefix.lower()) and not table.startswith("$batch"):
            continue
        total += 1
        inventory = table.startswith("$batch") or table.lower().removeprefix(prefix.lower()).startswith(
            ("hosts", "vms", "vmindex")
        )
        writes += method != "GET" and inventory
    return total, writes, end


def wait_job(stack: Stack, job_id: str) -> dict[str, Any]:
    while True:
        status, _, body = stack.request("GET", f"/api/v1/jobs/{job_id}")
        if status != 202:
            job: dict[str, Any] = body.get("job", body)
            return job
        time.sleep(0.05)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="inventory-bench-"))
    log = work / "azurite.log"
    with (
        start_azurite(debug_log=log) as azurite,
        Lab.start(hosts=HOSTS, vms_per_host=VMS, latency_ms=LATENCY_MS) as lab,
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
            first = stack.wait("refresh-inventory-all-1", timeout=600)
            first_wall = time.monotonic() - started
            first_total, first_writes, offset = table_requests(log, offset, prefix)

            began = time.monotonic()
            status, _, job = stack.request("POST", "/api/v1/inventory/refresh")
            assert status == 202, job
            resync = wait_job(stack, job["id"])
            resync_wall = time.monotonic() - began
            re_total, re_writes, offset = table_requests(log, offset, prefix)
            summary = resync["result"]
            slowest = float(summary["slowest_host_s"])

        # Sequential baseline, same lab and storage: five hosts collected and stored one after another.
        from functions.app import Container

        host_sync = Container(env).get_host_sync()
        names = [host.name for host in lab.hosts[:5]]
        seq_start = time.monotonic()
        for name in names:
            result = host_sync.collect_and_store(name)
            assert result.ok, result
        per_host = (time.monotonic() - seq_start) / len(names)
        sequential = per_host * HOSTS

    print(f"hosts x VMs: {HOSTS} x {VMS}, {LATENCY_MS} ms added per WinRM round trip")
    print(
        f"first sync (timer at start-up): {first_wall:.2f} s until completed; output {first['output']['succeeded']} ok"
    )
    print(f"(a) full sync wall time (API refresh, no changes): {resync_wall:.2f} s")
    print(f"(b) slowest single host collect+store: {slowest:.2f} s")
    print(f"(c) ratio a/b: {resync_wall / slowest:.2f}  (target <= 3)")
    print(
        f"(d) sequential baseline: {per_host:.2f} s per host x {HOSTS} = {sequential:.1f} s; "
        f"speed-up x{sequential / resync_wall:.1f}"
    )
    print(
        f"(e) Table requests, first sync: {first_total}; "
        f"inventory writes {first_writes} ({first_writes / HOSTS:.1f}/host)"
    )
    print(
        f"(e) Table requests, no-change resync: {re_total}; inventory writes {re_writes} "
        f"({re_writes / HOSTS:.2f}/host, target <= 1)"
    )
    print(f"    entities written by the resync: {summary['entities_written']} for {HOSTS} hosts")


if __name__ == "__main__":
    main()
