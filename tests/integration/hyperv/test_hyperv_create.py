"""The create path through the real client stack: preflight, prepare_disk, create_vm, their errors and retries."""

from __future__ import annotations

import pytest

from functions.hyperv.client import HyperVClient
from functions.hyperv.errors import (
    ImageNotFound,
    InsufficientResources,
    InvalidParameters,
    SwitchNotFound,
    VmAlreadyExists,
)
from functions.hyperv.models import CreateVmSpec, PreflightSpec, PrepareDiskSpec
from tools.hvsim.lab import LabHost
from tools.hvsim.models import GB
from tools.hvsim.seed import add_vm

UBUNTU = "Ubuntu 24.04 LTS"
WINDOWS = "Windows Server 2022 Datacenter"


def prepare(hv: HyperVClient, name: str = "app42", job: str = "job-1", **extra: object) -> str:
    spec = PrepareDiskSpec.model_validate({"vm_name": name, "job_id": job, "image_name": UBUNTU, **extra})
    return hv.prepare_disk(spec).path


def create_spec(name: str, disk_path: str, job: str = "job-1", **extra: object) -> CreateVmSpec:
    values: dict[str, object] = {
        "name": name,
        "job_id": job,
        "disk_path": disk_path,
        "cpu_count": 4,
        "memory_gb": 8,
        "os_family": "linux",
        "switch_name": "External",
        "vlan_id": 20,
    }
    return CreateVmSpec.model_validate({**values, **extra})


# -- preflight --------------------------------------------------------------------------------------------------


def test_preflight_passes_for_a_good_request(hv: HyperVClient) -> None:
    report = hv.preflight_create(
        PreflightSpec(name="new01", image_name=UBUNTU, switch_name="Lab", memory_gb=4, disk_gb=60)
    )
    assert report.ok
    assert report.failures == []
    assert [check.name for check in report.checks] == [
        "name_free",
        "image_present",
        "switch_present",
        "memory_available",
        "disk_space_available",
    ]
    assert report.target_volume == "C:\\"


def test_preflight_lists_every_failed_check(hv: HyperVClient, standalone: LabHost) -> None:
    taken = next(iter(standalone.model.vms.values())).name
    standalone.model.fs.volumes[0].base_used = standalone.model.fs.volumes[0].capacity  # disk full
    report = hv.preflight_create(
        PreflightSpec(name=taken.upper(), image_name="Plan 9", switch_name="Nope", memory_gb=4096)
    )
    assert not report.ok
    assert [check.name for check in report.failures] == [
        "name_free",
        "image_present",
        "switch_present",
        "memory_available",
        "disk_space_available",
    ]
    messages = " ".join(check.message for check in report.failures)
    assert taken.upper() in messages
    assert "Plan 9" in messages
    assert "Nope" in messages


def test_preflight_on_a_cluster_node_targets_the_emptiest_csv(hv_node: HyperVClient) -> None:
    report = hv_node.preflight_create(PreflightSpec(name="new01", image_name=UBUNTU, memory_gb=2))
    assert report.ok
    assert report.target_volume == "C:\\ClusterStorage\\Volume1"


# -- prepare_disk ------------------------------------------------------------------------------------------------


def test_prepare_disk_clones_and_grows_the_image(hv: HyperVClient, standalone: LabHost) -> None:
    disk = hv.prepare_disk(PrepareDiskSpec(vm_name="app42", job_id="job-1", image_name=UBUNTU, disk_gb=64))
    assert disk.created
    assert disk.folder == "C:\\Hyper-V\\app42"
    assert disk.path == "C:\\Hyper-V\\app42\\app42.vhdx"
    assert disk.size_gb == 64
    file = standalone.model.fs.get(disk.path)
    assert file is not None
    assert file.os_family == "linux"
    assert file.virtual_size == 64 * GB
    marker = standalone.model.fs.get("C:\\Hyper-V\\app42\\.aetherv-job")
    assert marker is not None
    assert marker.text == "job-1"


def test_prepare_disk_keeps_the_image_size_by_default(hv: HyperVClient) -> None:
    assert hv.prepare_disk(PrepareDiskSpec(vm_name="a1", job_id="j", image_name=WINDOWS)).size_gb == 127


def test_prepare_disk_blank(hv: HyperVClient, standalone: LabHost) -> None:
    disk = hv.prepare_disk(PrepareDiskSpec(vm_name="blank1", job_id="j", disk_gb=40))
    assert disk.size_gb == 40
    assert disk.image_name is None
    file = standalone.model.fs.get(disk.path)
    assert file is not None
    assert file.os_family is None
    assert file.vhd_type == "Dynamic"


