"""Power actions, removal, ISO ejection and cluster membership through the real client stack."""

from __future__ import annotations

import pytest

from functions.hyperv.client import HyperVClient
from functions.hyperv.errors import ClusterError, InvalidVmState, OperationTimeout, VmNotFound
from functions.hyperv.models import CreateVmSpec, PrepareDiskSpec, VmInfo
from tools.hvsim.lab import Lab, LabHost
from tools.hvsim.models import FakeFile, FakeHost, ManualClock, TransitionTimes
from tools.hvsim.seed import IMAGES, add_vm

UNKNOWN = "00000000-0000-4000-8000-0000000000aa"


def new_vm(hv: HyperVClient, name: str = "app42", job: str = "job-1", image: str | None = "Ubuntu 24.04 LTS") -> VmInfo:
    disk = hv.prepare_disk(PrepareDiskSpec(vm_name=name, job_id=job, image_name=image, disk_gb=None if image else 20))
    spec = CreateVmSpec(
        name=name, job_id=job, disk_path=disk.path, cpu_count=2, memory_gb=4, os_family="linux", switch_name="Lab"
    )
    return hv.create_vm(spec)


def seeded(host: FakeHost, state: str) -> str:
    """A VM in ``state`` on ``host``: a seeded one, or one made out of band for the test."""
    found = next((vm.id for vm in host.vms.values() if vm.state == state and not vm.clustered), None)
    return found or add_vm(host, f"oob-{state.lower()}", image=IMAGES[3], state=state, root="C:\\").id


# -- power ------------------------------------------------------------------------------------------------------


def test_start_stop_cycle(hv: HyperVClient) -> None:
    vm = new_vm(hv)
    started = hv.start_vm(vm.id)
    assert (started.previous_state, started.state, started.changed) == ("Off", "Running", True)
    running = hv.get_vm(vm.id)
    assert running.state == "Running"
    assert running.os_name == "Ubuntu 24.04.1 LTS"
    assert running.ip_addresses
    assert running.ip_addresses[0].startswith("10.20.0.")
    stopped = hv.stop_vm(vm.id)
    assert (stopped.previous_state, stopped.state) == ("Running", "Off")


def test_start_running_is_invalid_unless_if_needed(hv: HyperVClient, standalone: LabHost) -> None:
    running = seeded(standalone.model, "Running")
    with pytest.raises(InvalidVmState, match="it is Running"):
        hv.start_vm(running)
    again = hv.start_vm(running, if_needed=True)
    assert (again.state, again.changed) == ("Running", False)


def test_start_saved_and_resume_paused(hv: HyperVClient, standalone: LabHost) -> None:
    for state in ("Saved", "Paused"):
        result = hv.start_vm(seeded(standalone.model, state))
        assert (result.previous_state, result.state) == (state, "Running")


def test_stop_off_is_idempotent(hv: HyperVClient, standalone: LabHost) -> None:
    off = seeded(standalone.model, "Off")
    result = hv.stop_vm(off)
    assert (result.previous_state, result.state, result.changed) == ("Off", "Off", False)


def test_shutdown_running_guest(hv: HyperVClient, standalone: LabHost) -> None:
    result = hv.shutdown_vm(seeded(standalone.model, "Running"))
    assert (result.previous_state, result.state, result.changed) == ("Running", "Off", True)
    assert hv.shutdown_vm(result.id).changed is False


def test_shutdown_needs_integration_services(hv: HyperVClient) -> None:
    blank = new_vm(hv, "blank1", image=None)  # nothing installed: no integration services
    hv.start_vm(blank.id)
    with pytest.raises(InvalidVmState, match="integration service"):
        hv.shutdown_vm(blank.id)


def test_shutdown_times_out_on_a_slow_guest(hv: HyperVClient, lab: Lab, lab_clock: ManualClock) -> None:
    lab.backend.times = TransitionTimes(stop=600)
    vm_id = seeded(lab.host("hv03").model, "Running")
    started = lab_clock()
    with pytest.raises(OperationTimeout, match="within 30 s"):
        hv.shutdown_vm(vm_id, timeout_seconds=30)
    assert 30 <= lab_clock() - started < 32
    assert hv.get_vm(vm_id).state == "Stopping"
    lab_clock.advance(600)
    assert hv.shutdown_vm(vm_id).state == "Off"  # a retry waits for the shutdown already under way


