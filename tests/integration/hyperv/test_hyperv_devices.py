"""Resizing VMs, data disks and network adapters through the real client stack (WinRM to a live hvsim host).

Each operation is run twice where a workflow might (the second run must find the first one's work), and each rule
the host enforces is broken once to see its category arrive. Outcomes are checked on hvsim's own model.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from functions.hyperv.client import HyperVClient
from functions.hyperv.device_models import RemovedDisk
from functions.hyperv.errors import (
    DiskNotFound,
    InsufficientResources,
    InvalidParameters,
    InvalidVmState,
    NicNotFound,
    ScriptFailed,
    SwitchNotFound,
    VmAlreadyExists,
    VmNotFound,
)
from functions.hyperv.models import VmInfo
from tools.hvsim.exceptions import HyperVSimError
from tools.hvsim.lab import LabHost
from tools.hvsim.models import GB, FakeCheckpoint, FakeFile, FakeHost, FakeVm, join_path

from .test_hyperv_lifecycle import UNKNOWN, new_vm

NIC_ID = re.compile(r"^Microsoft:[0-9A-F-]{36}\\[0-9A-F-]{36}$")
DATA = "app42-data-0f1e2d3c.vhdx"


def add_checkpoint(host: FakeHost, vm_id: str) -> None:
    vm = host.vm(vm_id)
    vm.checkpoints.append(
        FakeCheckpoint(
            id="7c9e6679-7425-40de-944b-e07fc1f90ae7",
            name="before",
            created=datetime(2026, 1, 1, tzinfo=UTC),
            parent_id=None,
            checkpoint_type="Production",
            state="Off",
            cpu_count=vm.cpu_count,
            memory_mb=vm.memory_mb,
        )
    )


def gen1_vm(host: FakeHost, name: str = "legacy7") -> FakeVm:
    """A generation 1 VM made out of band: boot disk on IDE 0:0, no SCSI controller, one adapter."""
    folder = join_path("C:\\Hyper-V", name)
    host.fs.mkdir(folder)
    path = join_path(folder, name + ".vhdx")
    host.fs.write(FakeFile(path, 4 * 1024**2, kind="vhdx", virtual_size=40 * GB, vhd_type="Dynamic"))
    vm = host.add_vm(FakeVm(host, name=name, folder=folder, memory_mb=2048, cpu_count=2, generation=1))
    vm.scsi_controllers = 0
    host.add_disk(vm, path, controller_type="IDE", location=0)
    host.add_nic(vm, "Lab")
    return vm


# -- set_vm -------------------------------------------------------------------------------------------------------


def test_set_vm_resizes_an_off_vm_and_a_rerun_changes_nothing(hv: HyperVClient, standalone: LabHost) -> None:
    vm = new_vm(hv)
    resized = hv.set_vm(vm.id, cpu_cores=4, memory_mb=8192, notes="database")
    assert isinstance(resized, VmInfo)
    assert (resized.processor_count, resized.startup_memory_gb) == (4, 8.0)
    assert resized.notes == "database\naetherv-job: job-1"
    model = standalone.model.vm(vm.id)
    assert (model.cpu_count, model.memory_mb) == (4, 8192)
    hv.start_vm(vm.id)
    again = hv.set_vm(vm.id, cpu_cores=4, memory_mb=8192, notes="database")  # the same values: any state
    assert (again.processor_count, again.state) == (4, "Running")


def test_set_vm_refuses_resizing_a_running_vm_naming_every_problem(hv: HyperVClient) -> None:
    vm = new_vm(hv)
    hv.start_vm(vm.id)
    with pytest.raises(InvalidVmState) as caught:
        hv.set_vm(vm.id, cpu_cores=8, memory_mb=4096 + 2)
    message = str(caught.value)
    assert f"the processor count of VM {vm.id} can only change while it is Off (it is Running)" in message
    assert "the memory of VM" in message
    assert hv.set_vm(vm.id, notes="still running").notes.startswith("still running")


def test_set_vm_invalid_and_too_large_values(hv: HyperVClient) -> None:
    vm = new_vm(hv)
    with pytest.raises(InvalidParameters, match=r"cpu_cores must be 1\.\.32.*multiple of 2 MB"):
        hv.set_vm(vm.id, cpu_cores=64, memory_mb=1023)
    with pytest.raises(InsufficientResources, match="more than the host's memory"):
        hv.set_vm(vm.id, memory_mb=512 * 1024)
    with pytest.raises(VmNotFound):
        hv.set_vm(UNKNOWN, notes="x")
    with pytest.raises(InvalidParameters, match="not a GUID"):
        hv.set_vm("not-a-guid", notes="x")


# -- data disks ---------------------------------------------------------------------------------------------------


def test_add_disk_and_its_rerun(hv: HyperVClient, standalone: LabHost) -> None:
    vm = new_vm(hv)
    hv.start_vm(vm.id)  # SCSI disks hot-add
    disk = hv.add_disk(vm.id, size_gb=50, file_name=DATA)
    assert disk.path == f"C:\\Hyper-V\\app42\\{DATA}"
    assert (disk.controller_type, disk.controller_number, disk.controller_location) == ("SCSI", 0, 2)
    assert (disk.type, disk.capacity_gb, disk.boot) == ("Dynamic", 50.0, False)
    assert hv.add_disk(vm.id, size_gb=50, file_name=DATA) == disk
    assert [d.path for d in standalone.model.vm(vm.id).disks].count(disk.path) == 1
    listed = hv.get_vm(vm.id).disks
    assert [d.boot for d in listed] == [True, False]
    assert listed[1] == disk


def test_add_disk_rerun_after_a_failed_attach(hv: HyperVClient, standalone: LabHost) -> None:
    vm = new_vm(hv)
    standalone.model.fail_points["add_disk:attach"] = HyperVSimError("Add-VMHardDiskDrive: the device is busy")
    with pytest.raises(ScriptFailed, match="busy"):
        hv.add_disk(vm.id, size_gb=10, file_name=DATA)
    assert standalone.model.fs.is_file(f"C:\\Hyper-V\\app42\\{DATA}")  # New-VHD happened
    assert len(hv.get_vm(vm.id).disks) == 1
    assert hv.add_disk(vm.id, size_gb=10, file_name=DATA).path.endswith(DATA)
    assert len(hv.get_vm(vm.id).disks) == 2


def test_an_add_disk_is_undone_by_its_path_attached_or_not(hv: HyperVClient, standalone: LabHost) -> None:
    vm = new_vm(hv)
    path = f"C:\\Hyper-V\\app42\\{DATA}"
    standalone.model.fail_points["add_disk:attach"] = HyperVSimError("Add-VMHardDiskDrive: the device is busy")
    with pytest.raises(ScriptFailed):
        hv.add_disk(vm.id, size_gb=10, file_name=DATA)
    undone = hv.remove_disk(vm.id, "", path=path)  # the file New-VHD left, not attached
    assert (undone.existed, undone.file_deleted) == (False, True)
    assert not standalone.model.fs.is_file(path)
    hv.add_disk(vm.id, size_gb=10, file_name=DATA)
    undone = hv.remove_disk(vm.id, "", path=path)  # attached this time: detached, then deleted
    assert (undone.existed, undone.file_deleted) == (True, True)
    assert len(hv.get_vm(vm.id).disks) == 1
    assert hv.remove_disk(vm.id, "", path=path) == RemovedDisk(existed=False, path=path, file_deleted=False)


def test_add_disk_refusals(hv: HyperVClient, standalone: LabHost) -> None:
    vm = new_vm(hv)
    with pytest.raises(InvalidParameters, match=r"not a \.vhdx file name.*size_gb must be 1\.\.65536"):
        hv.add_disk(vm.id, size_gb=70000, file_name="data.vhd")
    other = new_vm(hv, "app43", job="job-2")
    taken = hv.add_disk(other.id, size_gb=1, file_name="shared.vhdx")
    standalone.model.vm(other.id).disks[-1].path = f"C:\\Hyper-V\\app42\\{DATA}"  # another VM holds our file name
    standalone.model.fs.write(FakeFile(f"C:\\Hyper-V\\app42\\{DATA}", 4096, kind="vhdx", virtual_size=GB))
    with pytest.raises(VmAlreadyExists, match=other.id):
        hv.add_disk(vm.id, size_gb=10, file_name=DATA)
    assert taken.controller_location == 2
    legacy = gen1_vm(standalone.model)
    legacy.set_state("Running")
    with pytest.raises(InvalidVmState, match="no SCSI controller; one can only be added while it is Off"):
        hv.add_disk(legacy.id, size_gb=1, file_name="legacy7-data.vhdx")
    legacy.set_state("Saved")
    with pytest.raises(InvalidVmState, match="it is Saved"):
        hv.add_disk(legacy.id, size_gb=1, file_name="legacy7-data.vhdx")
    legacy.set_state("Off")
    assert hv.add_disk(legacy.id, size_gb=1, file_name="legacy7-data.vhdx").controller_type == "SCSI"
    model = standalone.model.vm(vm.id)
    for index in range(62):
        standalone.model.add_disk(model, f"C:\\Hyper-V\\app42\\x{index}.vhdx")
    with pytest.raises(InsufficientResources, match="no free location"):
        hv.add_disk(vm.id, size_gb=1, file_name="one-more.vhdx")


def test_add_disk_needs_free_space(hv: HyperVClient, standalone: LabHost) -> None:
    vm = new_vm(hv)
    volume = standalone.model.fs.volume_for("C:\\Hyper-V\\app42")
    assert volume is not None
    volume.capacity = volume.used + GB // 4
    with pytest.raises(InsufficientResources, match="needs 1 GB free"):
        hv.add_disk(vm.id, size_gb=1, file_name=DATA)


def test_expand_disk_online_offline_and_rerun(hv: HyperVClient, standalone: LabHost) -> None:
    vm = new_vm(hv)
    disk = hv.add_disk(vm.id, size_gb=10, file_name=DATA)
    hv.start_vm(vm.id)
    grown = hv.expand_disk(vm.id, disk.id, size_gb=40)  # a VHDX on SCSI grows online
    assert (grown.id, grown.capacity_gb) == (disk.id, 40.0)
    assert hv.expand_disk(vm.id, disk.id, size_gb=40) == grown
    file = standalone.model.fs.get(disk.path)
    assert file is not None and file.virtual_size == 40 * GB


def test_expand_disk_refusals(hv: HyperVClient, standalone: LabHost) -> None:
    vm = new_vm(hv)
    disk = hv.add_disk(vm.id, size_gb=10, file_name=DATA)
    with pytest.raises(InvalidParameters, match="cannot shrink"):
        hv.expand_disk(vm.id, disk.id, size_gb=5)
    with pytest.raises(DiskNotFound):
        hv.expand_disk(vm.id, "Microsoft:NOPE\\0\\0\\D", size_gb=20)
    add_checkpoint(standalone.model, vm.id)
    with pytest.raises(InvalidVmState, match="checkpoints"):
        hv.expand_disk(vm.id, disk.id, size_gb=20)
    legacy = gen1_vm(standalone.model)
    legacy.set_state("Running")
    with pytest.raises(InvalidVmState, match="IDE controller"):
        hv.expand_disk(legacy.id, legacy.disks[0].id, size_gb=60)
    legacy.set_state("Off")
    assert hv.expand_disk(legacy.id, legacy.disks[0].id, size_gb=60).capacity_gb == 60.0


def test_remove_disk_and_its_reruns(hv: HyperVClient, standalone: LabHost) -> None:
    vm = new_vm(hv)
    disk = hv.add_disk(vm.id, size_gb=10, file_name=DATA)
    standalone.model.fail_points["remove_disk:delete"] = HyperVSimError("Remove-Item: access denied")
    with pytest.raises(ScriptFailed):
        hv.remove_disk(vm.id, disk.id, path=disk.path)  # detached, file left behind
    assert standalone.model.fs.is_file(disk.path)
    removed = hv.remove_disk(vm.id, disk.id, path=disk.path)
    assert removed == RemovedDisk(existed=False, path=disk.path, file_deleted=True)
    assert not standalone.model.fs.is_file(disk.path)
    again = hv.remove_disk(vm.id, disk.id, path=disk.path)
    assert (again.existed, again.file_deleted, again.warning) == (False, False, None)


def test_remove_disk_refusals_and_kept_files(hv: HyperVClient, standalone: LabHost) -> None:
    vm = new_vm(hv)
    boot = next(d for d in hv.get_vm(vm.id).disks if d.boot)
    with pytest.raises(InvalidVmState, match=r"the boot disk .* cannot be removed"):
        hv.remove_disk(vm.id, boot.id, path=boot.path)
    with pytest.raises(InvalidParameters, match="not the full path of a virtual hard disk"):
        hv.remove_disk(vm.id, boot.id, path="C:\\Hyper-V\\app42\\.aetherv-job")
    outside = "C:\\Hyper-V\\elsewhere.vhdx"
    standalone.model.fs.write(FakeFile(outside, GB, kind="vhdx", virtual_size=GB, vhd_type="Dynamic"))
    drive = standalone.model.add_disk(standalone.model.vm(vm.id), outside)
    kept = hv.remove_disk(vm.id, drive.id, path=outside)
    assert (kept.existed, kept.file_deleted) == (True, False)
    assert kept.warning is not None and "not in the VM's folder" in kept.warning
    assert standalone.model.fs.is_file(outside)
    legacy = gen1_vm(standalone.model)
    data = join_path(legacy.folder, "legacy7-d.vhdx")
    standalone.model.fs.write(FakeFile(data, GB, kind="vhdx", virtual_size=GB, vhd_type="Dynamic"))
    ide = standalone.model.add_disk(legacy, data, controller_type="IDE", location=1)
    legacy.set_state("Running")
    with pytest.raises(InvalidVmState, match="IDE disk"):
        hv.remove_disk(legacy.id, ide.id, path=data)
    disk = hv.add_disk(vm.id, size_gb=1, file_name=DATA)
    add_checkpoint(standalone.model, vm.id)
    with pytest.raises(InvalidVmState, match="checkpoints"):
        hv.remove_disk(vm.id, disk.id, path=disk.path)


# -- network adapters ---------------------------------------------------------------------------------------------


def test_add_nic_hot_and_its_rerun(hv: HyperVClient, standalone: LabHost) -> None:
    vm = new_vm(hv)
    hv.start_vm(vm.id)
    nic = hv.add_nic(vm.id, switch="Internal", vlan_id=120, name="backend-0f1e2d3c")
    assert NIC_ID.match(nic.id) and nic.id.startswith(f"Microsoft:{vm.id.upper()}\\")
    assert (nic.name, nic.switch, nic.vlan_id) == ("backend-0f1e2d3c", "Internal", 120)
    assert hv.add_nic(vm.id, switch="Internal", vlan_id=120, name="backend-0f1e2d3c") == nic
    assert len(standalone.model.vm(vm.id).nics) == 2


def test_add_nic_rerun_after_a_failed_vlan(hv: HyperVClient, standalone: LabHost) -> None:
    vm = new_vm(hv)
    standalone.model.fail_points["add_nic:vlan"] = HyperVSimError("Set-VMNetworkAdapterVlan failed")
    with pytest.raises(ScriptFailed):
        hv.add_nic(vm.id, switch="Lab", vlan_id=7, name="n-1")
    assert hv.add_nic(vm.id, switch="Lab", vlan_id=7, name="n-1").vlan_id == 7
    assert len(standalone.model.vm(vm.id).nics) == 2


def test_an_add_nic_is_undone_by_its_name(hv: HyperVClient, standalone: LabHost) -> None:
    vm = new_vm(hv)
    standalone.model.fail_points["add_nic:vlan"] = HyperVSimError("Set-VMNetworkAdapterVlan failed")
    with pytest.raises(ScriptFailed):
        hv.add_nic(vm.id, switch="Lab", vlan_id=7, name="n-undo")
    assert hv.remove_nic(vm.id, name="n-undo").existed
    assert [n.name for n in standalone.model.vm(vm.id).nics] == ["Network Adapter"]
    assert not hv.remove_nic(vm.id, name="n-undo").existed
    with pytest.raises(InvalidParameters, match="nic_id or name"):
        hv.remove_nic(vm.id)


def test_add_nic_refusals(hv: HyperVClient, standalone: LabHost) -> None:
    vm = new_vm(hv)
    with pytest.raises(SwitchNotFound):
        hv.add_nic(vm.id, switch="NoSuchSwitch", vlan_id=None, name="n")
    with pytest.raises(InvalidParameters, match=r"vlan_id must be 1\.\.4094"):
        hv.add_nic(vm.id, switch="Lab", vlan_id=4095, name="n")
    legacy = gen1_vm(standalone.model)
    legacy.set_state("Running")
    with pytest.raises(InvalidVmState, match="generation 1"):
        hv.add_nic(legacy.id, switch="Lab", vlan_id=None, name="n")
    for index in range(7):
        hv.add_nic(vm.id, switch="Lab", vlan_id=None, name=f"n{index}")
    with pytest.raises(InsufficientResources, match="at most 8"):
        hv.add_nic(vm.id, switch="Lab", vlan_id=None, name="ninth")


def test_set_nic_any_state(hv: HyperVClient) -> None:
    vm = new_vm(hv)
    hv.start_vm(vm.id)
    nic_id = hv.get_vm(vm.id).networks[0].id
    tagged = hv.set_nic(vm.id, nic_id, switch="External", vlan_id=300)
    assert (tagged.switch, tagged.vlan_id) == ("External", 300)
    assert hv.set_nic(vm.id, nic_id, switch="External", vlan_id=300) == tagged
    untagged = hv.set_nic(vm.id, nic_id, switch=None, vlan_id=None)
    assert (untagged.switch, untagged.vlan_id) == ("External", None)
    with pytest.raises(NicNotFound):
        hv.set_nic(vm.id, f"Microsoft:{vm.id.upper()}\\00000000-0000-0000-0000-000000000000", switch=None, vlan_id=None)
    with pytest.raises(SwitchNotFound):
        hv.set_nic(vm.id, nic_id, switch="Nope", vlan_id=None)


def test_remove_nic_and_its_rerun(hv: HyperVClient, standalone: LabHost) -> None:
    vm = new_vm(hv)
    hv.start_vm(vm.id)
    nic_id = hv.get_vm(vm.id).networks[0].id
    assert hv.remove_nic(vm.id, nic_id).existed is True
    assert hv.remove_nic(vm.id, nic_id).existed is False
    assert standalone.model.vm(vm.id).nics == []
    legacy = gen1_vm(standalone.model)
    legacy.set_state("Running")
    with pytest.raises(InvalidVmState, match="generation 1"):
        hv.remove_nic(legacy.id, legacy.nics[0].id)
