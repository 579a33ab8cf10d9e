"""A create's compensation by ownership (``remove_owned``) through the real client stack, checked on hvsim's state.

What a job made is found by its marks (the VM's notes, the folder's marker) — never by a returned id alone — so a
VM whose create reply was lost, or whose create script failed after ``New-VM``, is removed too; and nothing
without the job's mark is ever touched.
"""

from __future__ import annotations

import pytest

from functions.hyperv.client import HyperVClient
from functions.hyperv.errors import InvalidParameters, ScriptFailed
from functions.hyperv.models import CreateVmSpec, PrepareDiskSpec
from tools.hvsim.lab import LabHost
from tools.hvsim.models import FakeFile
from tools.hvsim.seed import add_vm

UBUNTU = "Ubuntu 24.04 LTS"


def make(hv: HyperVClient, name: str, job: str) -> str:
    disk = hv.prepare_disk(PrepareDiskSpec(vm_name=name, job_id=job, image_name=UBUNTU, disk_gb=40)).path
    spec = CreateVmSpec(
        name=name, job_id=job, disk_path=disk, cpu_count=2, memory_gb=4, os_family="linux", switch_name="External"
    )
    return hv.create_vm(spec).id


def files_under(host: LabHost, folder: str) -> list[str]:
    return [f.path for f in host.model.fs.walk_files(folder)] if host.model.fs.exists(folder) else []


def test_everything_the_job_made_is_found_by_its_marks_and_removed(hv: HyperVClient, standalone: LabHost) -> None:
    vm_id = make(hv, "own01", "create-vm-hv03-own01-1")
    folder = standalone.model.vms[vm_id].folder
    assert files_under(standalone, folder)
    report = hv.remove_owned("create-vm-hv03-own01-1", "own01")
    assert [vm.id for vm in report.vms_found] == [vm_id]
    assert report.vms_removed == [vm_id]
    assert report.folders_removed == [folder]
    assert any(path.endswith(".vhdx") for path in report.deleted_files)
    assert vm_id not in standalone.model.vms
    assert not standalone.model.fs.exists(folder)
    again = hv.remove_owned("create-vm-hv03-own01-1", "own01")
    assert (again.vms_found, again.vms_removed, again.folders_removed) == ([], [], [])


def test_a_create_that_failed_after_new_vm_is_removed_by_its_folder_marker(
    hv: HyperVClient, standalone: LabHost
) -> None:
    job = "create-vm-hv03-half01-1"
    disk = hv.prepare_disk(PrepareDiskSpec(vm_name="half01", job_id=job, image_name=UBUNTU)).path
    standalone.server.faults.update({"failures_after": {"create_vm": {"category": "ScriptFailed", "message": "x"}}})
    spec = CreateVmSpec(name="half01", job_id=job, disk_path=disk, cpu_count=1, memory_gb=2, os_family="linux")
    with pytest.raises(ScriptFailed):
        hv.create_vm(spec)
    standalone.server.faults.clear()
    left = [vm for vm in standalone.model.vms.values() if vm.name == "half01"]
    assert len(left) == 1  # the VM exists although the create reported a failure
    left[0].notes = ""  # and carries no notes mark: only its folder says whose it is
    report = hv.remove_owned(job, "half01")
    assert [vm.id for vm in report.vms_found] == [left[0].id]
    assert not [vm for vm in standalone.model.vms.values() if vm.name == "half01"]
    assert report.folders_removed


def test_nothing_without_the_mark_is_touched(hv: HyperVClient, standalone: LabHost) -> None:
    stranger = add_vm(standalone.model, "same01")  # same name, made by someone else (no mark)
    mine = make(hv, "mine01", "create-vm-hv03-mine01-1")
    other_job = make(hv, "theirs01", "create-vm-hv03-theirs01-1")
    report = hv.remove_owned("create-vm-hv03-same01-1", "same01")
    assert report.vms_found == []
    assert [vm.id for vm in report.not_owned] == [stranger.id]
    assert {stranger.id, mine, other_job} <= set(standalone.model.vms)
    report = hv.remove_owned("create-vm-hv03-mine01-1", "mine01")
    assert report.vms_removed == [mine]
    assert other_job in standalone.model.vms and stranger.id in standalone.model.vms


def test_unknown_files_keep_the_folder_and_are_reported(hv: HyperVClient, standalone: LabHost) -> None:
    vm_id = make(hv, "keep01", "create-vm-hv03-keep01-1")
    folder = standalone.model.vms[vm_id].folder
    standalone.model.fs.write(FakeFile(folder + "\\notes-from-an-admin.txt", 10))
    report = hv.remove_owned("create-vm-hv03-keep01-1", "keep01")
    assert report.vms_removed == [vm_id]
    assert report.folders_removed == []
    assert report.kept_files == [folder + "\\notes-from-an-admin.txt"]


def test_a_clustered_owned_vm_loses_its_role_first(hv_node: HyperVClient, node: LabHost) -> None:
    vm_id = make(hv_node, "clu01", "create-vm-hv01-clu01-1")
    hv_node.add_to_cluster(vm_id)
    report = hv_node.remove_owned("create-vm-hv01-clu01-1", "clu01")
    assert report.cluster_roles_removed == [vm_id]
    assert report.vms_removed == [vm_id]
    assert node.model.cluster is not None
    assert vm_id not in node.model.cluster.roles


def test_parameters_are_checked(hv: HyperVClient) -> None:
    with pytest.raises(InvalidParameters):
        hv.remove_owned("bad job id with spaces", "x01")
    with pytest.raises(InvalidParameters):
        hv.remove_owned("job-1", "a\\b")
