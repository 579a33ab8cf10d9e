"""Checkpoints and migration end to end: the API's jobs, checked on the simulated hosts and in the inventory."""

from __future__ import annotations

import uuid

from tests.e2e.test_vm_changes import document, lab_host, refresh, refused, run, running
from tools.hvsim.models import FakeVm, MigrationFault
from tools.hvsim.seed import IMAGES, add_vm
from tools.stack import Stack


def make_vm(stack: Stack, host: str = "hv03", state: str = "Running", *, clustered: bool = False) -> FakeVm:
    model = lab_host(stack, host)
    name = f"cm-{uuid.uuid4().hex[:8]}"
    with model.lock:
        vm = add_vm(model, name, image=IMAGES[3], memory_gb=1, cpu_count=1, state=state, switch="External")
        if clustered:
            assert model.cluster is not None
            model.cluster.add_role(vm)
    refresh(stack, host)
    return vm


def checkpoints(stack: Stack, vm_id: str) -> list[dict[str, object]]:
    status, _, page = stack.request("GET", f"/api/v1/vms/{vm_id}/checkpoints")
    assert status == 200, page
    return list(page["items"])


def test_checkpoint_create_list_apply_and_delete(stack: Stack) -> None:
    vm = make_vm(stack, state="Off")
    job = run(stack, "POST", f"/api/v1/vms/{vm.id}/checkpoints", {"name": "before-upgrade"})
    assert job["status"] == "Succeeded", job.get("error")
    assert [c.name for c in vm.checkpoints] == ["before-upgrade"]  # on the host
    listed = checkpoints(stack, vm.id)
    assert [(c["name"], c["parent_id"]) for c in listed] == [("before-upgrade", None)]
    assert document(stack, vm.id)["checkpoint_count"] == 1  # the inventory
    checkpoint_id = str(listed[0]["id"])

    problem = refused(stack, "POST", f"/api/v1/vms/{vm.id}/checkpoints", {"name": "Before-Upgrade"}, 409)
    assert "already has a checkpoint" in problem["detail"]
    disk = document(stack, vm.id)["disks"][0]
    problem = refused(stack, "POST", f"/api/v1/vms/{vm.id}/disks/{disk['id']}/expand", {"size_gb": 500}, 409)
    assert "checkpoints" in problem["detail"]

    with lab_host(stack).lock:
        vm.cpu_count = 3  # a change after the checkpoint, made on the host
    job = run(stack, "POST", f"/api/v1/vms/{vm.id}/checkpoints/{checkpoint_id}/apply")
    assert job["status"] == "Succeeded", job.get("error")
    assert vm.cpu_count == 1 and vm.current_checkpoint_id == checkpoint_id  # reverted

    job = run(stack, "DELETE", f"/api/v1/vms/{vm.id}/checkpoints/{checkpoint_id}")
    assert job["status"] == "Succeeded", job.get("error")
    assert vm.checkpoints == []
    assert checkpoints(stack, vm.id) == []
    assert document(stack, vm.id)["checkpoint_count"] == 0
    assert refused(stack, "DELETE", f"/api/v1/vms/{vm.id}/checkpoints/{checkpoint_id}", None, 404)


def test_applying_a_checkpoint_to_a_running_vm_needs_allow_restart(stack: Stack) -> None:
    vm = make_vm(stack)
    job = run(stack, "POST", f"/api/v1/vms/{vm.id}/checkpoints", {"name": "known-good"})
    assert job["status"] == "Succeeded", job.get("error")
    checkpoint_id = str(checkpoints(stack, vm.id)[0]["id"])
    problem = refused(stack, "POST", f"/api/v1/vms/{vm.id}/checkpoints/{checkpoint_id}/apply", None, 409)
    assert "Off" in problem["detail"] and "allow_restart" in problem["detail"]
    assert vm.state == "Running"

    body = {"allow_restart": True}
    job = run(stack, "POST", f"/api/v1/vms/{vm.id}/checkpoints/{checkpoint_id}/apply", body)
    assert job["status"] == "Succeeded", job.get("error")
    assert [s["name"] for s in job["steps"]] == ["shutdown", "apply_checkpoint", "start", "refresh"]
    assert vm.current_checkpoint_id == checkpoint_id
    assert running(stack, vm)


