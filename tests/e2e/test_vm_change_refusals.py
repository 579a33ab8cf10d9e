"""What the day-2 routes refuse before anything is touched: each case answered at once, nothing changed on the host.

The VMs are shaped on the simulated host first (a generation 1 VM, eight adapters, a switch only one host has, a
disconnected destination) and the inventory refreshed, so the API judges them from what the inventory shows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.test_vm_changes import HOST, document, lab_host, make_vm, refresh, refused
from tools.hvsim.models import FakeCheckpoint, FakeFile, FakeSwitch, FakeVm
from tools.hvsim.seed import IMAGES, add_vm
from tools.stack import Stack


def test_a_saved_vm_is_not_resized_even_with_allow_restart(stack: Stack) -> None:
    vm = make_vm(stack, "Saved")
    body = {"memory_gb": 8, "allow_restart": True}
    problem = refused(stack, "PATCH", f"/api/v1/vms/{vm.id}", body, 409)
    assert "Saved" in problem["detail"] and "turn it off first" in problem["detail"]
    assert vm.memory_mb == 2048


def test_disk_and_adapter_ids_that_do_not_exist_are_404(stack: Stack) -> None:
    vm = make_vm(stack)
    for method, path, body in (
        ("POST", "disks/0000000000000000/expand", {"size_gb": 90}),
        ("DELETE", "disks/0000000000000000", None),
        ("PATCH", "nics/0000000000000000", {"vlan_id": 7}),
        ("DELETE", "nics/0000000000000000", None),
        ("POST", f"checkpoints/{uuid.uuid4()}/apply", None),
    ):
        problem = refused(stack, method, f"/api/v1/vms/{vm.id}/{path}", body, 404)
        assert problem["type"].endswith("not-found"), (method, path)


def test_bodies_are_checked_whole(stack: Stack) -> None:
    vm = make_vm(stack)
    problem = refused(stack, "POST", f"/api/v1/vms/{vm.id}/disks", {"size_gb": 0, "thin": True}, 422)
    assert {e["field"] for e in problem["errors"]} == {"size_gb", "thin"}
    nic = document(stack, vm.id)["nics"][0]
    assert refused(stack, "PATCH", f"/api/v1/vms/{vm.id}/nics/{nic['id']}", {}, 422)["errors"]
    problem = refused(stack, "POST", f"/api/v1/vms/{vm.id}/checkpoints", {"name": " padded "}, 422)
    assert problem["errors"][0]["field"] == "name"
    problem = refused(stack, "POST", f"/api/v1/vms/{vm.id}/migrate", {"host": "hv01", "storage_path": "..\\x"}, 422)
    assert problem["errors"][0]["field"] == "storage_path"


def test_a_disk_of_a_vm_with_checkpoints_is_not_removed(stack: Stack) -> None:
    vm = make_vm(stack, "Off")
    host = lab_host(stack)
    with host.lock:
        path = f"{vm.folder}\\extra.vhdx"
        host.fs.write(FakeFile(path, 4 * 1024**2, kind="vhdx", virtual_size=10 * 1024**3, vhd_type="Dynamic"))
        host.add_disk(vm, path)
    status, _, job = stack.request("POST", f"/api/v1/vms/{vm.id}/checkpoints", {"name": "c1"})
    assert status == 202
    stack.wait(job["id"], 60)
    extra = next(d for d in document(stack, vm.id)["disks"] if not d["boot"])
    problem = refused(stack, "DELETE", f"/api/v1/vms/{vm.id}/disks/{extra['id']}", None, 409)
    assert "checkpoints" in problem["detail"]
    assert len(vm.disks) == 2


def test_a_generation_1_vm_changes_adapters_only_while_off(stack: Stack) -> None:
    host = lab_host(stack)
    with host.lock:
        vm = add_vm(host, f"g1-{uuid.uuid4().hex[:6]}", image=IMAGES[0], state="Running", switch="External")
        vm.generation = 1
    refresh(stack)
    problem = refused(stack, "POST", f"/api/v1/vms/{vm.id}/nics", {"network": "Internal"}, 409)
    assert "generation 1" in problem["detail"]
    assert len(vm.nics) == 1


def test_a_vm_with_eight_adapters_gets_no_ninth(stack: Stack) -> None:
    vm = make_vm(stack, "Off")
    host = lab_host(stack)
    with host.lock:
        for _ in range(7):
            host.add_nic(vm, "Lab")
    refresh(stack)
    problem = refused(stack, "POST", f"/api/v1/vms/{vm.id}/nics", {"network": "Internal"}, 409)
    assert "8 network adapters" in problem["detail"]
    assert len(vm.nics) == 8


@pytest.fixture
def private_switch(stack: Stack) -> Iterator[str]:
    """A switch that only hv03 has."""
    host = lab_host(stack)
    name = f"Only-{uuid.uuid4().hex[:4]}"
    with host.lock:
        host.switches.append(FakeSwitch(name, "Private", "", "10.77.0"))
    yield name
    with host.lock:
        host.switches[:] = [s for s in host.switches if s.name != name]


def test_a_destination_without_the_vms_switch_is_refused(stack: Stack, private_switch: str) -> None:
    vm: FakeVm = make_vm(stack, switch=private_switch)
    problem = refused(stack, "POST", f"/api/v1/vms/{vm.id}/migrate", {"host": "hv01"}, 409)
    assert private_switch in problem["detail"]
    assert vm.id in lab_host(stack, HOST).vms


def test_a_disconnected_destination_is_refused(stack: Stack) -> None:
    vm = make_vm(stack)
    faults = stack.lab.host("hv02").server.faults
    faults.update({"refuse_connections": True})
    try:
        refresh(stack, "hv02")
        problem = refused(stack, "POST", f"/api/v1/vms/{vm.id}/migrate", {"host": "hv02"}, 409)
        assert "hv02 is disconnected" in problem["detail"]
    finally:
        faults.update({"refuse_connections": False})
        refresh(stack, "hv02")
    assert vm.id in lab_host(stack, HOST).vms


def test_a_stand_alone_vm_too_big_to_move_within_the_function_timeout_is_refused(stack: Stack) -> None:
    vm = make_vm(stack, "Off")
    host = lab_host(stack)
    with host.lock:
        path = f"{vm.folder}\\data.vhdx"
        host.fs.write(FakeFile(path, 300 * 1024**3, kind="vhdx", virtual_size=300 * 1024**3, vhd_type="Fixed"))
        host.add_disk(vm, path)
    refresh(stack)
    problem = refused(stack, "POST", f"/api/v1/vms/{vm.id}/migrate", {"host": "hv01"}, 409)
    assert "AETHERV_MIGRATION_MAX_STORAGE_GB (40)" in problem["detail"]
    assert vm.id in lab_host(stack, HOST).vms


def test_a_full_scsi_controller_and_fifty_checkpoints_are_refused(stack: Stack) -> None:
    vm = make_vm(stack, "Off")
    host = lab_host(stack)
    with host.lock:
        for index in range(63):  # the boot disk holds SCSI 0:0
            path = f"{vm.folder}\\fill{index:02d}.vhdx"
            host.fs.write(FakeFile(path, 4 * 1024**2, kind="vhdx", virtual_size=1024**3, vhd_type="Dynamic"))
            host.add_disk(vm, path)
    refresh(stack)
    problem = refused(stack, "POST", f"/api/v1/vms/{vm.id}/disks", {"size_gb": 1}, 409)
    assert "64 SCSI disks" in problem["detail"]

    other = make_vm(stack, "Off")
    with host.lock:
        for index in range(50):
            other.checkpoints.append(
                FakeCheckpoint(
                    id=str(uuid.UUID(int=index + 1)),
                    name=f"c{index}",
                    created=other.created,
                    parent_id=str(uuid.UUID(int=index)) if index else None,
                    checkpoint_type="Standard",
                    state="Off",
                    cpu_count=other.cpu_count,
                    memory_mb=other.memory_mb,
                )
            )
    problem = refused(stack, "POST", f"/api/v1/vms/{other.id}/checkpoints", {"name": "one-more"}, 409)
    assert "50 checkpoints" in problem["detail"]
    assert len(other.checkpoints) == 50


def test_an_ide_disk_changes_only_while_the_vm_is_off(stack: Stack) -> None:
    host = lab_host(stack)
    with host.lock:
        vm = add_vm(host, f"ide-{uuid.uuid4().hex[:6]}", image=IMAGES[0], state="Running", switch="External")
        vm.generation = 1
        path = f"{vm.folder}\\second.vhdx"
        host.fs.write(FakeFile(path, 4 * 1024**2, kind="vhdx", virtual_size=10 * 1024**3, vhd_type="Dynamic"))
        host.add_disk(vm, path, controller_type="IDE", controller_number=0, location=1)
    refresh(stack)
    disk = next(d for d in document(stack, vm.id)["disks"] if d["path"] == path)
    assert (disk["controller_type"], disk["boot"]) == ("IDE", False)
    for method, suffix, body in (("POST", "/expand", {"size_gb": 20}), ("DELETE", "", None)):
        problem = refused(stack, method, f"/api/v1/vms/{vm.id}/disks/{disk['id']}{suffix}", body, 409)
        assert "IDE controller" in problem["detail"] and "Off" in problem["detail"]


def test_a_running_vm_bigger_than_the_destinations_free_memory_is_refused(stack: Stack) -> None:
    host = lab_host(stack)
    with host.lock:
        vm = add_vm(host, f"big-{uuid.uuid4().hex[:6]}", memory_gb=250, state="Running", switch="External")
    try:
        refresh(stack)
        refresh(stack, "hv01")
        problem = refused(stack, "POST", f"/api/v1/vms/{vm.id}/migrate", {"host": "hv01"}, 409)
        assert "free memory" in problem["detail"] and "250 GB" in problem["detail"]
    finally:
        with host.lock:
            vm.turn_off()
        refresh(stack)
