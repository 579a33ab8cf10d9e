"""Guest agents end to end: what the host publishes depends on which agent answers, checked on hvsim's own state.

- The project's Linux agent (hvsim runs the real one) echoes this run's nonce: the job names it.
- An upstream agent is refused, before anything is published, a password it would mangle; the VM is compensated.
- A host whose provisioning ISOs are HLVMM-era is refused at preflight, before anything is made.
- A golden image whose guest pool carries an earlier run's key and state does not fool the host.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from functions.guest import names
from tests.e2e.test_vm_workflows import create, finished, linux, windows
from tools.stack import Stack

VERSION_FILE = "C:\\Program Files\\Aether-V\\version"


@contextmanager
def guest_behaviour(stack: Stack, host: str, **behaviour: Any) -> Iterator[None]:
    control = stack.lab.control.url
    stack.request_to(control, "PUT", f"/hvsim/hosts/{host}/guest-behaviour", {"poll_interval": 0.1, **behaviour})
    try:
        yield
    finally:
        stack.request_to(control, "PUT", f"/hvsim/hosts/{host}/guest-behaviour", {"poll_interval": 0.1})


def data_items_written(stack: Stack, host: str, since: int) -> list[str]:
    writes = stack.lab.host(host).server.received_operations("write_host_kvp")[since:]
    names_written = [str(item["name"]) for op in writes for item in op.params.get("items") or []]
    return [name for name in names_written if name.startswith(names.DATA_PREFIX)]


def test_the_projects_linux_agent_is_named_in_the_job(stack: Stack) -> None:
    job = finished(stack, create(stack, linux("agent-e2e01", host="hv01")).job["id"])["job"]
    assert job["status"] == "Succeeded", job
    assert str(job["result"]["guest_agent"]).startswith("aetherv-linux/")
    vm = stack.lab.host("hv01").model.vms[job["result"]["vm_id"]]
    assert vm.guest is not None and vm.guest.agent.applied.hostname == "agent-e2e01"  # type: ignore[union-attr]


def test_an_upstream_agent_is_refused_a_password_it_would_mangle_before_anything_is_published(stack: Stack) -> None:
    payload = linux("upstream-e2e01", host="hv02")
    payload["guest"]["admin_password"] = "It's-a-Passw0rd"
    before = len(stack.lab.host("hv02").server.received_operations("write_host_kvp"))
    with guest_behaviour(stack, "hv02", agent="upstream"):
        job = finished(stack, create(stack, payload).job["id"])["job"]
    assert job["status"] == "Failed"
    assert job["failed_step"] == "publish"
    assert job["error"]["category"] == "GuestAgentCannotApply"
    assert "guest.admin_password" in job["error"]["message"] and "'" in job["error"]["message"]
    assert "It's-a-Passw0rd" not in str(job)
    assert data_items_written(stack, "hv02", before) == []  # nothing was published
    assert job["cleanup"]["status"] == "Succeeded"
    assert "upstream-e2e01" not in {vm.name for vm in stack.lab.host("hv02").model.vms.values()}


def test_hlvmm_era_isos_are_refused_at_preflight_before_anything_is_made(stack: Stack) -> None:
    model = stack.lab.host("hv02").model
    version = model.fs.get(VERSION_FILE)
    assert version is not None
    original, version.text = version.text, "1.5.400"
    disks_before = len(stack.lab.host("hv02").server.received_operations("prepare_disk"))
    try:
        job = finished(stack, create(stack, linux("hlvmm-e2e01", host="hv02")).job["id"])["job"]
    finally:
        version.text = original
    assert job["status"] == "Failed"
    assert job["failed_step"] == "preflight"
    assert "HLVMM-era" in job["error"]["message"] and "make isos" in job["error"]["message"]
    assert len(stack.lab.host("hv02").server.received_operations("prepare_disk")) == disks_before
    assert job["cleanup"]["status"] == "Nothing to clean up"


def test_a_golden_image_with_an_earlier_runs_key_does_not_fool_the_host(stack: Stack) -> None:
    with guest_behaviour(stack, "hv01", stale_guest_pool=True, stale_guest_state="waitingforaeskey"):
        job = finished(stack, create(stack, linux("stale-e2e01", host="hv01")).job["id"])["job"]
    assert job["status"] == "Succeeded", job
    vm = stack.lab.host("hv01").model.vms[job["result"]["vm_id"]]
    assert vm.guest is not None and vm.guest.agent.applied.hostname == "stale-e2e01"  # type: ignore[union-attr]


def test_a_domain_join_an_older_windows_agent_cannot_confirm_is_a_warning(stack: Stack) -> None:
    payload = windows("join-e2e01", host="hv01")
    payload["guest"]["ipv4"].pop("dns_suffix", None)  # an older Windows agent cannot apply it: it would be refused
    with guest_behaviour(stack, "hv01", agent="upstream"):
        job = finished(stack, create(stack, payload).job["id"], 180)["job"]
    assert job["status"] == "Succeeded", job
    assert job["result"]["guest_agent"] == "upstream"
    assert any("domain join" in warning for warning in job["warnings"])


def test_the_projects_windows_agent_confirms_its_join(stack: Stack) -> None:
    job = finished(stack, create(stack, windows("join-e2e02", host="hv01")).job["id"], 180)["job"]
    assert job["status"] == "Succeeded", job
    assert str(job["result"]["guest_agent"]).startswith("aetherv-windows/")
    assert not any("domain join" in warning for warning in job["warnings"])


def test_a_cancel_during_the_guest_wait_stops_the_wait_and_removes_the_vm(stack: Stack) -> None:
    with guest_behaviour(stack, "hv02", boot_delay=30):
        job_id = create(stack, linux("cancel-e2e01", host="hv02")).job["id"]
        child = f"{job_id}:wait_for_key"
        stack.wait(child, 60, until=lambda s: s.get("runtimeStatus") == "Running")
        status, _, view = stack.request("GET", f"/api/v1/jobs/{job_id}")
        assert status == 202 and view["progress"]["step"] == "wait_for_key"
        faults = stack.lab.host("hv02").server.faults
        faults.update({"slow_operations": {"read_guest_kvp": 3000}})  # the cancel finds a poll in flight
        try:
            time.sleep(0.5)
            status, _, _ = stack.request("POST", f"/api/v1/jobs/{job_id}/cancel")
            assert status == 202
            job = finished(stack, job_id)["job"]
        finally:
            faults.update({"slow_operations": {}})
        ended = stack.status(child)  # the create let its wait end before it removed anything
    assert job["status"] == "Canceled"
    assert ended["runtimeStatus"] in ("Failed", "Completed", "Terminated"), ended
    assert job["cleanup"]["status"] == "Succeeded"
    assert "cancel-e2e01" not in {vm.name for vm in stack.lab.host("hv02").model.vms.values()}
