"""Inventory sync end to end: timer → singleton orchestration → per-host activities → Table Storage."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

from tools.stack import Stack


def wait_job(stack: Stack, job_id: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, _, body = stack.request("GET", f"/api/v1/jobs/{job_id}")
        if status != 202:
            return body["job"] if status >= 400 else body  # type: ignore[no-any-return]
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


def sync_now(stack: Stack) -> dict[str, Any]:
    """Run one sync of every host that starts after this call (waiting out one already running); its summary."""
    asked = time.time()
    for _ in range(20):
        status, _, job = stack.request("POST", "/api/v1/inventory/refresh")
        assert status == 202, job
        done = wait_job(stack, job["id"])
        started = datetime.fromisoformat(done["created"].replace("Z", "+00:00")).timestamp()
        if started >= asked - 0.5:
            assert done["status"] == "Succeeded", done
            result: dict[str, Any] = done["result"]
            return result
    raise AssertionError("no sync of this test ran")


def lab_vm_names(stack: Stack, host: str) -> list[str]:
    return sorted(vm.name for vm in stack.lab.host(host).model.vms.values())


def table_vm_names(stack: Stack, host: str) -> list[str]:
    return sorted(v.name for v in stack.repo.iter_vms(host=host))


def test_the_startup_sync_fills_the_tables(stack: Stack) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(stack.repo.list_hosts()) < 3:
        time.sleep(0.3)
    wait_job(stack, "refresh-inventory-all-1")
    hosts = {h.name: h for h in stack.repo.list_hosts()}
    assert set(hosts) == {"hv01", "hv02", "hv03"}
    for name, host in hosts.items():
        assert host.connected, host
        assert table_vm_names(stack, name) == lab_vm_names(stack, name)
    clusters = {c.name: c for c in stack.repo.clusters()}
    assert any(len(c.hosts) == 2 for name, c in clusters.items() if name != "Default")


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
    assert changed.details["notes"] == "changed out of band"
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
        assert host.connected is False
        assert "HostUnreachable" in (host.error or "")
        stale = list(stack.repo.iter_vms(host="hv01"))
        assert stale
        assert all(vm.stale and vm.last_seen == host.last_seen for vm in stale)
        assert all(not vm.stale for vm in stack.repo.iter_vms(host="hv02"))
    finally:
        stack.request_to(control, "POST", "/hvsim/hosts/hv01/up")
    sync_now(stack)
    host = stack.repo.get_host("hv01")
    assert host is not None
    assert host.connected is True
    assert not any(vm.stale for vm in stack.repo.iter_vms(host="hv01"))


def test_refreshes_racing_start_one_sync(stack: Stack) -> None:
    sync_now(stack)
    answers: list[str] = []
    for host in stack.lab.hosts:  # slow hosts keep the sync running while every request arrives
        host.server.faults.update({"latency_ms": 150})

    def refresh() -> None:
        status, _, job = stack.request("POST", "/api/v1/inventory/refresh")
        assert status == 202, job
        answers.append(job["id"])

    threads = [threading.Thread(target=refresh) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for host in stack.lab.hosts:
        host.server.faults.update({"latency_ms": 0})
    assert len(set(answers)) == 1, answers
    assert wait_job(stack, answers[0])["status"] == "Succeeded"