def test_a_clustered_vm_live_migrates_to_the_other_node_and_its_row_moves(stack: Stack) -> None:
    vm = make_vm(stack, "hv01", clustered=True)
    assert document(stack, vm.id)["clustered"] is True
    problem = refused(stack, "POST", f"/api/v1/vms/{vm.id}/migrate", {"host": "hv03"}, 422)
    assert "nodes of its cluster" in problem["errors"][0]["message"]
    body = {"host": "hv02", "storage_path": "D:\\VMs"}
    assert refused(stack, "POST", f"/api/v1/vms/{vm.id}/migrate", body, 422)["errors"][0]["field"] == "storage_path"

    job = run(stack, "POST", f"/api/v1/vms/{vm.id}/migrate", {"host": "hv02"})
    assert job["status"] == "Succeeded", job.get("error")
    assert vm.id in lab_host(stack, "hv02").vms and vm.id not in lab_host(stack, "hv01").vms
    assert job["result"]["host"] == "hv02" and job["result"]["result"]["kind"] == "cluster"
    shown = document(stack, vm.id)
    assert (shown["host"], shown["state"]) == ("hv02", "Running")
    assert [v.id for v in stack.repo.iter_vms(host="hv01") if v.id == vm.id] == []


def test_a_stand_alone_vm_moves_with_its_storage(stack: Stack) -> None:
    vm = make_vm(stack, "hv03")
    old_disk = vm.disks[0].path
    assert refused(stack, "POST", f"/api/v1/vms/{vm.id}/migrate", {"host": "hv03"}, 422)
    assert refused(stack, "POST", f"/api/v1/vms/{vm.id}/migrate", {"host": "hv09"}, 404)
    body = {"host": "hv01", "storage_path": "C:\\ClusterStorage\\Volume2\\Moved"}
    job = run(stack, "POST", f"/api/v1/vms/{vm.id}/migrate", body)
    assert job["status"] == "Succeeded", job.get("error")
    assert job["result"]["result"]["kind"] == "shared_nothing"
    destination = lab_host(stack, "hv01")
    assert vm.id in destination.vms and vm.id not in lab_host(stack, "hv03").vms
    assert vm.disks[0].path.startswith("C:\\ClusterStorage\\Volume2\\Moved")
    assert destination.fs.get(vm.disks[0].path) is not None
    assert lab_host(stack, "hv03").fs.get(old_disk) is None  # moved, not copied
    assert document(stack, vm.id)["host"] == "hv01"


def test_a_move_that_fails_part_way_leaves_the_vm_on_its_host_and_no_copy_behind(stack: Stack) -> None:
    vm = make_vm(stack, "hv03")
    stack.lab.backend.migration.faults.append(MigrationFault(after_files=1))
    job = run(stack, "POST", f"/api/v1/vms/{vm.id}/migrate", {"host": "hv01", "storage_path": "C:\\Hyper-V\\Moves\\x1"})
    assert job["status"] == "Failed" and job["error"]["category"] == "ScriptFailed"
    assert job["cleanup"]["status"] == "Succeeded", job["cleanup"]
    assert job["cleanup"]["actions"][0].startswith(
        "removed the partial copy the move had left in C:\\Hyper-V\\Moves\\x1"
    )
    assert vm.id in lab_host(stack, "hv03").vms and vm.id not in lab_host(stack, "hv01").vms
    assert not lab_host(stack, "hv01").fs.walk_files("C:\\Hyper-V\\Moves\\x1")  # on the destination: nothing left
    assert document(stack, vm.id)["host"] == "hv03"
