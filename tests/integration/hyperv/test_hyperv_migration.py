"""VM migration through the real client stack: a cluster move, a shared-nothing move, each refusal and the rerun."""

from __future__ import annotations

import pytest

from functions.hyperv.client import HyperVClient
from functions.hyperv.errors import (
    ClusterError,
    HostUnreachable,
    InsufficientResources,
    InvalidParameters,
    InvalidVmState,
    ScriptFailed,
    SwitchNotFound,
    VmAlreadyExists,
    VmNotFound,
)
from tools.hvsim.lab import Lab, LabHost
from tools.hvsim.models import FakeVm, MigrationFault
from tools.hvsim.seed import IMAGES, add_vm

from .conftest import ClientFactory


def standalone_vm(host: LabHost, state: str = "Running", name: str = "mig01") -> FakeVm:
    return add_vm(host.model, name, image=IMAGES[2], state=state, memory_gb=2, switch="Lab", root="C:\\")


def test_shared_nothing_move_and_rerun(hv: HyperVClient, standalone: LabHost, lab: Lab, connect: ClientFactory) -> None:
    vm = standalone_vm(standalone)
    hv.create_checkpoint(vm.id, name="before-move")
    moved = hv.migrate_vm(vm.id, destination="hv01", clustered=False)
    target = lab.host("hv01").model
    assert (moved.vm_id, moved.source, moved.destination, moved.kind, moved.state) == (
        vm.id,
        "HV03",
        "hv01",
        "shared_nothing",
        "Running",
    )
    assert moved.storage_path == f"{target.default_vm_path}\\mig01"
    assert target.find_vm(vm.id) is vm and standalone.model.find_vm(vm.id) is None
    with pytest.raises(VmNotFound):
        hv.migrate_vm(vm.id, destination="hv01", clustered=False)
    with connect("hv01") as destination:
        info = destination.get_vm(vm.id)
        assert (info.state, info.checkpoint_count, info.clustered) == ("Running", 1, False)
        assert info.disks[0].path.startswith(moved.storage_path)


def test_cluster_move(hv_node: HyperVClient, node: LabHost, lab: Lab, connect: ClientFactory) -> None:
    vm = next(vm for vm in node.model.vms.values() if vm.clustered)
    disk = vm.disks[0].path
    moved = hv_node.migrate_vm(vm.id, destination="hv02", clustered=True)
    assert (moved.kind, moved.storage_path, moved.source) == ("cluster", None, "HV01")
    assert lab.host("hv02").model.find_vm(vm.id) is vm
    with connect("hv02") as other:
        info = other.get_vm(vm.id)
        assert info.clustered and info.disks[0].path == disk
    with pytest.raises(VmNotFound):
        hv_node.migrate_vm(vm.id, destination="hv02", clustered=True)


def test_cluster_refusals(hv_node: HyperVClient, node: LabHost) -> None:
    clustered = next(vm for vm in node.model.vms.values() if vm.clustered)
    plain = next(vm for vm in node.model.vms.values() if not vm.clustered)
    with pytest.raises(ClusterError, match="not a node of cluster"):
        hv_node.migrate_vm(clustered.id, destination="hv03", clustered=True)
    with pytest.raises(ClusterError, match="is a clustered role"):
        hv_node.migrate_vm(clustered.id, destination="hv03", clustered=False)
    with pytest.raises(ClusterError, match="not a clustered role"):
        hv_node.migrate_vm(plain.id, destination="hv02", clustered=True)
    with pytest.raises(InvalidParameters, match="omit storage_path"):
        hv_node.migrate_vm(clustered.id, destination="hv02", clustered=True, storage_path="C:\\x")


