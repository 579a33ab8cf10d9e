"""Inventory sync end to end: timer → singleton orchestration → per-host activities → Table Storage."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from functions.workflows.inventory import INSTANCE_ID
from tools.stack import Stack, durable_client


def sync_now(stack: Stack, hosts: list[str] | None = None) -> dict[str, Any]:
    """Run one sync to completion (waiting for one already running) and return its output."""
    all_hosts = [h.name for h in stack.lab.hosts]
    payload = {"hosts": hosts or all_hosts, "prune": hosts is None, "deadline_seconds": 60}
    for _ in range(50):
        stack.wait(INSTANCE_ID)
        status, _, _ = stack.request(
            "POST", f"/runtime/webhooks/durabletask/orchestrators/inventory_sync/{INSTANCE_ID}", payload
        )
        if status == 202:
            break
        time.sleep(0.2)  # the timer started one in between
    result = stack.wait(INSTANCE_ID)
    assert result["runtimeStatus"] == "Completed", result
    output: dict[str, Any] = result["output"]
    return output


def lab_vm_names(stack: Stack, host: str) -> list[str]:
    return sorted(vm.name for vm in stack.lab.host(host).model.vms.values())


def table_vm_names(stack: Stack, host: str) -> list[str]:
    return sorted(v["name"] for v in stack.repo.iter_vms(host=host))


def test_the_startup_sync_fills_the_tables(stack: Stack) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(stack.repo.list_hosts()) < 3:
        time.sleep(0.3)
    stack.wait(INSTANCE_ID)
    hosts = {h["name"]: h for h in stack.repo.list_hosts()}
    assert set(hosts) == {"hv01", "hv02", "hv03"}
    for name, host in hosts.items():
        assert host["connected"], host
        assert table_vm_names(stack, name) == lab_vm_names(stack, name)
    clusters = {c["name"]: c for c in stack.repo.clusters()}
    assert any(c["total_hosts"] == 2 for name, c in clusters.items() if name != "Default")


def test_out_of_band_changes_appear_on_the_next_sync(stack: Stack) -> None:
    sync_now(stack)
    control = stack.lab.control.url
    status, _, created = stack.request_to(control, "POST", "/hvsim/hosts/hv02/vms", {"name": "oob-new", "state": "Off"})
    assert status in (200, 201), created
    victim = next(vm for vm in stack.lab.host("hv02").model.vms.values() if vm.name != "oob-new")
    stack.request_to(control, "PATCH", f"/hvsim/hosts/hv02/vms/{victim.id}", {"notes": "changed out of band"})
    gone = next(vm for vm in stack.lab.host("hv03").model.vms.values())
    stack.request_to(control, "DELETE", f"/hvsim/hosts/hv03/vms/{gone.id}")
    output = sync_now(stack)
    assert output["succeeded"] == 3
    assert "oob-new" in table_vm_names(stack, "hv02")
    changed = stack.repo.get_vm(victim.id)
    assert changed is not None
    assert changed["notes"] == "changed out of band"
    assert stack.repo.get_vm(gone.id) is None
    assert table_vm_names(stack, "hv03") == lab_vm_names(stack, "hv03")


def test_no_change_resync_writes_only_heartbeats(stack: Stack) -> None:
    sync_now(stack)
    output = sync_now(stack)
    assert output["entities_written"] <= 3, output
    assert output["entities_deleted"] == 0


def test_a_dead_host_is_disconnected_with_stale_vms_and_recovers(stack: Stack) -> None:
    sync_now(stack)
    control = stack.lab.control.url
    stack.request_to(control, "POST", "/hvsim/hosts/hv01/down")
    try:
        output = sync_now(stack)
        assert [f["host"] for f in output["failed"]] == ["hv01"]
        host = stack.repo.get_host("hv01")
        assert host is not None
        assert host["connected"] is False
        assert "HostUnreachable" in host["error"]
        stale = list(stack.repo.iter_vms(host="hv01"))
        assert stale
        assert all(vm["stale"] and vm["last_seen"] == host["last_seen"] for vm in stale)
        assert all(not vm["stale"] for vm in stack.repo.iter_vms(host="hv02"))
    finally:
        stack.request_to(control, "POST", "/hvsim/hosts/hv01/up")
    sync_now(stack)
    host = stack.repo.get_host("hv01")
    assert host is not None
    assert host["connected"] is True
    assert not any(vm["stale"] for vm in stack.repo.iter_vms(host="hv01"))


def test_two_starters_racing_start_one_sync(stack: Stack) -> None:
    from functions.workflows import starters

    stack.wait(INSTANCE_ID)
    client = durable_client(stack)

    async def race() -> list[tuple[str, bool]]:
        from azure.durable_functions.models.utils import http_utils

        try:
            return list(await asyncio.gather(*(starters.start_inventory_sync(client) for _ in range(4))))
        finally:
            await http_utils._close_session()  # the SDK keeps one session per process

    saved = starters.sync_input
    starters.sync_input = lambda hosts=None: {"hosts": ["hv01", "hv02", "hv03"], "prune": False}  # type: ignore[assignment]
    try:
        results = asyncio.run(race())
    finally:
        starters.sync_input = saved  # type: ignore[assignment]
    assert sum(started for _, started in results) == 1
    stack.wait(INSTANCE_ID)