def test_prepare_disk_on_a_cluster_node_uses_the_csv(hv_node: HyperVClient) -> None:
    disk = hv_node.prepare_disk(PrepareDiskSpec(vm_name="ha01", job_id="j", image_name=UBUNTU))
    assert disk.path == "C:\\ClusterStorage\\Volume1\\Hyper-V\\ha01\\ha01.vhdx"


def test_prepare_disk_twice_for_the_same_job_returns_the_same_disk(hv: HyperVClient, standalone: LabHost) -> None:
    spec = PrepareDiskSpec(vm_name="app42", job_id="job-1", image_name=UBUNTU, disk_gb=50)
    first = hv.prepare_disk(spec)
    free_after_first = standalone.model.fs.volumes[0].free
    second = hv.prepare_disk(spec)
    assert second.path == first.path
    assert second.size_gb == first.size_gb
    assert first.created
    assert not second.created
    assert standalone.model.fs.volumes[0].free == free_after_first


def test_prepare_disk_completes_an_interrupted_attempt(hv: HyperVClient, standalone: LabHost) -> None:
    first = hv.prepare_disk(PrepareDiskSpec(vm_name="app42", job_id="job-1", image_name=UBUNTU))
    standalone.model.fs.remove(first.path)  # the copy never finished
    again = hv.prepare_disk(PrepareDiskSpec(vm_name="app42", job_id="job-1", image_name=UBUNTU))
    assert again.created
    assert standalone.model.fs.is_file(again.path)


def test_prepare_disk_never_touches_another_jobs_folder(hv: HyperVClient, standalone: LabHost) -> None:
    hv.prepare_disk(PrepareDiskSpec(vm_name="app42", job_id="job-1", image_name=UBUNTU))
    with pytest.raises(VmAlreadyExists, match="job-2"):
        hv.prepare_disk(PrepareDiskSpec(vm_name="app42", job_id="job-2", image_name=UBUNTU))
    seeded = next(iter(standalone.model.vms.values()))
    with pytest.raises(VmAlreadyExists):
        hv.prepare_disk(PrepareDiskSpec(vm_name=seeded.name, job_id="job-3", image_name=UBUNTU))


def test_prepare_disk_errors(hv: HyperVClient, standalone: LabHost) -> None:
    with pytest.raises(ImageNotFound):
        hv.prepare_disk(PrepareDiskSpec(vm_name="x1", job_id="j", image_name="Plan 9"))
    with pytest.raises(InvalidParameters, match="smaller than the image"):
        hv.prepare_disk(PrepareDiskSpec(vm_name="x2", job_id="j", image_name=UBUNTU, disk_gb=10))
    with pytest.raises(InvalidParameters, match="folder name"):
        hv.prepare_disk(PrepareDiskSpec(vm_name="a|b", job_id="j", disk_gb=10))
    with pytest.raises(InvalidParameters, match="not a file name"):
        hv.prepare_disk(PrepareDiskSpec(vm_name="x3", job_id="j", image_name="..\\..\\Windows\\secret"))
    with pytest.raises(InvalidParameters, match="blank disk needs disk_gb"):
        hv.prepare_disk(PrepareDiskSpec(vm_name="x4", job_id="j"))
    standalone.model.fs.volumes[0].base_used = standalone.model.fs.volumes[0].capacity
    with pytest.raises(InsufficientResources):
        hv.prepare_disk(PrepareDiskSpec(vm_name="x5", job_id="j", image_name=UBUNTU))
    assert not standalone.model.fs.exists("C:\\Hyper-V\\x5")


# -- create_vm ---------------------------------------------------------------------------------------------------


def test_create_vm_registers_the_vm_around_the_disk(hv: HyperVClient, standalone: LabHost) -> None:
    disk_path = prepare(hv)
    vm = hv.create_vm(create_spec("app42", disk_path))

    assert vm.name == "app42"
    assert vm.state == "Off"
    assert vm.processor_count == 4
    assert vm.startup_memory_gb == 8
    assert not vm.dynamic_memory_enabled
    assert "aetherv-job: job-1" in vm.notes
    assert [disk.path for disk in vm.disks] == [disk_path]
    assert [(nic.switch, nic.vlan_id) for nic in vm.networks] == [("External", 20)]
    assert vm.configuration_path == "C:\\Hyper-V\\app42"
    model = standalone.model.vm(vm.id)
    assert model.secure_boot
    assert model.secure_boot_template == "MicrosoftUEFICertificateAuthority"
    assert model.first_boot_device == model.disks[0].id
    assert [dvd.path for dvd in model.dvds] == ["C:\\Hyper-V\\app42\\LinuxProvisioning.iso"]
    assert not model.automatic_checkpoints


