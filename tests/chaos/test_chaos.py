"""Faults injected into the running stack, outcomes read from the peers' own state.

Nothing orphaned (no VM, disk or folder a failed job made is left on a host), nothing destroyed (a VM whose create
succeeded stays), nothing stuck (no job left ``Running``, a refresh always possible), no inventory row lost (the
tables match the lab after the last sync).
"""

from __future__ import annotations

import copy
import os
import signal
import threading
import time
from typing import Any

from tests.chaos.conftest import Chaos
from tests.unit.test_vm_request import LINUX
from tools.hvsim.models import MB, CopyFault


def linux(name: str, host: str, **extra: Any) -> dict[str, Any]:
    payload = copy.deepcopy(LINUX)
    payload.update(name=name, host=host, **extra)
    return payload


def submit(chaos: Chaos, method: str, path: str, body: Any = None) -> str:
    status, _, job = chaos.stack.request(method, path, body)
    assert status == 202, (status, job)
    return str(job["id"])


def refresh(chaos: Chaos, host: str | None = None) -> dict[str, Any]:
    path = "/api/v1/inventory/refresh" + (f"?host={host}" if host else "")
    return chaos.wait_job(submit(chaos, "POST", path))


def until(condition: Any, timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def operation_started(chaos: Chaos, host: str, operation: str) -> Any:
    """A condition: ``host`` received ``operation`` once more than it had when this was called."""
    before = len(chaos.host(host).server.received_operations(operation))
    return lambda: len(chaos.host(host).server.received_operations(operation)) > before


def assert_nothing_left(chaos: Chaos, host: str, name: str) -> None:
    """No VM, no folder, no disk and no inventory row of ``name`` on ``host``."""
    assert name not in chaos.lab_vm_names(host)
    assert chaos.lab_folders(host, name) == []
    model = chaos.host(host).model
    assert not [
        f.path for f in model.fs.walk_files("C:\\") if f"\\{name}\\" in f.path or f.path.endswith(f"{name}.vhdx")
    ]
    assert not [vm for vm in chaos.stack.repo.iter_vms(host=host) if vm.name == name]


def assert_tables_match_the_lab(chaos: Chaos) -> None:
    refresh(chaos)
    for lab_host in chaos.lab.hosts:
        stored = {vm.name for vm in chaos.stack.repo.iter_vms(host=lab_host.name)}
        assert stored == chaos.lab_vm_names(lab_host.name), lab_host.name


def test_a_vm_whose_create_reply_was_lost_is_found_by_its_mark_and_removed(chaos: Chaos) -> None:
    host = chaos.host("hv03")
    host.server.faults.update({"slow_operations": {"create_vm": 1500}})
    started = operation_started(chaos, "hv03", "create_vm")
    job_id = submit(chaos, "POST", "/api/v1/vms", linux("lost01", "hv03"))
    try:
        until(started, what="the host to start creating")
        host.server.faults.update({"refuse_connections": True})  # the listener stops while New-VM runs
        chaos.wait_step(job_id, "compensating")
        time.sleep(1.5)  # the host finishes its create meanwhile, with nobody listening for the reply
        host.server.faults.update({"refuse_connections": False, "slow_operations": {}})
        job = chaos.wait_job(job_id)
    finally:
        host.server.faults.clear()
    assert job["status"] == "Failed"
    assert job["cleanup"]["status"] in ("Succeeded", "Pending")
    until(lambda: (refresh(chaos, "hv03"), "lost01" not in chaos.lab_vm_names("hv03"))[1], 60, "the VM to go")
    assert_nothing_left(chaos, "hv03", "lost01")
    job = chaos.job(job_id)
    assert job["cleanup"]["status"] == "Succeeded"
    assert job["cleanup"]["host"]["vms_removed"]  # found by its mark, not by a returned id (there was none)


def test_a_script_that_failed_after_new_vm_leaves_nothing(chaos: Chaos) -> None:
    host = chaos.host("hv02")
    host.server.faults.update({"failures_after": {"create_vm": {"category": "ScriptFailed", "message": "boom"}}})
    try:
        job = chaos.wait_job(submit(chaos, "POST", "/api/v1/vms", linux("half01", "hv02")))
    finally:
        host.server.faults.clear()
    assert job["status"] == "Failed"
    assert job["cleanup"]["status"] == "Succeeded"
    assert job["cleanup"]["host"]["vms_removed"]
    assert "half01" not in chaos.lab_vm_names("hv02")
    assert not [vm for vm in chaos.stack.repo.iter_vms(host="hv02") if vm.name == "half01"]


def test_a_host_down_past_the_job_end_leaves_a_debt_that_is_paid_when_it_returns(chaos: Chaos) -> None:
    host = chaos.host("hv03")
    host.server.faults.update({"slow_operations": {"create_vm": 1000}})
    started = operation_started(chaos, "hv03", "create_vm")
    job_id = submit(chaos, "POST", "/api/v1/vms", linux("debt01", "hv03"))
    try:
        until(started, what="the host to start creating")
        host.server.faults.update({"refuse_connections": True})
        job = chaos.wait_job(job_id)
        assert job["status"] == "Failed"
        assert job["cleanup"]["status"] == "Pending", job["cleanup"]
        assert job["cleanup"]["pending_since"]
        until(lambda: "debt01" in chaos.lab_vm_names("hv03"), what="the host's create to finish")
        # the host is back but the removal fails once: the sync lists the VM, marked orphaned
        host.server.faults.update(
            {
                "refuse_connections": False,
                "script_errors": {"remove_owned": {"category": "ScriptFailed", "message": "x"}},
            }
        )
        refresh(chaos, "hv03")
        rows = [vm for vm in chaos.stack.repo.iter_vms(host="hv03") if vm.name == "debt01"]
        assert rows and rows[0].details.get("orphaned_by_job") == job_id
        status, _, view = chaos.stack.request("GET", f"/api/v1/vms/{rows[0].id}")
        assert status == 200 and view["orphaned"] is True
    finally:
        host.server.faults.clear()
    refresh(chaos, "hv03")
    assert_nothing_left(chaos, "hv03", "debt01")
    cleanup = chaos.job(job_id)["cleanup"]
    assert cleanup["status"] == "Succeeded"
    assert cleanup["pending_since"] and cleanup["settled_at"] >= cleanup["pending_since"]


def test_a_storage_outage_during_a_refresh_never_wedges_the_refresh(chaos: Chaos) -> None:
    for lab_host in chaos.lab.hosts:
        lab_host.server.faults.update({"slow_operations": {"collect_inventory": 1500}})
    started = operation_started(chaos, "hv01", "collect_inventory")
    job_id = submit(chaos, "POST", "/api/v1/inventory/refresh")
    try:
        until(started, what="the sync to start")
        chaos.storage_down()
        time.sleep(8)  # every retry of the sync's writes meets the outage
        chaos.storage_up()
    finally:
        for lab_host in chaos.lab.hosts:
            lab_host.server.faults.clear()
    job = chaos.wait_job(job_id, 60)
    assert job["status"] in ("Succeeded", "Failed")  # ended, whatever it could write
    again = refresh(chaos)
    assert again["id"] != job_id
    assert again["status"] == "Succeeded"


def test_a_storage_outage_at_the_end_of_a_create_never_destroys_the_vm(chaos: Chaos) -> None:
    host = chaos.host("hv01")
    host.server.faults.update({"slow_operations": {"collect_inventory": 1500}})
    try:
        job_id = submit(chaos, "POST", "/api/v1/vms", linux("keep01", "hv01"))
        chaos.wait_step(job_id, "refresh", 90)
        chaos.storage_down()
        time.sleep(4)
        chaos.storage_up()
    finally:
        host.server.faults.clear()
    job = chaos.wait_job(job_id, 120)
    assert job["status"] == "Succeeded", job
    assert "keep01" in chaos.lab_vm_names("hv01")
    assert job.get("cleanup") is None


def test_a_different_power_action_on_a_busy_vm_is_refused_naming_the_running_job(chaos: Chaos) -> None:
    refresh(chaos, "hv02")
    vm = next(vm for vm in chaos.stack.repo.iter_vms(host="hv02") if vm.state == "Running")
    host = chaos.host("hv02")
    host.server.faults.update({"slow_operations": {"stop_vm": 2000}})
    try:
        stop = submit(chaos, "POST", f"/api/v1/vms/{vm.id}/stop")
        status, _, problem = chaos.stack.request("POST", f"/api/v1/vms/{vm.id}/restart")
        assert status == 409, problem
        assert problem["job_id"] == stop
        assert stop in problem["detail"]
        assert chaos.wait_job(stop)["status"] == "Succeeded"
    finally:
        host.server.faults.clear()
    assert host.model.vms[vm.id].state == "Off"
    assert not [op for op in host.server.received_operations("restart_vm")]


def test_a_static_address_is_in_the_result_and_the_inventory(chaos: Chaos) -> None:
    ipv4 = {"address": "192.168.10.77", "prefix_length": 24, "gateway": "192.168.10.1", "dns_servers": ["192.168.10.2"]}
    payload = linux("addr01", "hv03")
    payload["guest"]["ipv4"] = ipv4
    job = chaos.wait_job(submit(chaos, "POST", "/api/v1/vms", payload), 120)
    assert job["status"] == "Succeeded", job
    assert "192.168.10.77" in job["result"]["vm"]["ip_addresses"], job
    row = chaos.stack.repo.get_vm(job["result"]["vm_id"])
    assert row is not None and "192.168.10.77" in row.ip_addresses


def test_a_devhost_killed_while_compensating_still_cleans_up(chaos: Chaos) -> None:
    host = chaos.host("hv03")
    host.server.faults.update(
        {
            "failures_after": {"create_vm": {"category": "ScriptFailed", "message": "boom"}},
            "slow_operations": {"remove_owned": 1500},
        }
    )
    try:
        job_id = submit(chaos, "POST", "/api/v1/vms", linux("kill01", "hv03"))
        chaos.wait_step(job_id, "compensating")
        assert chaos.stack.process is not None
        os.killpg(chaos.stack.process.pid, signal.SIGKILL)
        chaos.stack.process.wait()
        chaos.stack.launch()
        job = chaos.wait_job(job_id, 90)
    finally:
        host.server.faults.clear()
    assert job["status"] == "Failed"
    assert job["cleanup"]["status"] == "Succeeded"
    assert_nothing_left(chaos, "hv03", "kill01")


def attempts(work: Any, job_id: str) -> list[str]:
    """The background operations the host started for ``job_id``."""
    return [operation for operation in work.started if operation.startswith(job_id + ".")]


def test_a_long_copy_outlives_a_failure_and_a_listener_restart(chaos: Chaos) -> None:
    """The image copy runs on the host in the background: it fails part-way once (a new attempt copies again under a
    new operation id) and the host's WinRM listener restarts during the second attempt; the VM is made all the same."""
    host = chaos.host("hv03")
    work = host.model.background
    work.rate = 512 * MB  # the Ubuntu image takes about 6 s
    work.faults.append(CopyFault(at_percent=30, message="The specified network name is no longer available."))
    try:
        job_id = submit(chaos, "POST", "/api/v1/vms", linux("copy01", "hv03"))
        until(lambda: len(attempts(work, job_id)) == 2, 60, "the copy's second attempt")
        host.server.stop()  # Restart-Service WinRM: shells and connections are gone, the copy goes on
        time.sleep(1.0)
        host.server.start()
        job = chaos.wait_job(job_id, 120)
    finally:
        work.rate = None
        work.faults.clear()
    assert job["status"] == "Succeeded", job
    assert attempts(work, job_id) == [f"{job_id}.prepare_disk.1", f"{job_id}.prepare_disk.2"]
    step = next(s for s in job["steps"] if s["name"] == "prepare_disk")
    assert (step["operation"]["id"], step["operation"]["state"]) == (f"{job_id}.prepare_disk.2", "succeeded")
    assert "copy01" in chaos.lab_vm_names("hv03")
    assert not host.model.fs.exists("C:\\Hyper-V\\copy01\\copy01.vhdx.partial")


def test_canceling_a_create_during_its_copy_stops_the_copy_and_leaves_nothing(chaos: Chaos) -> None:
    host = chaos.host("hv03")
    work = host.model.background
    work.rate = 128 * MB  # about 25 s
    try:
        job_id = submit(chaos, "POST", "/api/v1/vms", linux("cancel01", "hv03"))
        until(lambda: any(task.running for task in work.tasks.values()), 60, "the copy to run")
        status, _, body = chaos.stack.request("POST", f"/api/v1/jobs/{job_id}/cancel")
        assert status == 202, body
        job = chaos.wait_job(job_id, 60)
    finally:
        work.rate = None
    assert job["status"] == "Canceled", job
    assert job["failed_step"] == "prepare_disk"
    assert job["cleanup"]["status"] == "Succeeded", job["cleanup"]
    assert work.tasks == {}  # stopped and unregistered
    assert_nothing_left(chaos, "hv03", "cancel01")


def timer_syncs(chaos: Chaos) -> int:
    return len(chaos.stack.jobs.list(requester_id="system:inventory-schedule", page_size=500).items)


def relaunch(chaos: Chaos, **settings: str) -> None:
    chaos.stack.stop()
    chaos.stack.env.update(settings)
    chaos.stack.launch()


def test_the_lab_shrinks_and_grows_across_restarts_with_timer_and_api_syncs_overlapping(chaos: Chaos) -> None:
    """The sequence that wedged refreshes: the configured hosts change between runs on the same tables, while the
    timer's syncs (every 2 s here) overlap refreshes started through the API."""
    everything = chaos.stack.env["AETHERV_HOSTS"]
    schedule = chaos.stack.env["AETHERV_INVENTORY_SCHEDULE"]
    first = chaos.lab.hosts[0]
    before = timer_syncs(chaos)
    try:
        for configured in ([first], list(chaos.lab.hosts), [first, chaos.lab.hosts[2]]):
            relaunch(
                chaos,
                AETHERV_HOSTS=",".join(f"{h.name}:{h.port}" for h in configured),
                AETHERV_INVENTORY_SCHEDULE="*/2 * * * * *",
            )
            jobs = [submit(chaos, "POST", "/api/v1/inventory/refresh")]
            jobs += [submit(chaos, "POST", f"/api/v1/inventory/refresh?host={h.name}") for h in configured]
            time.sleep(2.5)  # at least one timer sync overlaps them
            jobs.append(submit(chaos, "POST", "/api/v1/inventory/refresh"))
            for job_id in jobs:
                assert chaos.wait_job(job_id)["status"] == "Succeeded", chaos.job(job_id)
            refresh(chaos)
            names = {h.name for h in configured}
            assert {h.name for h in chaos.stack.repo.list_hosts()} == names
            for lab_host in chaos.lab.hosts:
                stored = {vm.name for vm in chaos.stack.repo.iter_vms(host=lab_host.name)}
                assert stored == (chaos.lab_vm_names(lab_host.name) if lab_host.name in names else set())
        assert timer_syncs(chaos) > before  # the timer really ran alongside
    finally:
        relaunch(chaos, AETHERV_HOSTS=everything, AETHERV_INVENTORY_SCHEDULE=schedule)


def test_no_job_is_left_running_and_no_row_is_lost(chaos: Chaos) -> None:
    threading.Event().wait(0.5)
    running = [j for j in chaos.stack.jobs.list(page_size=500).items if j.status in ("Running", "Pending")]
    for job in running:
        chaos.wait_job(job.id, 60)
    assert_tables_match_the_lab(chaos)
