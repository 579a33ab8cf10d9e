"""Day-2 changes end to end: resize, disks and adapters through the API, checked on the simulated host and inventory.

Each test makes its own VM on ``hv03`` out of band (as an operator's existing VM would be), lets the inventory learn
it, drives the routes, and then asks the host model what it holds and the inventory what it shows.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tools.hvsim.exceptions import HyperVSimError
from tools.hvsim.models import FakeHost, FakeVm
from tools.hvsim.seed import IMAGES, add_vm
from tools.stack import Stack

HOST = "hv03"


def refresh(stack: Stack, host: str = HOST) -> None:
    status, _, job = stack.request("POST", f"/api/v1/inventory/refresh?host={host}")
    assert status == 202, job
    assert stack.wait(job["id"], 60)["runtimeStatus"] == "Completed"


def lab_host(stack: Stack, host: str = HOST) -> FakeHost:
    return stack.lab.host(host).model


def make_vm(stack: Stack, state: str = "Running", *, switch: str | None = "External") -> FakeVm:
    host = lab_host(stack)
    name = f"d2-{uuid.uuid4().hex[:8]}"
    with host.lock:
        vm = add_vm(host, name, image=IMAGES[2], memory_gb=2, cpu_count=2, state=state, switch=switch)
    refresh(stack)
    return vm


def running(stack: Stack, vm: FakeVm, timeout: float = 10) -> bool:
    """Whether ``vm`` reaches Running within ``timeout`` seconds (a start takes the lab's start time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with lab_host(stack).lock:
            if vm.state == "Running":
                return True
        time.sleep(0.05)
    return False


def document(stack: Stack, vm_id: str) -> dict[str, Any]:
    status, _, vm = stack.request("GET", f"/api/v1/vms/{vm_id}")
    assert status == 200, vm
    return dict(vm)


def run(stack: Stack, method: str, path: str, body: Any = None) -> dict[str, Any]:
    """Submit a change (202 expected) and return the finished job."""
    status, headers, job = stack.request(method, path, body)
    assert status == 202, (status, job)
    assert headers["Location"].endswith(f"/api/v1/jobs/{job['id']}") and headers["Retry-After"]
    stack.wait(job["id"], 90)
    final = stack.jobs.get(job["id"])
    assert final is not None
    document = final.to_json()
    assert document["status"] in ("Succeeded", "Failed", "Canceled"), document
    return dict(document)


def refused(stack: Stack, method: str, path: str, body: Any, status: int) -> dict[str, Any]:
    code, _, problem = stack.request(method, path, body)
    assert code == status, (code, problem)
    return dict(problem)


# -- resize and notes -------------------------------------------------------------------------------------------------


def test_a_resize_of_a_running_vm_is_refused_naming_the_rule_and_nothing_changes(stack: Stack) -> None:
    vm = make_vm(stack)
    problem = refused(stack, "PATCH", f"/api/v1/vms/{vm.id}", {"cpu_cores": 4}, 409)
    assert problem["type"].endswith("invalid-state")
    assert "only change while it is Off" in problem["detail"] and "allow_restart" in problem["detail"]
    assert (vm.cpu_count, vm.state) == (2, "Running")


def test_allow_restart_shuts_down_resizes_and_starts_the_vm_again(stack: Stack) -> None:
    vm = make_vm(stack)
    boots = vm.boot_count
    job = run(stack, "PATCH", f"/api/v1/vms/{vm.id}", {"cpu_cores": 4, "memory_gb": 6, "allow_restart": True})
    assert job["status"] == "Succeeded", job.get("error")
    assert job["kind"] == "update_vm"
    assert [s["name"] for s in job["steps"]] == ["shutdown", "update_vm", "start", "refresh"]
    assert job["result"]["restarted"] is True
    assert (vm.cpu_count, vm.memory_mb) == (4, 6144)  # on the host
    assert running(stack, vm) and vm.boot_count == boots + 1  # started again, once
    shown = document(stack, vm.id)  # the inventory
    assert (shown["cpu_cores"], shown["startup_memory_gb"]) == (4, 6.0)


def test_notes_change_while_running_without_a_restart(stack: Stack) -> None:
    vm = make_vm(stack)
    job = run(stack, "PATCH", f"/api/v1/vms/{vm.id}", {"notes": "Owner: web team"})
    assert job["status"] == "Succeeded" and job["result"]["restarted"] is False
    assert vm.notes.startswith("Owner: web team") and vm.state == "Running"
    assert document(stack, vm.id)["notes"].startswith("Owner: web team")


def test_an_off_vm_is_resized_and_left_off(stack: Stack) -> None:
    vm = make_vm(stack, "Off")
    job = run(stack, "PATCH", f"/api/v1/vms/{vm.id}", {"cpu_cores": 3})
    assert job["status"] == "Succeeded" and [s["name"] for s in job["steps"]] == ["update_vm", "refresh"]
    assert (vm.cpu_count, vm.state) == (3, "Off")


def test_bad_resize_values_are_all_named_at_once(stack: Stack) -> None:
    vm = make_vm(stack, "Off")
    body = {"cpu_cores": 0, "memory_gb": 2.5, "notes": 7, "color": "red"}
    problem = refused(stack, "PATCH", f"/api/v1/vms/{vm.id}", body, 422)
    assert {e["field"] for e in problem["errors"]} == {"cpu_cores", "memory_gb", "notes", "color"}
    problem = refused(stack, "PATCH", f"/api/v1/vms/{vm.id}", {"cpu_cores": 4096}, 422)
    problem = refused(stack, "PATCH", f"/api/v1/vms/{vm.id}", {"cpu_cores": 200}, 422)  # more than the host has
    assert "logical processors" in problem["errors"][0]["message"]
    assert refused(stack, "PATCH", f"/api/v1/vms/{vm.id}", {}, 422)["errors"]
    assert refused(stack, "PATCH", f"/api/v1/vms/{uuid.uuid4()}", {"notes": "x"}, 404)


# -- disks ------------------------------------------------------------------------------------------------------------


def test_add_expand_and_remove_a_data_disk_while_the_vm_runs(stack: Stack) -> None:
    vm = make_vm(stack)
    job = run(stack, "POST", f"/api/v1/vms/{vm.id}/disks", {"size_gb": 20})
    assert job["status"] == "Succeeded", job.get("error")
    assert len(vm.disks) == 2
    added = vm.disks[1]
    assert (added.controller_type, added.controller_number) == ("SCSI", 0)
    assert added.path.lower().startswith(vm.folder.lower())  # in the VM's own folder
    disks = {d["path"]: d for d in document(stack, vm.id)["disks"]}
    data = disks[added.path]
    assert data["size_gb"] == 20.0 and data["boot"] is False and data["controller_type"] == "SCSI"
    boot = next(d for d in disks.values() if d["boot"])

    job = run(stack, "POST", f"/api/v1/vms/{vm.id}/disks/{data['id']}/expand", {"size_gb": 50})
    assert job["status"] == "Succeeded", job.get("error")
    file = lab_host(stack).fs.get(added.path)
    assert file is not None and file.virtual_size == 50 * 1024**3
    assert next(d for d in document(stack, vm.id)["disks"] if d["id"] == data["id"])["size_gb"] == 50.0  # same id

    problem = refused(stack, "POST", f"/api/v1/vms/{vm.id}/disks/{data['id']}/expand", {"size_gb": 10}, 422)
    assert "only grow" in problem["errors"][0]["message"]
    problem = refused(stack, "DELETE", f"/api/v1/vms/{vm.id}/disks/{boot['id']}", None, 409)
    assert "boot disk" in problem["detail"]
    assert refused(stack, "DELETE", f"/api/v1/vms/{vm.id}/disks/0123456789abcdef", None, 404)

    job = run(stack, "DELETE", f"/api/v1/vms/{vm.id}/disks/{data['id']}")
    assert job["status"] == "Succeeded", job.get("error")
    assert [d.path for d in vm.disks] == [boot["path"]]
    assert lab_host(stack).fs.get(added.path) is None  # the file is gone too
    assert [d["id"] for d in document(stack, vm.id)["disks"]] == [boot["id"]]


# -- network adapters -------------------------------------------------------------------------------------------------


def test_add_change_and_remove_an_adapter(stack: Stack) -> None:
    vm = make_vm(stack)
    job = run(stack, "POST", f"/api/v1/vms/{vm.id}/nics", {"network": "Internal", "vlan_id": 42})
    assert job["status"] == "Succeeded", job.get("error")
    added = next(n for n in vm.nics if n.switch == "Internal")
    assert added.vlan_id == 42
    nics = document(stack, vm.id)["nics"]
    shown = next(n for n in nics if n["network"] == "Internal")
    assert shown["vlan_id"] == 42 and shown["mac"] == added.mac

    job = run(stack, "PATCH", f"/api/v1/vms/{vm.id}/nics/{shown['id']}", {"network": "Lab", "vlan_id": None})
    assert job["status"] == "Succeeded", job.get("error")
    assert (added.switch, added.vlan_id) == ("Lab", None)
    again = next(n for n in document(stack, vm.id)["nics"] if n["id"] == shown["id"])  # the same id
    assert (again["network"], again["vlan_id"]) == ("Lab", None)

    job = run(stack, "DELETE", f"/api/v1/vms/{vm.id}/nics/{shown['id']}")
    assert job["status"] == "Succeeded", job.get("error")
    assert added.id not in [n.id for n in vm.nics]
    last = document(stack, vm.id)["nics"]
    assert len(last) == 1
    problem = refused(stack, "DELETE", f"/api/v1/vms/{vm.id}/nics/{last[0]['id']}", None, 409)
    assert "last network adapter" in problem["detail"]


def test_an_adapter_on_a_switch_the_host_lacks_is_refused_with_the_host_switches(stack: Stack) -> None:
    vm = make_vm(stack)
    problem = refused(stack, "POST", f"/api/v1/vms/{vm.id}/nics", {"network": "Nope", "vlan_id": 5000}, 422)
    fields = {e["field"]: e["message"] for e in problem["errors"]}
    assert set(fields) == {"vlan_id"}  # the body's own problems first, all of them
    problem = refused(stack, "POST", f"/api/v1/vms/{vm.id}/nics", {"network": "Nope"}, 422)
    assert "External" in problem["errors"][0]["message"] and "Nope" in problem["errors"][0]["message"]
    assert len(vm.nics) == 1


# -- the job contract -----------------------------------------------------------------------------------------------


def test_one_change_at_a_time_and_idempotency_keys(stack: Stack) -> None:
    vm = make_vm(stack, "Off")
    faults = stack.lab.host(HOST).server.faults
    faults.update({"slow_operations": {"add_disk": 3000}})  # the first job is still running when the others come
    try:
        headers = {"Idempotency-Key": f"key-{vm.id}"}
        status, _, first = stack.request("POST", f"/api/v1/vms/{vm.id}/disks", {"size_gb": 5}, headers)
        assert status == 202
        status, _, again = stack.request("POST", f"/api/v1/vms/{vm.id}/disks", {"size_gb": 5}, headers)
        assert status == 202 and again["id"] == first["id"]  # the same job
        status, _, other = stack.request("POST", f"/api/v1/vms/{vm.id}/disks", {"size_gb": 5})
        assert status == 409 and other["job_id"] == first["id"]  # the same body without the key: a second change
        status, _, reused = stack.request("POST", f"/api/v1/vms/{vm.id}/disks", {"size_gb": 6}, headers)
        assert status == 409 and "Idempotency-Key" in reused["detail"]
        stack.wait(first["id"], 60)
    finally:
        faults.update({"slow_operations": {}})
    assert len(vm.disks) == 2


def test_a_failed_resize_after_the_shut_down_starts_the_vm_again(stack: Stack) -> None:
    vm = make_vm(stack)
    faults = stack.lab.host(HOST).server.faults
    faults.update({"script_errors": {"set_vm": {"category": "InvalidParameters", "message": "refused by the host"}}})
    try:
        job = run(stack, "PATCH", f"/api/v1/vms/{vm.id}", {"cpu_cores": 4, "allow_restart": True})
    finally:
        faults.update({"script_errors": {}})
    assert job["status"] == "Failed" and job["failed_step"] == "update_vm"
    assert job["error"]["category"] == "InvalidParameters"
    cleanup = job["cleanup"]  # a host that refuses every set_vm refuses the one putting the old values back too
    assert cleanup["status"] == "Failed" and "could not be put back" in cleanup["reason"]
    assert cleanup["actions"] == ["started the VM this job had shut down"]
    assert running(stack, vm) and vm.cpu_count == 2  # on again, unchanged


@pytest.mark.parametrize("path", ["/disks", "/nics"])
def test_changes_need_a_body(stack: Stack, path: str) -> None:
    vm = make_vm(stack, "Off")
    assert refused(stack, "POST", f"/api/v1/vms/{vm.id}{path}", None, 400)["type"].endswith("missing-body")


# -- failures half-way ------------------------------------------------------------------------------------------------


def test_an_add_disk_that_fails_after_new_vhd_leaves_no_file_behind(stack: Stack) -> None:
    vm = make_vm(stack)
    host = lab_host(stack)
    before = {f.path for f in host.fs.walk_files(vm.folder)}
    host.fail_points["add_disk:attach"] = HyperVSimError("Add-VMHardDiskDrive: the operation failed")
    job = run(stack, "POST", f"/api/v1/vms/{vm.id}/disks", {"size_gb": 8})
    assert job["status"] == "Failed" and job["failed_step"] == "add_disk"
    assert job["cleanup"]["status"] == "Succeeded", job["cleanup"]
    (action,) = job["cleanup"]["actions"]
    assert action.startswith("deleted the disk file") and vm.folder.lower() in action.lower()
    assert len(vm.disks) == 1  # on the host: still only the boot disk
    leftover = action.split("the disk file ", 1)[1].split(" the step", 1)[0]
    assert host.fs.get(leftover) is None  # the VHDX New-VHD made is gone
    assert {f.path for f in host.fs.walk_files(vm.folder)} == before


def test_an_add_nic_that_fails_before_its_vlan_is_set_removes_the_adapter(stack: Stack) -> None:
    vm = make_vm(stack)
    host = lab_host(stack)
    host.fail_points["add_nic:vlan"] = HyperVSimError("Set-VMNetworkAdapterVlan: the operation failed")
    job = run(stack, "POST", f"/api/v1/vms/{vm.id}/nics", {"network": "Internal", "vlan_id": 99})
    assert job["status"] == "Failed" and job["cleanup"]["status"] == "Succeeded", job["cleanup"]
    assert job["cleanup"]["actions"][0].startswith("removed the adapter nic-")
    assert [n.switch for n in vm.nics] == ["External"]  # never left on the untagged Internal network


def test_a_resize_that_fails_half_way_gets_the_old_size_back_and_the_vm_started(stack: Stack) -> None:
    vm = make_vm(stack)
    lab_host(stack).fail_points["set_vm:memory"] = HyperVSimError("Set-VMMemory: the operation failed")
    body = {"cpu_cores": 4, "memory_gb": 4, "allow_restart": True}
    job = run(stack, "PATCH", f"/api/v1/vms/{vm.id}", body)
    assert job["status"] == "Failed" and job["failed_step"] == "update_vm"
    assert job["cleanup"]["actions"] == [
        "put back the settings the VM had before",
        "started the VM this job had shut down",
    ], job["cleanup"]
    assert (vm.cpu_count, vm.memory_mb) == (2, 2048)  # Set-VMProcessor's change is undone on the host
    assert running(stack, vm)


def test_an_adapter_change_that_fails_half_way_is_put_back(stack: Stack) -> None:
    vm = make_vm(stack)
    nic = document(stack, vm.id)["nics"][0]
    lab_host(stack).fail_points["set_nic:vlan"] = HyperVSimError("Set-VMNetworkAdapterVlan: the operation failed")
    job = run(stack, "PATCH", f"/api/v1/vms/{vm.id}/nics/{nic['id']}", {"network": "Lab", "vlan_id": 5})
    assert job["status"] == "Failed" and job["cleanup"]["actions"] == ["put back the adapter's switch and VLAN"]
    assert (vm.nics[0].switch, vm.nics[0].vlan_id) == ("External", None)