def test_create_vm_windows_template_and_no_nic_without_switch(hv: HyperVClient, standalone: LabHost) -> None:
    disk = hv.prepare_disk(PrepareDiskSpec(vm_name="win42", job_id="j9", image_name=WINDOWS))
    vm = hv.create_vm(
        create_spec("win42", disk.path, job="j9", os_family="windows", switch_name=None, vlan_id=None, memory_gb=3)
    )
    assert vm.networks == []
    assert vm.startup_memory_gb == 3
    model = standalone.model.vm(vm.id)
    assert model.secure_boot_template == "MicrosoftWindows"
    assert [dvd.path for dvd in model.dvds] == ["C:\\Hyper-V\\win42\\WindowsProvisioning.iso"]


def test_create_vm_twice_returns_the_same_vm(hv: HyperVClient, standalone: LabHost) -> None:
    disk_path = prepare(hv)
    before = len(standalone.model.vms)
    first = hv.create_vm(create_spec("app42", disk_path))
    second = hv.create_vm(create_spec("app42", disk_path))
    assert second == first
    assert len(standalone.model.vms) == before + 1
    model = standalone.model.vm(first.id)
    assert len(model.disks) == 1
    assert len(model.dvds) == 1
    assert len(model.nics) == 1


def test_whole_create_path_run_twice_creates_one_vm(hv: HyperVClient, standalone: LabHost) -> None:
    results = []
    for _ in range(2):
        disk = hv.prepare_disk(PrepareDiskSpec(vm_name="web77", job_id="job-7", image_name=UBUNTU, disk_gb=40))
        results.append(hv.create_vm(create_spec("web77", disk.path, job="job-7")))
    assert results[0] == results[1]
    assert len(standalone.model.vms_named("web77")) == 1
    assert len([f for f in standalone.model.fs.walk_files("C:\\Hyper-V\\web77") if f.path.endswith(".vhdx")]) == 1


def test_folder_names_ignore_case_like_windows(hv: HyperVClient) -> None:
    disk_path = prepare(hv)
    again = hv.prepare_disk(PrepareDiskSpec(vm_name="APP42", job_id="job-1", image_name=UBUNTU))
    assert again.path.lower() == disk_path.lower()
    assert not again.created


def test_create_vm_refuses_a_duplicate_name_made_out_of_band(hv: HyperVClient, standalone: LabHost) -> None:
    disk_path = prepare(hv)
    add_vm(standalone.model, "App42", root="C:\\Other")  # an operator made one by hand, elsewhere
    with pytest.raises(VmAlreadyExists, match="already exists"):
        hv.create_vm(create_spec("app42", disk_path))


def test_create_vm_errors(hv: HyperVClient, standalone: LabHost) -> None:
    disk_path = prepare(hv)
    with pytest.raises(SwitchNotFound):
        hv.create_vm(create_spec("app42", disk_path, switch_name="Nope"))
    with pytest.raises(VmAlreadyExists, match="not prepared by job"):
        hv.create_vm(create_spec("app42", disk_path, job="job-other"))
    with pytest.raises(InvalidParameters, match="prepare_disk first"):
        hv.create_vm(create_spec("app42", "C:\\Hyper-V\\app42\\missing.vhdx"))
    with pytest.raises(InvalidParameters, match="own folder"):
        hv.create_vm(create_spec("app42", "C:\\Hyper-V\\DiskImages\\Debian 12.vhdx"))
    standalone.model.fs.remove("C:\\Program Files\\Aether-V\\LinuxProvisioning.iso")
    with pytest.raises(ImageNotFound, match="provisioning ISO"):
        hv.create_vm(create_spec("app42", disk_path))
    assert standalone.model.vms_named("app42") == []
    vm = hv.create_vm(create_spec("app42", disk_path, attach_provisioning_iso=False))
    assert standalone.model.vm(vm.id).dvds == []


def test_create_spec_validation_is_local() -> None:
    with pytest.raises(ValueError, match="vlan_id needs switch_name"):
        create_spec("a", "C:\\Hyper-V\\a\\a.vhdx", switch_name=None)
    with pytest.raises(ValueError, match="cpu_count"):
        create_spec("a", "C:\\Hyper-V\\a\\a.vhdx", cpu_count=0)
