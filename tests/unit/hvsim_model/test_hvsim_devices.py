"""hvsim's device handlers on their own: every Hyper-V rule of resizing, data disks and network adapters."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tools.hvsim.exceptions import (
    DiskNotFound,
    HyperVSimError,
    InsufficientResources,
    InvalidParameters,
    InvalidVmState,
    NicNotFound,
    SwitchNotFound,
    VmAlreadyExists,
)
from tools.hvsim.models import GB, FakeCheckpoint, FakeFile, FakeHost, FakeVm, ManualClock, join_path
from tools.hvsim.operations import run_operation
from tools.hvsim.seed import seed_lab

from .test_hvsim_model import make_backend, new_vm

NIC_ID = re.compile(r"^Microsoft:[0-9A-F-]{36}\\[0-9A-F-]{36}$")


@pytest.fixture
def host() -> Iterator[FakeHost]:
    clock = ManualClock()
    backend = make_backend(clock)
    yield seed_lab(backend, hosts=3, vms_per_host=2, seed=7)[2]
    backend.close()


def run(host: FakeHost, operation: str, /, **params: Any) -> Any:
    return run_operation(host, operation, params)


def fails(host: FakeHost, error: type[HyperVSimError], operation: str, /, **params: Any) -> str:
    with pytest.raises(error) as caught:
        run(host, operation, **params)
    return caught.value.message


def gen1_vm(host: FakeHost, name: str = "legacy1", *, scsi: int = 0) -> FakeVm:
    """A generation 1 VM made out of band: its boot disk on IDE 0:0, ``scsi`` SCSI controllers."""
    folder = join_path("C:\\Hyper-V", name)
    host.fs.mkdir(folder)
    path = join_path(folder, name + ".vhdx")
    host.fs.write(FakeFile(path, 4 * 1024**2, kind="vhdx", virtual_size=40 * GB, vhd_type="Dynamic"))
    vm = host.add_vm(FakeVm(host, name=name, folder=folder, memory_mb=2048, cpu_count=2, generation=1))
    vm.scsi_controllers = scsi
    host.add_disk(vm, path, controller_type="IDE", location=0)
    return vm


def checkpoint(vm: FakeVm) -> FakeCheckpoint:
    taken = FakeCheckpoint(
        id="7c9e6679-7425-40de-944b-e07fc1f90ae7",
        name="before",
        created=datetime(2026, 1, 1, tzinfo=UTC),
        parent_id=None,
        checkpoint_type="Production",
        state="Off",
        cpu_count=vm.cpu_count,
        memory_mb=vm.memory_mb,
        disk_paths=[d.path for d in vm.disks],
    )
    vm.checkpoints.append(taken)
    return taken


def data_disk(host: FakeHost, vm_id: str, name: str = "dev42-data-j1.vhdx", size_gb: int = 10) -> dict[str, Any]:
    disk: dict[str, Any] = run(host, "add_disk", vm_id=vm_id, size_gb=size_gb, file_name=name)
    return disk


# -- set_vm -------------------------------------------------------------------------------------------------------


def test_set_vm_changes_cpu_memory_and_notes_while_off_and_again_is_the_same(host: FakeHost) -> None:
    vm_id = new_vm(host, "dev42")
    record = run(host, "set_vm", vm_id=vm_id, cpu_cores=4, memory_mb=6144, notes="web tier")
    assert (record["processor_count"], record["startup_memory_gb"]) == (4, 6.0)
    assert record["notes"] == "web tier\naetherv-job: j1"  # the ownership mark stays
    assert run(host, "set_vm", vm_id=vm_id, cpu_cores=4, memory_mb=6144, notes="web tier") == record


def test_set_vm_refuses_cpu_and_memory_changes_unless_off_naming_both(host: FakeHost) -> None:
    vm_id = new_vm(host, "dev42")
    host.vm(vm_id).set_state("Running")
    message = fails(host, InvalidVmState, "set_vm", vm_id=vm_id, cpu_cores=8, memory_mb=8192)
    assert f"the processor count of VM {vm_id} can only change while it is Off (it is Running)" in message
    assert f"the memory of VM {vm_id} can only change while it is Off (it is Running)" in message
    assert (host.vm(vm_id).cpu_count, host.vm(vm_id).memory_mb) == (2, 2048)


def test_set_vm_same_values_and_notes_work_in_any_state(host: FakeHost) -> None:
    vm_id = new_vm(host, "dev42")
    host.vm(vm_id).set_state("Running")
    record = run(host, "set_vm", vm_id=vm_id, cpu_cores=2, memory_mb=2048, notes="renamed")
    assert record["notes"].startswith("renamed")


def test_set_vm_reports_every_invalid_value_at_once(host: FakeHost) -> None:
    vm_id = new_vm(host, "dev42")
    message = fails(host, InvalidParameters, "set_vm", vm_id=vm_id, cpu_cores=0, memory_mb=1025)
    assert "cpu_cores must be 1..32" in message
    assert "multiple of 2 MB" in message
    assert "memory_mb must be" in fails(host, InvalidParameters, "set_vm", vm_id=vm_id, memory_mb=16)
    assert "cpu_cores must be 1..32" in fails(host, InvalidParameters, "set_vm", vm_id=vm_id, cpu_cores=33)
    assert "must be an integer" in fails(host, InvalidParameters, "set_vm", vm_id=vm_id, cpu_cores="two")


def test_set_vm_caps_processors_by_generation(host: FakeHost) -> None:
    host.logical_processors = 512
    vm = gen1_vm(host)
    assert "a generation 1 VM at most 64" in fails(host, InvalidParameters, "set_vm", vm_id=vm.id, cpu_cores=65)
    assert run(host, "set_vm", vm_id=vm.id, cpu_cores=64)["processor_count"] == 64
    gen2 = new_vm(host, "dev42")
    assert "at most 240" in fails(host, InvalidParameters, "set_vm", vm_id=gen2, cpu_cores=241)


def test_set_vm_memory_over_the_host_is_insufficient(host: FakeHost) -> None:
    vm_id = new_vm(host, "dev42")
    message = fails(host, InsufficientResources, "set_vm", vm_id=vm_id, memory_mb=300 * 1024)
    assert "more than the host's memory" in message


def test_set_vm_memory_must_fit_the_dynamic_range(host: FakeHost) -> None:
    vm_id = new_vm(host, "dev42")
    vm = host.vm(vm_id)
    vm.dynamic_memory, vm.minimum_mb, vm.maximum_mb = True, 1024, 4096
    assert "dynamic memory range" in fails(host, InvalidParameters, "set_vm", vm_id=vm_id, memory_mb=8192)


# -- add_disk -----------------------------------------------------------------------------------------------------


def test_add_disk_makes_a_dynamic_vhdx_in_the_vm_folder_on_scsi_0(host: FakeHost) -> None:
    vm_id = new_vm(host, "dev42")
    disk = data_disk(host, vm_id)
    folder = host.vm(vm_id).folder
    assert disk["path"] == join_path(folder, "dev42-data-j1.vhdx")
    assert (disk["controller_type"], disk["controller_number"], disk["controller_location"]) == ("SCSI", 0, 2)
    assert (disk["type"], disk["capacity_gb"], disk["boot"]) == ("Dynamic", 10.0, False)
    file = host.fs.get(disk["path"])
    assert file is not None and file.virtual_size == 10 * GB


def test_add_disk_twice_returns_the_same_disk(host: FakeHost) -> None:
    vm_id = new_vm(host, "dev42")
    first = data_disk(host, vm_id)
    assert data_disk(host, vm_id) == first
    assert len(host.vm(vm_id).disks) == 2


def test_add_disk_rerun_attaches_the_file_a_failed_run_left(host: FakeHost) -> None:
    vm_id = new_vm(host, "dev42")
    host.fail_points["add_disk:attach"] = HyperVSimError("Add-VMHardDiskDrive failed")
    with pytest.raises(HyperVSimError, match="Add-VMHardDiskDrive"):
        data_disk(host, vm_id)
    path = join_path(host.vm(vm_id).folder, "dev42-data-j1.vhdx")
    assert host.fs.is_file(path) and len(host.vm(vm_id).disks) == 1  # New-VHD happened, the attach did not
    assert data_disk(host, vm_id)["path"] == path
    assert len(host.vm(vm_id).disks) == 2


def test_add_disk_refuses_a_file_attached_to_another_vm(host: FakeHost) -> None:
    first = new_vm(host, "dev42")
    disk = data_disk(host, first)
    other = host.add_vm(FakeVm(host, name="other", folder=host.vm(first).folder, memory_mb=512, cpu_count=1))
    host.add_disk(other, join_path(host.vm(first).folder, "dev42.vhdx"))  # same folder, so the same file name
    run(host, "remove_disk", vm_id=first, disk_id=disk["id"], path=disk["path"])
    host.fs.write(FakeFile(disk["path"], 4 * 1024**2, kind="vhdx", virtual_size=GB))
    host.add_disk(other, disk["path"])
    message = fails(host, VmAlreadyExists, "add_disk", vm_id=first, size_gb=10, file_name="dev42-data-j1.vhdx")
    assert other.id in message


def test_add_disk_validates_name_and_size_at_once(host: FakeHost) -> None:
    vm_id = new_vm(host, "dev42")
    message = fails(host, InvalidParameters, "add_disk", vm_id=vm_id, size_gb=0, file_name="..\\x.vhdx")
    assert "is not a .vhdx file name" in message and "size_gb must be 1..65536" in message
    fails(host, InvalidParameters, "add_disk", vm_id=vm_id, size_gb=65537, file_name="a.vhdx")
    fails(host, InvalidParameters, "add_disk", vm_id=vm_id, size_gb=1, file_name="a.vhd")
    host.fs.write(FakeFile(join_path(host.vm(vm_id).folder, "notes.vhdx"), 10, kind="text"))
    assert "not a virtual hard disk" in fails(
        host, InvalidParameters, "add_disk", vm_id=vm_id, size_gb=1, file_name="notes.vhdx"
    )


def test_add_disk_hot_adds_to_a_running_vm_but_not_a_saved_one(host: FakeHost) -> None:
    vm_id = new_vm(host, "dev42")
    host.vm(vm_id).set_state("Running")
    assert data_disk(host, vm_id)["controller_location"] == 2
    host.vm(vm_id).set_state("Saved")
    assert "while it is Off or Running (it is Saved)" in fails(
        host, InvalidVmState, "add_disk", vm_id=vm_id, size_gb=1, file_name="b.vhdx"
    )


def test_add_disk_gives_a_generation_1_vm_a_scsi_controller_only_while_off(host: FakeHost) -> None:
    vm = gen1_vm(host)
    vm.set_state("Running")
    message = fails(host, InvalidVmState, "add_disk", vm_id=vm.id, size_gb=5, file_name="d.vhdx")
    assert "has no SCSI controller; one can only be added while it is Off (it is Running)" in message
    assert not host.fs.is_file(join_path(vm.folder, "d.vhdx"))  # checked before New-VHD
    vm.set_state("Off")
    disk = run(host, "add_disk", vm_id=vm.id, size_gb=5, file_name="d.vhdx")
    assert (disk["controller_type"], disk["controller_location"], vm.scsi_controllers) == ("SCSI", 0, 1)


def test_add_disk_needs_a_free_scsi_location(host: FakeHost) -> None:
    vm_id = new_vm(host, "dev42")
    vm = host.vm(vm_id)
    for index in range(62):  # the OS disk and the DVD hold two of the 64
        host.add_disk(vm, join_path(vm.folder, f"x{index}.vhdx"))
    assert "no free location (64 in use)" in fails(
        host, InsufficientResources, "add_disk", vm_id=vm_id, size_gb=1, file_name="full.vhdx"
    )


def test_add_disk_needs_a_gigabyte_free(host: FakeHost) -> None:
    vm_id = new_vm(host, "dev42")
    volume = host.fs.volume_for(host.vm(vm_id).folder)
    assert volume is not None
    volume.capacity = volume.used + GB // 2
    assert "needs 1 GB free" in fails(
        host, InsufficientResources, "add_disk", vm_id=vm_id, size_gb=1, file_name="a.vhdx"
    )


def test_disk_ids_stay_when_other_disks_come_and_go(host: FakeHost) -> None:
    vm_id = new_vm(host, "dev42")
    one = data_disk(host, vm_id, "one.vhdx")
    two = data_disk(host, vm_id, "two.vhdx")
    run(host, "remove_disk", vm_id=vm_id, disk_id=one["id"], path=one["path"])
    three = data_disk(host, vm_id, "three.vhdx")
    ids = {d["id"]: d["path"] for d in run(host, "get_vm", vm_id=vm_id)["disks"]}
    assert ids[two["id"]] == two["path"]
    assert three["id"] == one["id"] and three["controller_location"] == one["controller_location"]  # the freed slot


# -- expand_disk --------------------------------------------------------------------------------------------------


def test_expand_disk_grows_and_the_same_size_is_a_no_op(host: FakeHost) -> None:
    vm_id = new_vm(host, "dev42")
    disk = data_disk(host, vm_id)
    grown = run(host, "expand_disk", vm_id=vm_id, disk_id=disk["id"], size_gb=20)
    assert grown["capacity_gb"] == 20.0
    host.vm(vm_id).set_state("Saved")  # a rerun of a finished call needs no particular state
    assert run(host, "expand_disk", vm_id=vm_id, disk_id=disk["id"], size_gb=20) == grown


def test_expand_disk_refuses_shrinking_and_unknown_disks(host: FakeHost) -> None:
    vm_id = new_vm(host, "dev42")
    disk = data_disk(host, vm_id)
    assert "cannot shrink" in fails(host, InvalidParameters, "expand_disk", vm_id=vm_id, disk_id=disk["id"], size_gb=5)
    fails(host, DiskNotFound, "expand_disk", vm_id=vm_id, disk_id="Microsoft:nope", size_gb=50)
    host.fs.remove(disk["path"])
    assert "is missing" in fails(host, DiskNotFound, "expand_disk", vm_id=vm_id, disk_id=disk["id"], size_gb=50)


def test_expand_disk_refuses_a_vm_with_checkpoints(host: FakeHost) -> None:
    vm_id = new_vm(host, "dev42")
    disk = data_disk(host, vm_id)
    checkpoint(host.vm(vm_id))
    assert "checkpoints" in fails(host, InvalidVmState, "expand_disk", vm_id=vm_id, disk_id=disk["id"], size_gb=50)


def test_expand_disk_online_only_for_a_vhdx_on_scsi(host: FakeHost) -> None:
    vm_id = new_vm(host, "dev42")
    disk = data_disk(host, vm_id)
    host.vm(vm_id).set_state("Running")
    assert run(host, "expand_disk", vm_id=vm_id, disk_id=disk["id"], size_gb=15)["capacity_gb"] == 15.0
    host.vm(vm_id).set_state("Paused")
    assert "the VM is Paused" in fails(host, InvalidVmState, "expand_disk", vm_id=vm_id, disk_id=disk["id"], size_gb=16)
    legacy = gen1_vm(host)
    legacy.set_state("Running")
    boot = legacy.disks[0]
    message = fails(host, InvalidVmState, "expand_disk", vm_id=legacy.id, disk_id=boot.id, size_gb=50)
    assert "the disk is on an IDE controller" in message
    old = host.vm(vm_id)
    old.set_state("Running")
    path = join_path(old.folder, "old.vhd")
    host.fs.write(FakeFile(path, GB, kind="vhdx", virtual_size=GB, vhd_type="Dynamic"))
    vhd = host.add_disk(old, path)
    assert "the disk is a .vhd file" in fails(
        host, InvalidVmState, "expand_disk", vm_id=vm_id, disk_id=vhd.id, size_gb=2
    )
    old.set_state("Off")
    assert "at most 2040 GB" in fails(host, InvalidParameters, "expand_disk", vm_id=vm_id, disk_id=vhd.id, size_gb=2041)


def test_expand_fixed_disk_needs_the_space(host: FakeHost) -> None:
    vm_id = new_vm(host, "dev42")
    disk = data_disk(host, vm_id)
    file = host.fs.get(disk["path"])
    assert file is not None
    file.vhd_type, file.size = "Fixed", 10 * GB
    volume = host.fs.volume_for(disk["path"])
    assert volume is not None
    volume.capacity = volume.used + 5 * GB
    assert "needs 90 GB" in fails(
        host, InsufficientResources, "expand_disk", vm_id=vm_id, disk_id=disk["id"], size_gb=100
    )
    assert run(host, "expand_disk", vm_id=vm_id, disk_id=disk["id"], size_gb=14)["file_size_gb"] == 14.0


# -- remove_disk --------------------------------------------------------------------------------------------------


def test_remove_disk_detaches_and_deletes_and_a_rerun_is_success(host: FakeHost) -> None:
    vm_id = new_vm(host, "dev42")
    disk = data_disk(host, vm_id)
    removed = run(host, "remove_disk", vm_id=vm_id, disk_id=disk["id"], path=disk["path"])
    assert removed == {"existed": True, "path": disk["path"], "file_deleted": True, "warning": None}
    assert not host.fs.is_file(disk["path"])
    again = run(host, "remove_disk", vm_id=vm_id, disk_id=disk["id"], path=disk["path"])
    assert (again["existed"], again["file_deleted"]) == (False, False)


def test_remove_disk_rerun_deletes_the_file_a_failed_run_left(host: FakeHost) -> None:
    vm_id = new_vm(host, "dev42")
    disk = data_disk(host, vm_id)
    host.fail_points["remove_disk:delete"] = HyperVSimError("Remove-Item failed")
    with pytest.raises(HyperVSimError):
        run(host, "remove_disk", vm_id=vm_id, disk_id=disk["id"], path=disk["path"])
    assert host.fs.is_file(disk["path"]) and len(host.vm(vm_id).disks) == 1
    again = run(host, "remove_disk", vm_id=vm_id, disk_id=disk["id"], path=disk["path"])
    assert (again["existed"], again["file_deleted"]) == (False, True)


def test_remove_disk_refuses_the_boot_disk_and_checkpoints(host: FakeHost) -> None:
    vm_id = new_vm(host, "dev42")
    boot = next(d for d in run(host, "get_vm", vm_id=vm_id)["disks"] if d["boot"])
    message = fails(host, InvalidVmState, "remove_disk", vm_id=vm_id, disk_id=boot["id"], path=boot["path"])
    assert f"the boot disk {boot['id']} of VM {vm_id} cannot be removed" in message
    disk = data_disk(host, vm_id)
    checkpoint(host.vm(vm_id))
    assert "checkpoints" in fails(
        host, InvalidVmState, "remove_disk", vm_id=vm_id, disk_id=disk["id"], path=disk["path"]
    )


def test_remove_disk_ide_only_while_off(host: FakeHost) -> None:
    vm = gen1_vm(host)
    path = join_path(vm.folder, "data.vhdx")
    host.fs.write(FakeFile(path, GB, kind="vhdx", virtual_size=GB, vhd_type="Dynamic"))
    drive = host.add_disk(vm, path, controller_type="IDE", location=1)
    vm.set_state("Running")
    assert "an IDE disk can only be removed while" in fails(
        host, InvalidVmState, "remove_disk", vm_id=vm.id, disk_id=drive.id, path=path
    )
    vm.set_state("Off")
    assert run(host, "remove_disk", vm_id=vm.id, disk_id=drive.id, path=path)["file_deleted"] is True


def test_remove_disk_never_deletes_outside_the_vm_folder_or_a_file_in_use(host: FakeHost) -> None:
    vm_id = new_vm(host, "dev42")
    vm = host.vm(vm_id)
    outside = "C:\\Hyper-V\\shared.vhdx"
    host.fs.write(FakeFile(outside, GB, kind="vhdx", virtual_size=GB, vhd_type="Dynamic"))
    drive = host.add_disk(vm, outside)
    result = run(host, "remove_disk", vm_id=vm_id, disk_id=drive.id, path=outside)
    assert (result["existed"], result["file_deleted"]) == (True, False)
    assert "is not in the VM's folder" in result["warning"] and host.fs.is_file(outside)
    disk = data_disk(host, vm_id)
    other = next(v for v in host.vms.values() if v is not vm)
    vm.disks = [d for d in vm.disks if d.path != disk["path"]]  # detached here, attached to another VM
    host.add_disk(other, disk["path"])
    kept = run(host, "remove_disk", vm_id=vm_id, disk_id=disk["id"], path=disk["path"])
    assert "is attached to VM" in kept["warning"] and host.fs.is_file(disk["path"])


def test_remove_disk_checks_the_path(host: FakeHost) -> None:
    vm_id = new_vm(host, "dev42")
    disk = data_disk(host, vm_id)
    fails(
        host, InvalidParameters, "remove_disk", vm_id=vm_id, disk_id=disk["id"], path="C:\\Hyper-V\\dev42\\.aetherv-job"
    )
    other = join_path(host.vm(vm_id).folder, "dev42.vhdx")
    assert "not '" in fails(host, InvalidParameters, "remove_disk", vm_id=vm_id, disk_id=disk["id"], path=other)


# -- boot disk in the inventory -----------------------------------------------------------------------------------


def test_boot_disk_rules(host: FakeHost) -> None:
    vm_id = new_vm(host, "dev42")
    data = data_disk(host, vm_id)
    vm = host.vm(vm_id)
    boots = {d["name"]: d["boot"] for d in run(host, "get_vm", vm_id=vm_id)["disks"]}
    assert boots == {"dev42.vhdx": True, "dev42-data-j1.vhdx": False}
    vm.first_boot_device = data["id"]  # the firmware boots the data disk first
    assert [d["boot"] for d in run(host, "get_vm", vm_id=vm_id)["disks"]] == [False, True]
    vm.first_boot_device = None  # no boot order known: SCSI 0:0
    assert [d["boot"] for d in run(host, "get_vm", vm_id=vm_id)["disks"]] == [True, False]
    legacy = gen1_vm(host)
    record = run(host, "get_vm", vm_id=legacy.id)["disks"][0]
    assert (record["controller_type"], record["controller_number"], record["controller_location"]) == ("IDE", 0, 0)
    assert record["boot"] is True
    assert "\\83F8638B-8DCA-4152-9EDA-2CA8B33039B4\\0\\0\\D" in record["id"]


# -- network adapters ---------------------------------------------------------------------------------------------


def test_add_nic_hot_adds_to_generation_2_and_a_rerun_finds_it_by_name(host: FakeHost) -> None:
    vm_id = new_vm(host, "dev42")
    host.vm(vm_id).set_state("Running")
    nic = run(host, "add_nic", vm_id=vm_id, switch="Internal", vlan_id=20, name="backend-j1")
    assert NIC_ID.match(nic["id"]) and nic["id"].startswith(f"Microsoft:{vm_id.upper()}\\")
    assert (nic["name"], nic["switch"], nic["vlan_id"]) == ("backend-j1", "Internal", 20)
    assert run(host, "add_nic", vm_id=vm_id, switch="Internal", vlan_id=20, name="backend-j1") == nic
    assert len(host.vm(vm_id).nics) == 2


def test_add_nic_rerun_completes_a_run_that_stopped_before_the_vlan(host: FakeHost) -> None:
    vm_id = new_vm(host, "dev42")
    host.fail_points["add_nic:vlan"] = HyperVSimError("Set-VMNetworkAdapterVlan failed")
    with pytest.raises(HyperVSimError):
        run(host, "add_nic", vm_id=vm_id, switch="Internal", vlan_id=30, name="n1")
    assert host.vm(vm_id).nics[-1].vlan_id is None
    assert run(host, "add_nic", vm_id=vm_id, switch="Internal", vlan_id=30, name="n1")["vlan_id"] == 30
    assert len(host.vm(vm_id).nics) == 2


def test_add_nic_generation_1_only_while_off(host: FakeHost) -> None:
    vm = gen1_vm(host)
    vm.set_state("Running")
    message = fails(host, InvalidVmState, "add_nic", vm_id=vm.id, switch="Lab", vlan_id=None, name="n")
    assert "generation 1 VM" in message and "(it is Running)" in message
    vm.set_state("Off")
    assert run(host, "add_nic", vm_id=vm.id, switch="Lab", vlan_id=None, name="n")["vlan_id"] is None


def test_add_nic_rules(host: FakeHost) -> None:
    vm_id = new_vm(host, "dev42")
    fails(host, SwitchNotFound, "add_nic", vm_id=vm_id, switch="Nope", vlan_id=None, name="n")
    message = fails(host, InvalidParameters, "add_nic", vm_id=vm_id, switch="Lab", vlan_id=4095, name="")
    assert "vlan_id must be 1..4094" in message and "name must be" in message
    fails(host, InvalidParameters, "add_nic", vm_id=vm_id, switch="Lab", vlan_id=0, name="n")
    host.vm(vm_id).set_state("Saved")
    fails(host, InvalidVmState, "add_nic", vm_id=vm_id, switch="Lab", vlan_id=None, name="n")
    host.vm(vm_id).set_state("Off")
    for index in range(7):
        run(host, "add_nic", vm_id=vm_id, switch="Lab", vlan_id=None, name=f"n{index}")
    assert "at most 8" in fails(
        host, InsufficientResources, "add_nic", vm_id=vm_id, switch="Lab", vlan_id=None, name="n9"
    )
    host.add_nic(host.vm(vm_id), "Lab", name="n0")
    assert "2 network adapters named" in fails(
        host, InvalidParameters, "add_nic", vm_id=vm_id, switch="Lab", vlan_id=None, name="n0"
    )


def test_set_nic_changes_switch_and_vlan_in_any_state(host: FakeHost) -> None:
    vm_id = new_vm(host, "dev42")
    host.vm(vm_id).set_state("Paused")
    nic_id = host.vm(vm_id).nics[0].id
    changed = run(host, "set_nic", vm_id=vm_id, nic_id=nic_id.lower(), switch="External", vlan_id=40)
    assert (changed["switch"], changed["vlan_id"]) == ("External", 40)
    kept = run(host, "set_nic", vm_id=vm_id, nic_id=nic_id, switch=None, vlan_id=None)
    assert (kept["switch"], kept["vlan_id"]) == ("External", None)  # untagged, still connected
    fails(host, NicNotFound, "set_nic", vm_id=vm_id, nic_id="Microsoft:nope", switch=None, vlan_id=None)
    fails(host, SwitchNotFound, "set_nic", vm_id=vm_id, nic_id=nic_id, switch="Nope", vlan_id=None)
    fails(host, InvalidParameters, "set_nic", vm_id=vm_id, nic_id=nic_id, switch=None, vlan_id=5000)


def test_remove_nic_then_again_and_generation_1_only_while_off(host: FakeHost) -> None:
    vm_id = new_vm(host, "dev42")
    nic_id = host.vm(vm_id).nics[0].id
    host.vm(vm_id).set_state("Running")
    assert run(host, "remove_nic", vm_id=vm_id, nic_id=nic_id) == {"existed": True}
    assert run(host, "remove_nic", vm_id=vm_id, nic_id=nic_id) == {"existed": False}
    legacy = gen1_vm(host)
    nic = host.add_nic(legacy, "Lab")
    legacy.set_state("Running")
    fails(host, InvalidVmState, "remove_nic", vm_id=legacy.id, nic_id=nic.id)
    assert legacy.nics == [nic]
