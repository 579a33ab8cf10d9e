"""Hyper-V operations over WinRM against hvsim: HTTP round trips per operation, and inventory time at latency.

Measured from the simulated hosts' counters through the real client stack (pywinrm, HTTPS, NTLM):

- round trips of each operation on an open client (shell already created), plus the one-off cost of opening one;
- one VM's create steps as the app's activities run them against one host (preflight, background disk copy,
  create, start and announce, publish, signal, finish, refresh; monitor polls counted apart), the way they ran
  before session reuse and batching — every activity a new connection, NTLM handshake and shell, every operation
  its own command — and the way they run now, as a ratio measured in the same run;
- ``collect_inventory`` of a host with 200 VMs when every round trip costs 50 ms more (a WAN or relay hop), cold
  (new connection: NTLM, shell) and warm, against a baseline of one inventory run per VM's worth of round trips
  (what per-VM queries would cost: one ``get_vm`` per VM).

Run: ``python -m bench.hyperv_bench`` (or through ``make bench``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from functions.guest import names
from functions.hyperv.client import HyperVClient
from functions.hyperv.factory import open_client
from functions.hyperv.models import CreateVmSpec, PreflightSpec, PrepareDiskSpec
from functions.hyperv.pool import SessionPool
from tools.hvsim.lab import Lab, LabHost

LATENCY_MS = 50
INVENTORY_VMS = 200


def _trips(host: LabHost) -> int:
    return int(host.server.counters.snapshot()["http_round_trips"])


def round_trips_per_operation() -> tuple[int, dict[str, int]]:
    """(round trips to open a client and run its first operation, {operation: round trips once open})."""
    results: dict[str, int] = {}
    with Lab.start(hosts=3, vms_per_host=5, ticker_interval=None) as lab:
        host = lab.host("hv03")
        settings = lab.winrm_settings()
        with open_client(host.endpoint_setting, settings=settings, addresses=lab.addresses) as hv:
            before = _trips(host)
            inventory = hv.collect_inventory()
            first = _trips(host) - before
            running = next(vm.id for vm in inventory.vms if vm.state == "Running")
            state: dict[str, Any] = {}

            def create() -> None:
                disk = hv.prepare_disk(PrepareDiskSpec(vm_name="bench01", job_id="b", image_name="Debian 12"))
                state["disk"] = disk.path

            steps: list[tuple[str, Callable[[], object]]] = [
                ("collect_inventory", hv.collect_inventory),
                ("get_vm", lambda: hv.get_vm(running)),
                ("list_images", hv.list_images),
                ("list_isos", hv.list_isos),
                ("list_switches", hv.list_switches),
                ("preflight_create", lambda: hv.preflight_create(PreflightSpec(name="bench01", memory_gb=2))),
                ("prepare_disk", create),
                (
                    "create_vm (+ get_vm)",
                    lambda: state.update(
                        vm=hv.create_vm(
                            CreateVmSpec(
                                name="bench01",
                                job_id="b",
                                disk_path=state["disk"],
                                cpu_count=1,
                                memory_gb=2,
                                os_family="linux",
                                switch_name="Lab",
                            )
                        ).id
                    ),
                ),
                ("start_vm", lambda: hv.start_vm(state["vm"])),
                ("write_host_kvp", lambda: hv.write_host_kvp(state["vm"], {"k": "v"}, "hlvmm.")),
                ("read_guest_kvp", lambda: hv.read_guest_kvp(state["vm"])),
                ("eject_iso", lambda: hv.eject_iso(state["vm"])),
                ("restart_vm", lambda: hv.restart_vm(state["vm"])),
                ("shutdown_vm", lambda: hv.shutdown_vm(state["vm"])),
                ("stop_vm", lambda: hv.stop_vm(state["vm"])),
                ("remove_vm", lambda: hv.remove_vm(state["vm"])),
            ]
            for name, step in steps:
                before = _trips(host)
                step()
                results[name] = _trips(host) - before
        with open_client(lab.host("hv01").endpoint_setting, settings=settings, addresses=lab.addresses) as node:
            node.collect_inventory()
            vm_id = next(iter(lab.host("hv01").model.vms))
            node.remove_from_cluster(vm_id)
            calls = {"add_to_cluster": node.add_to_cluster, "remove_from_cluster": node.remove_from_cluster}
            for name, call in calls.items():
                before = _trips(lab.host("hv01"))
                call(vm_id)
                results[name] = _trips(lab.host("hv01")) - before
    return first, results


def create_steps(lab: Lab, *, reuse: bool) -> tuple[int, int, int]:
    """(round trips of one VM's create steps without monitor polls, of one guest poll, disk-copy status polls)."""
    host = lab.hosts[-1]
    settings = lab.winrm_settings()
    pool = SessionPool(idle_seconds=60 if reuse else 0)
    name = f"steps{int(reuse)}"
    job = f"bench-{name}"

    def activity() -> AbstractContextManager[HyperVClient]:
        return open_client(host.endpoint_setting, settings=settings, addresses=lab.addresses, pool=pool)

    with activity() as hv:  # a worker's first activity on the host (not part of one VM's cost once warm)
        hv.list_switches()
    before = _trips(host)
    spec = PrepareDiskSpec(vm_name=name, job_id=job, image_name="Debian 12")
    with activity() as hv:  # preflight
        if reuse:
            hv.preflight_with_library(PreflightSpec(name=name, memory_gb=2))
        else:
            hv.preflight_create(PreflightSpec(name=name, memory_gb=2))
            hv.list_isos()
    with activity() as hv:  # start the disk copy in the background
        operation = hv.start_operation("prepare_disk", f"op-{name}", spec)
    polls = 0
    poll_trips = 0
    while operation.state == "running":
        time.sleep(0.1)
        started = _trips(host)
        with activity() as hv:
            operation = hv.operation_status(operation.id, operation.folder)
        poll_trips += _trips(host) - started
        polls += 1
    disk = str((operation.result or {})["path"])
    create = CreateVmSpec(
        name=name, job_id=job, disk_path=disk, cpu_count=1, memory_gb=2, os_family="linux", switch_name="Lab"
    )
    with activity() as hv:  # create
        vm_id = hv.register_vm(create) if reuse else hv.create_vm(create).id
    announce = {names.HOST_STATE_KEY: names.HostState.WAITING_FOR_PUBLIC_KEY}
    with activity() as hv:  # start and announce
        if reuse:
            keys = {"version_key": names.VERSION_KEY, "guest_state_key": names.GUEST_STATE_KEY}
            hv.start_and_announce(vm_id, announce, remove_prefix=names.PREFIX, **keys)
        else:
            hv.read_guest_kvp(vm_id)
            hv.start_vm(vm_id, if_needed=True)
            hv.read_guest_kvp(vm_id)
            version = hv.list_isos().version or ""
            hv.write_host_kvp(vm_id, {names.VERSION_KEY: version, **announce}, remove_prefix=names.PREFIX)
    with activity() as hv:  # one guest poll (counted apart)
        started = _trips(host)
        hv.read_guest_kvp(vm_id)
    guest_poll = _trips(host) - started
    with activity() as hv:  # publish
        hv.read_guest_kvp(vm_id)
        hv.write_host_kvp(vm_id, {names.CHECKSUM_KEY: "x"}, remove_prefix=names.DATA_PREFIX)
    with activity() as hv:  # signal
        hv.write_host_kvp(vm_id, {names.HOST_STATE_KEY: names.HostState.DATA_PUBLISHED})
    with activity() as hv:  # finish
        if reuse:
            hv.finish_guest(vm_id, names.PREFIX)
        else:
            hv.eject_iso(vm_id)
            hv.write_host_kvp(vm_id, {}, remove_prefix=names.PREFIX)
    with activity() as hv:  # refresh
        hv.collect_inventory()
    steps = _trips(host) - before - poll_trips - guest_poll
    pool.close_all()
    return steps, guest_poll, polls


def inventory_at_latency() -> dict[str, float]:
    """Seconds for ``collect_inventory`` of one 200-VM host at 50 ms per round trip, cold and warm."""
    with Lab.start(hosts=1, vms_per_host=INVENTORY_VMS, latency_ms=LATENCY_MS, ticker_interval=None) as lab:
        host = lab.hosts[0]
        settings = lab.winrm_settings(operation_timeout=20, read_timeout=30)
        started = time.perf_counter()
        with open_client(host.endpoint_setting, settings=settings, addresses=lab.addresses) as hv:
            inventory = hv.collect_inventory()
            cold = time.perf_counter() - started
            cold_trips = _trips(host)
            started = time.perf_counter()
            hv.collect_inventory()
            warm = time.perf_counter() - started
            warm_trips = _trips(host) - cold_trips
            before = _trips(host)
            started = time.perf_counter()
            for vm in inventory.vms[:20]:
                hv.get_vm(vm.id)
            per_vm = (time.perf_counter() - started) / 20
            per_vm_trips = (_trips(host) - before) / 20
        return {
            "vms": float(len(inventory.vms)),
            "cold_s": cold,
            "cold_trips": float(cold_trips),
            "warm_s": warm,
            "warm_trips": float(warm_trips),
            "per_vm_s": per_vm,
            "per_vm_trips": per_vm_trips,
        }


def main() -> None:
    """Print the figures."""
    first, trips = round_trips_per_operation()
    print("WinRM HTTP round trips per operation (hvsim counters; client already open):")
    for name, count in trips.items():
        print(f"  {name:<22} {count:>3}")
    print(f"  first operation on a new client (NTLM handshake + shell + operation): {first}")
    with Lab.start(hosts=1, vms_per_host=2, ticker_interval=None) as lab:
        old_steps, old_poll, old_polls = create_steps(lab, reuse=False)
        new_steps, new_poll, new_polls = create_steps(lab, reuse=True)
    print("one VM's create steps on one host (disk-copy status polls and guest polls counted apart):")
    print(f"  baseline, a new session per activity and a command per operation: {old_steps} round trips")
    print(f"  pooled sessions and one command per step:                        {new_steps} round trips")
    print(f"  ratio now / baseline: {new_steps / old_steps:.2f} (target <= 40 per VM: {new_steps})")
    print(
        f"  one guest poll: {new_poll} round trips (baseline {old_poll}); ratio {new_poll / old_poll:.2f}; target <= 4"
    )
    print(f"  ({old_polls} and {new_polls} disk-copy status polls, each one command like a guest poll)")
    figures = inventory_at_latency()
    per_vm_total = figures["per_vm_s"] * figures["vms"]
    print(f"collect_inventory, {int(figures['vms'])} VMs, +{LATENCY_MS} ms per round trip:")
    print(f"  cold (connect, NTLM, shell, run): {figures['cold_s']:.3f} s in {int(figures['cold_trips'])} round trips")
    print(f"  warm (shell reused):              {figures['warm_s']:.3f} s in {int(figures['warm_trips'])} round trips")
    print(
        f"  baseline, one get_vm per VM:      {per_vm_total:.1f} s "
        f"({figures['per_vm_trips']:.0f} round trips x {int(figures['vms'])} VMs)"
    )
    print(f"  ratio baseline / warm batched:    {per_vm_total / figures['warm_s']:.0f}x")


if __name__ == "__main__":
    main()
