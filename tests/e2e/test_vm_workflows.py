"""VM workflows end to end on the devhost, against the simulated lab and Azurite: create, delete, power, crash."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_vm_request import LINUX, WINDOWS
from tools.stack import Stack


@dataclass
class Submitted:
    """The job document a write answered with (202)."""

    job: dict[str, Any]


def write(stack: Stack, method: str, path: str, body: Any = None) -> Submitted:
    status, _, job = stack.request(method, path, body)
    assert status == 202, (status, job)
    return Submitted(job)


def create(stack: Stack, payload: dict[str, Any]) -> Submitted:
    return write(stack, "POST", "/api/v1/vms", payload)


def power(stack: Stack, vm_id: str, action: str) -> Submitted:
    return write(stack, "POST", f"/api/v1/vms/{vm_id}/{action}")


def delete(stack: Stack, vm_id: str) -> Submitted:
    return write(stack, "DELETE", f"/api/v1/vms/{vm_id}")


def finished(stack: Stack, job_id: str, timeout: float = 120) -> dict[str, Any]:
    status = stack.wait(job_id, timeout)
    job = stack.jobs.get(job_id)
    assert job is not None
    return {"durable": status, "job": job.to_json()}


def linux(name: str, host: str = "hv03") -> dict[str, Any]:
    payload = copy.deepcopy(LINUX)
    payload.update(name=name, host=host)
    return payload


def windows(name: str, host: str = "hv03") -> dict[str, Any]:
    payload = copy.deepcopy(WINDOWS)
    payload.update(name=name, host=host, clustered=False, network="External", vlan_id=None)
    return payload


def test_create_a_linux_vm_and_watch_every_step(stack: Stack) -> None:
    submission = create(stack, linux("lnx-e2e01"))
    seen: list[str] = []

    def watch(status: dict[str, Any]) -> bool:
        step = (status.get("customStatus") or {}).get("step")
        if step and (not seen or seen[-1] != step):
            seen.append(step)
        return False

    with pytest.raises(AssertionError):
        stack.wait(submission.job["id"], timeout=0.5, until=watch)  # sample progress while it runs
    result = stack.wait(submission.job["id"], 120, until=watch)
    assert result["runtimeStatus"] == "Completed", result
    for step in ("preflight", "prepare_disk", "create_vm", "start", "wait_for_key", "publish", "wait_for_apply"):
        assert step in seen or step in [s["name"] for s in result["customStatus"]["steps"]]
    job = stack.jobs.get(submission.job["id"])
    assert job is not None
    assert job.status == "Succeeded"
    assert job.result is not None
    vm_id = job.result["vm_id"]
    vm = stack.repo.get_vm(vm_id)
    assert vm is not None
    assert (vm.name, vm.host, vm.state) == ("lnx-e2e01", "hv03", "Running")
    model = stack.lab.host("hv03").model.vms[vm_id]
    assert model.guest is not None
    applied = model.guest.agent.applied  # type: ignore[union-attr]
    assert applied.hostname == "lnx-e2e01"
    assert applied.ansible_user == "ansible"


def test_create_a_windows_vm_with_static_ip_and_domain_join(stack: Stack) -> None:
    submission = create(stack, windows("win-e2e01"))
    outcome = finished(stack, submission.job["id"])
    assert outcome["job"]["status"] == "Succeeded", outcome
    vm = stack.repo.get_vm(outcome["job"]["result"]["vm_id"])
    assert vm is not None
    assert "10.0.0.5" in vm.ip_addresses
    applied = stack.lab.host("hv03").model.vms[vm.id].guest.agent.applied  # type: ignore[union-attr]
    assert applied.domain is not None
    assert applied.domain.domain == "corp.example"


def test_a_second_create_of_the_same_vm_returns_the_running_job(stack: Stack) -> None:
    first = create(stack, linux("dup-e2e01"))
    second = create(stack, linux("dup-e2e01"))
    assert second.job["id"] == first.job["id"]
    assert finished(stack, first.job["id"])["job"]["status"] == "Succeeded"


def test_a_failing_guest_is_compensated(stack: Stack) -> None:
    control = stack.lab.control.url
    stack.request_to(
        control, "PUT", "/hvsim/hosts/hv02/guest-behaviour", {"fail_module": "mod_net", "poll_interval": 0.1}
    )
    try:
        submission = create(stack, linux("bad-e2e01", host="hv02"))
        outcome = finished(stack, submission.job["id"])
    finally:
        stack.request_to(control, "PUT", "/hvsim/hosts/hv02/guest-behaviour", {"poll_interval": 0.1})
    job = outcome["job"]
    assert job["status"] == "Failed"
    assert job["error"]["category"] == "GuestProvisioningFailed"
    assert "error applying:mod_net" in job["error"]["message"]
    assert job["failed_step"] == "wait_for_apply"
    assert job["cleanup"]["status"] == "Succeeded"
    assert not [vm for vm in stack.lab.host("hv02").model.vms.values() if vm.name == "bad-e2e01"]
    assert not [vm for vm in stack.repo.iter_vms(host="hv02") if vm.name == "bad-e2e01"]


def test_power_actions_and_delete(stack: Stack) -> None:
    created = finished(stack, create(stack, linux("pwr-e2e01")).job["id"])["job"]
    vm_id = created["result"]["vm_id"]
    stopped = finished(stack, power(stack, vm_id, "stop").job["id"])["job"]
    assert stopped["status"] == "Succeeded", stopped
    assert stack.repo.get_vm(vm_id).state == "Off"  # type: ignore[union-attr]
    started = finished(stack, power(stack, vm_id, "start").job["id"])["job"]
    assert started["status"] == "Succeeded"
    status, _, problem = stack.request("POST", f"/api/v1/vms/{vm_id}/start")
    assert status == 409, problem
    assert problem["state"] in ("Starting", "Running")
    deleted = finished(stack, delete(stack, vm_id).job["id"])["job"]
    assert deleted["status"] == "Succeeded"
    assert deleted["result"]["existed"] is True
    assert vm_id not in stack.lab.host("hv03").model.vms
    assert stack.repo.get_vm(vm_id) is None
    status, _, problem = stack.request("DELETE", f"/api/v1/vms/{vm_id}")
    assert status == 404, problem  # gone from the host and from the inventory


def test_no_plaintext_secret_in_the_task_hub_or_the_log(stack: Stack) -> None:
    secrets = ["Change-Me-2026!", "Join-Me-2026!", "correct horse battery staple"]
    finished(stack, create(stack, windows("sec-e2e01")).job["id"])
    finished(stack, create(stack, linux("sec-e2e02")).job["id"])
    files = [p for p in Path(stack.store_dir).rglob("*") if p.is_file()]
    assert files
    assert stack.log_path is not None
    for path in [*files, stack.log_path]:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, (path, secret)
            assert secret.encode("utf-16-le") not in data, (path, secret)
    for job in stack.jobs.list(page_size=200).items:
        record = stack.jobs.get(job.id)
        for secret in secrets:
            assert secret not in repr(record)


def test_a_devhost_crash_during_the_guest_wait_still_creates_the_vm_once(stack: Stack) -> None:
    control = stack.lab.control.url
    stack.request_to(control, "PUT", "/hvsim/hosts/hv01/guest-behaviour", {"boot_delay": 4, "poll_interval": 0.1})
    try:
        submission = create(stack, linux("crash-e2e01", host="hv01"))
        job_id = submission.job["id"]
        stack.wait(job_id, 60, until=lambda s: (s.get("customStatus") or {}).get("step") == "wait_for_key")
        stack.kill()
        time.sleep(1)
        stack.launch()
        outcome = finished(stack, job_id)
    finally:
        stack.request_to(control, "PUT", "/hvsim/hosts/hv01/guest-behaviour", {"poll_interval": 0.1})
    assert outcome["job"]["status"] == "Succeeded", outcome
    named = [vm for vm in stack.lab.host("hv01").model.vms.values() if vm.name == "crash-e2e01"]
    assert len(named) == 1


def test_placement_picks_the_connected_host_with_most_free_memory(synced: Stack) -> None:
    stack = synced
    payload = copy.deepcopy(LINUX)
    payload["name"] = "place-e2e01"
    hosts = [h for h in stack.repo.list_hosts() if h.connected]
    expected = sorted(hosts, key=lambda h: (-h.free_memory_gb, h.name))[0].name
    outcome = finished(stack, create(stack, payload).job["id"])
    assert outcome["job"]["status"] == "Succeeded", outcome["job"]
    assert outcome["job"]["result"]["host"] == expected
