"""Hyper-V operations over WinRM against hvsim: HTTP round trips per operation, and inventory time at latency.

Measured from the simulated hosts' counters through the real client stack (pywinrm, HTTPS, NTLM):

- round trips of each operation on an open client (shell already created), plus the one-off cost of opening one;
- ``collect_inventory`` of a host with 200 VMs when every round trip costs 50 ms more (a WAN or relay hop), cold
  (new connection: NTLM, shell) and warm, against a baseline of one inventory run per VM's worth of round trips
  (what per-VM queries would cost: one ``get_vm`` per VM).

Run: ``python -m bench.hyperv_bench`` (or through ``make bench``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from functions.hyperv.factory import open_client
from functions.hyperv.models import CreateVmSpec, PreflightSpec, PrepareDiskSpec
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