def test_shared_nothing_refusals(hv: HyperVClient, standalone: LabHost, lab: Lab) -> None:
    vm = standalone_vm(standalone)
    target = lab.host("hv01").model
    with pytest.raises(HostUnreachable, match="hv99"):
        hv.migrate_vm(vm.id, destination="hv99", clustered=False)
    with pytest.raises(InvalidParameters, match="this host"):
        hv.migrate_vm(vm.id, destination="hv03", clustered=False)
    switches = list(target.switches)
    target.switches = [switch for switch in switches if switch.name != "Lab"]
    with pytest.raises(SwitchNotFound, match="Lab"):
        hv.migrate_vm(vm.id, destination="hv01", clustered=False)
    target.switches = switches
    total = target.total_memory
    target.total_memory = target.reserve_memory
    with pytest.raises(InsufficientResources, match="memory"):
        hv.migrate_vm(vm.id, destination="hv01", clustered=False)
    target.total_memory = total
    volume = target.fs.volume_for("C:\\")
    assert volume is not None
    base_used, volume.base_used = volume.base_used, volume.capacity
    with pytest.raises(InsufficientResources, match="bytes free"):
        hv.migrate_vm(vm.id, destination="hv01", clustered=False)
    volume.base_used = base_used
    standalone_vm(lab.host("hv01"), state="Off")
    with pytest.raises(VmAlreadyExists, match="mig01"):
        hv.migrate_vm(vm.id, destination="hv01", clustered=False)
    assert standalone.model.find_vm(vm.id) is vm


def test_an_iso_must_be_ejected_first(hv: HyperVClient, standalone: LabHost) -> None:
    vm = standalone_vm(standalone)
    standalone.model.add_dvd(vm, f"{vm.folder}\\LinuxProvisioning.iso")
    with pytest.raises(InvalidVmState, match="eject it first"):
        hv.migrate_vm(vm.id, destination="hv01", clustered=False)


def test_a_failed_move_leaves_the_vm_and_a_partial_folder_the_destination_discards(
    hv: HyperVClient, standalone: LabHost, lab: Lab, connect: ClientFactory
) -> None:
    vm = standalone_vm(standalone)
    lab.backend.migration.faults.append(MigrationFault(after_files=1))
    with pytest.raises(ScriptFailed, match="network connection was reset"):
        hv.migrate_vm(vm.id, destination="hv01", clustered=False, storage_path="C:\\Hyper-V\\mig01")
    assert hv.get_vm(vm.id).state == "Running"
    target = lab.host("hv01").model
    assert target.fs.walk_files("C:\\Hyper-V\\mig01")
    with pytest.raises(VmAlreadyExists, match="already holds files"):
        hv.migrate_vm(vm.id, destination="hv01", clustered=False, storage_path="C:\\Hyper-V\\mig01")
    with connect("hv01") as destination:  # the destination removes the partial copy: the folder is the VM's name
        discarded = destination.discard_migration_copy(vm.id, vm_name="mig01", storage_path="C:\\Hyper-V\\mig01")
        assert (discarded.existed, discarded.files_deleted, discarded.warning) == (True, 1, None)
        assert not target.fs.exists("C:\\Hyper-V\\mig01")
        again = destination.discard_migration_copy(vm.id, vm_name="mig01", storage_path="C:\\Hyper-V\\mig01")
        assert not again.existed
    moved = hv.migrate_vm(vm.id, destination="hv01", clustered=False, storage_path="C:\\Hyper-V\\mig01")
    assert moved.storage_path == "C:\\Hyper-V\\mig01"


def test_discarding_never_touches_a_vm_of_the_destination(
    hv: HyperVClient, standalone: LabHost, lab: Lab, connect: ClientFactory
) -> None:
    vm = standalone_vm(standalone)
    moved = hv.migrate_vm(vm.id, destination="hv01", clustered=False)
    with connect("hv01") as destination:
        kept = destination.discard_migration_copy(vm.id, vm_name="mig01", storage_path=moved.storage_path)
        assert kept.existed and kept.files_deleted == 0 and "the move went through" in (kept.warning or "")
        other = destination.discard_migration_copy(
            "7c9e6679-7425-40de-944b-e07fc1f90ae7", vm_name="x", storage_path=moved.storage_path
        )
        assert other.files_deleted == 0 and "holds files of VM" in (other.warning or "")
        with pytest.raises(InvalidParameters, match="below a volume's root"):
            destination.discard_migration_copy(vm.id, vm_name="mig01", storage_path="C:\\")
    target = lab.host("hv01").model
    assert target.find_vm(vm.id) is vm and target.fs.get(vm.disks[0].path) is not None  # all still there
