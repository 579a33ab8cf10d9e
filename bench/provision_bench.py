"""Provisioning at scale: 20 VMs across 4 simulated hosts (50 ms per WinRM round trip), through the API.

Prints one VM's create time (the baseline, measured in the same run), the wall time of 20 concurrent creates, their
ratio (target <= 3) and parallel efficiency, and the WinRM HTTP round trips per provisioning excluding the guest
monitor polls (from the simulator's counters). The guest agents keep the simulator's timing (5 s polls); the app
polls every 2 s and waits 10 s before signalling the published data (the protocol's default is 30 s).
"""

from __future__ import annotations

import copy
import tempfile
import time
from pathlib import Path
from typing import Any

from tools.azurite import start_azurite
from tools.hvsim.lab import Lab
from tools.stack import Stack, running_stack

HOSTS, VMS, LATENCY_MS = 4, 20, 50
REQUEST: dict[str, Any] = {
    "image": "Ubuntu 24.04 LTS",
    "cpu_cores": 2,
    "memory_gb": 2,
    "disk_gb": 40,
    "network": "External",
    "guest": {"admin_username": "opsadmin", "admin_password": "correct horse battery staple"},
}


def create(stack: Stack, name: str, host: str) -> str:
    body = copy.deepcopy(REQUEST) | {"name": name, "host": host}
    status, _, job = stack.request("POST", "/api/v1/vms", body)
    assert status == 202, job
    return str(job["id"])


def wait_all(stack: Stack, job_ids: list[str]) -> None:
    pending = set(job_ids)
    while pending:
        for job_id in list(pending):
            status, _, body = stack.request("GET", f"/api/v1/jobs/{job_id}")
            if status == 200:
                pending.discard(job_id)
            elif status != 202:
                raise AssertionError(body)
        time.sleep(0.2)


def counters(lab: Lab) -> tuple[int, int]:
    """(HTTP round trips, monitor-poll operations) over every host.

    Monitor polls are ``read_guest_kvp`` (guest polls; every create also reads the guest pool once outside them,
    before publishing; its start step reads it in ``start_and_announce``) and ``operation_status`` (the disk copy's
    polls).
    """
    trips = polls = 0
    for host in lab.hosts:
        snapshot = host.server.counters.snapshot()
        trips += int(snapshot["http_round_trips"])
        polls += int(snapshot["operations"].get("read_guest_kvp", 0))
        polls += int(snapshot["operations"].get("operation_status", 0))
    return trips, polls


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="provision-bench-"))
    with (
        start_azurite() as azurite,
        Lab.start(hosts=HOSTS, vms_per_host=2, latency_ms=LATENCY_MS) as lab,
        running_stack(
            azurite,
            work,
            lab,
            AETHERV_INVENTORY_SCHEDULE="0 0 0 1 1 *",
            AETHERV_GUEST_POLL_INTERVAL="2",
            AETHERV_GUEST_PUBLISH_DELAY="10",
            AETHERV_GUEST_KEY_TIMEOUT="300",
            AETHERV_GUEST_APPLY_TIMEOUT="300",
        ) as stack,
    ):
        stack.wait("refresh-inventory-all-1", timeout=300)
        names = [host.name for host in lab.hosts]

        started = time.monotonic()
        wait_all(stack, [create(stack, "solo01", names[0])])
        single = time.monotonic() - started

        trips_before, reads_before = counters(lab)
        started = time.monotonic()
        jobs = [create(stack, f"bulk{i:02}", names[i % HOSTS]) for i in range(VMS)]
        wait_all(stack, jobs)
        bulk = time.monotonic() - started
        trips_after, reads_after = counters(lab)

        # Round trips of one monitor poll (one vm_guest_status activity): a worker's first on the host pays the NTLM
        # handshake and the shell; every later one reuses that session.
        vm = next(v for v in stack.repo.iter_vms(host=names[0]) if v.name == "solo01")
        from functions.app import Container
        from functions.provisioning.guest_payloads import GuestCheck

        provisioner = Container(stack.env).get_provisioner()
        check = GuestCheck(job_id="bench", host=names[0], vm_id=vm.id)
        before, _ = counters(lab)
        provisioner.guest_status(check)
        first_poll = counters(lab)[0] - before
        before, _ = counters(lab)
        provisioner.guest_status(check)
        per_poll = counters(lab)[0] - before

    # Baseline in the same run: one VM's create steps with a new session per activity and a command per operation.
    from bench.hyperv_bench import create_steps

    with Lab.start(hosts=1, vms_per_host=2, ticker_interval=None) as baseline_lab:
        baseline_per_vm, baseline_poll, _ = create_steps(baseline_lab, reuse=False)
    trips = trips_after - trips_before
    polls = (reads_after - reads_before) - VMS  # the read outside the polls (see counters)
    per_vm = (trips - polls * per_poll) / VMS
    print(f"{VMS} VMs over {HOSTS} hosts, {LATENCY_MS} ms added per WinRM round trip")
    print(f"one VM alone: {single:.1f} s")
    print(f"{VMS} concurrent creates: {bulk:.1f} s")
    print(f"ratio: {bulk / single:.2f} x one VM's time (target <= 3); parallel efficiency {VMS * single / bulk:.1f}x")
    print(f"WinRM round trips: {trips} in all, {polls} monitor polls x {per_poll}; {per_vm:.0f} per VM without polls")
    print(
        f"  ratio per VM / baseline ({baseline_per_vm}: a session per activity, a command per operation): "
        f"{per_vm / baseline_per_vm:.2f}; target <= 40 per VM"
    )
    print(
        f"one monitor poll: {per_poll} round trips, ratio {per_poll / baseline_poll:.2f} to the baseline's "
        f"{baseline_poll} (target <= 4); a worker's first on a host {first_poll}"
    )


if __name__ == "__main__":
    main()