def test_restart_running_and_refuse_off(hv: HyperVClient, standalone: LabHost) -> None:
    running = seeded(standalone.model, "Running")
    model = standalone.model.vm(running)
    boots = model.boot_count
    result = hv.restart_vm(running)
    assert (result.previous_state, result.state) == ("Running", "Running")
    assert model.boot_count == boots + 1
    with pytest.raises(InvalidVmState, match="it is Off"):
        hv.restart_vm(seeded(standalone.model, "Off"))


def test_transitions_take_time(hv: HyperVClient, lab: Lab, lab_clock: ManualClock) -> None:
    lab.backend.times = TransitionTimes(start=10)
    vm = new_vm(hv)
    assert hv.start_vm(vm.id).state == "Starting"
    with pytest.raises(InvalidVmState, match="it is Starting"):
        hv.start_vm(vm.id)
    assert hv.start_vm(vm.id, if_needed=True).changed is False
    lab_clock.advance(10)
    assert hv.get_vm(vm.id).state == "Running"


def test_power_on_unknown_vm(hv: HyperVClient) -> None:
    for action in (hv.start_vm, hv.stop_vm, hv.shutdown_vm, hv.restart_vm, hv.eject_iso):
        with pytest.raises(VmNotFound):
            action(UNKNOWN)


# -- remove -----------------------------------------------------------------------------------------------------


def test_remove_vm_deletes_everything_it_made(hv: HyperVClient, standalone: LabHost) -> None:
    vm = new_vm(hv)
    hv.start_vm(vm.id)
    free_before = standalone.model.fs.volumes[0].free
    result = hv.remove_vm(vm.id)
    assert result.existed
    assert result.folder_removed
    assert result.kept_files == []
    assert sorted(result.deleted_files) == [
        "C:\\Hyper-V\\app42\\LinuxProvisioning.iso",
        "C:\\Hyper-V\\app42\\app42.vhdx",
    ]
    assert standalone.model.find_vm(vm.id) is None
    assert not standalone.model.fs.exists("C:\\Hyper-V\\app42")
    assert standalone.model.fs.volumes[0].free > free_before
    again = hv.remove_vm(vm.id)
    assert (again.existed, again.deleted_files, again.folder_removed) == (False, [], False)


def test_remove_vm_keeps_a_folder_with_unknown_content(hv: HyperVClient, standalone: LabHost) -> None:
    vm = new_vm(hv)
    standalone.model.fs.write(FakeFile("C:\\Hyper-V\\app42\\notes.txt", 10))
    result = hv.remove_vm(vm.id)
    assert not result.folder_removed
    assert result.kept_files == ["C:\\Hyper-V\\app42\\notes.txt"]
    assert "C:\\Hyper-V\\app42\\app42.vhdx" in result.deleted_files
    assert standalone.model.fs.is_file("C:\\Hyper-V\\app42\\notes.txt")


def test_remove_vm_not_made_by_aetherv_keeps_its_folder(hv: HyperVClient, standalone: LabHost) -> None:
    vm = next(vm for vm in standalone.model.vms.values() if vm.state == "Running")
    result = hv.remove_vm(vm.id)
    assert result.existed
    assert not result.folder_removed
    assert result.deleted_files == [vm.disks[0].path] if vm.disks else True
    assert standalone.model.fs.is_dir(vm.folder)


def test_remove_vm_never_deletes_a_shared_or_library_disk(hv: HyperVClient, standalone: LabHost) -> None:
    host = standalone.model
    owner = add_vm(host, "owner1", image=None)
    borrower = add_vm(host, "borrower1", image=None)
    host.add_disk(borrower, owner.disks[0].path)
    host.add_disk(borrower, "C:\\Hyper-V\\DiskImages\\Debian 12.vhdx")
    result = hv.remove_vm(borrower.id)
    assert owner.disks[0].path not in result.deleted_files
    assert host.fs.is_file(owner.disks[0].path)
    assert host.fs.is_file("C:\\Hyper-V\\DiskImages\\Debian 12.vhdx")


def test_remove_compensates_a_create_that_failed_before_the_vm_existed(hv: HyperVClient, standalone: LabHost) -> None:
    hv.prepare_disk(PrepareDiskSpec(vm_name="half1", job_id="job-h", image_name="Debian 12"))
    wrong_job = hv.remove_vm(None, vm_name="half1", job_id="job-other")
    assert not wrong_job.folder_removed
    assert standalone.model.fs.exists("C:\\Hyper-V\\half1")
    result = hv.remove_vm(None, vm_name="half1", job_id="job-h")
    assert result.folder_removed
    assert result.deleted_files == ["C:\\Hyper-V\\half1\\half1.vhdx"]
    assert not standalone.model.fs.exists("C:\\Hyper-V\\half1")


def test_remove_clustered_vm_needs_unclustering_first(hv_node: HyperVClient, node: LabHost) -> None:
    clustered = next(vm for vm in node.model.vms.values() if vm.clustered)
    with pytest.raises(ClusterError, match="remove it from the cluster first"):
        hv_node.remove_vm(clustered.id)
    assert hv_node.remove_from_cluster(clustered.id).changed
    assert hv_node.remove_vm(clustered.id).existed


# -- eject ------------------------------------------------------------------------------------------------------


def test_eject_iso_removes_drive_and_copy(hv: HyperVClient, standalone: LabHost) -> None:
    vm = new_vm(hv)
    result = hv.eject_iso(vm.id)
    assert result.removed_drives == 1
    assert result.deleted_files == ["C:\\Hyper-V\\app42\\LinuxProvisioning.iso"]
    assert standalone.model.vm(vm.id).dvds == []
    assert standalone.model.fs.is_file("C:\\Program Files\\Aether-V\\LinuxProvisioning.iso")
    again = hv.eject_iso(vm.id)
    assert (again.removed_drives, again.deleted_files) == (0, [])


def test_eject_iso_removes_a_drive_the_guest_emptied(hv: HyperVClient, standalone: LabHost) -> None:
    vm = new_vm(hv)
    hv.start_vm(vm.id)
    standalone.model.vm(vm.id).dvds[0].path = None  # a Windows guest ejected the CD (defect 19)
    result = hv.eject_iso(vm.id)
    assert result.removed_drives == 1
    assert result.deleted_files == ["C:\\Hyper-V\\app42\\LinuxProvisioning.iso"]


# -- cluster ----------------------------------------------------------------------------------------------------


def test_add_and_remove_cluster_membership(hv_node: HyperVClient, node: LabHost) -> None:
    disk = hv_node.prepare_disk(PrepareDiskSpec(vm_name="ha01", job_id="j", image_name="Debian 12"))
    vm = hv_node.create_vm(
        CreateVmSpec(name="ha01", job_id="j", disk_path=disk.path, cpu_count=1, memory_gb=2, os_family="linux")
    )
    added = hv_node.add_to_cluster(vm.id)
    assert (added.cluster_name, added.clustered, added.changed) == ("hvclu01", True, True)
    assert hv_node.get_vm(vm.id).clustered
    assert hv_node.add_to_cluster(vm.id).changed is False
    removed = hv_node.remove_from_cluster(vm.id)
    assert (removed.clustered, removed.changed) == (False, True)
    assert hv_node.remove_from_cluster(vm.id).changed is False
    assert not hv_node.get_vm(vm.id).clustered


def test_cluster_refuses_local_storage_and_standalone_hosts(
    hv_node: HyperVClient, node: LabHost, hv: HyperVClient, standalone: LabHost
) -> None:
    local = add_vm(node.model, "local01", image=None, root="C:\\")
    with pytest.raises(ClusterError, match="not on cluster storage"):
        hv_node.add_to_cluster(local.id)
    off = seeded(standalone.model, "Off")
    with pytest.raises(ClusterError, match="not a member"):
        hv.add_to_cluster(off)
    assert hv.remove_from_cluster(off).changed is False
