"""hvsim's ``migrate_vm``: cluster and shared-nothing moves, every refusal, a fault part-way and the rerun."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tools.hvsim.exceptions import (
    ClusterError,
    HostUnreachable,
    HyperVSimError,
    InsufficientResources,
    InvalidParameters,
    InvalidVmState,
    SwitchNotFound,
    VmAlreadyExists,
    VmNotFound,
)
from tools.hvsim.guest import GuestBehaviour
from tools.hvsim.models import GB, Backend, FakeHost, FakeVm, ManualClock, MigrationFault, TransitionTimes
from tools.hvsim.operations import run_operation
from tools.hvsim.operations.inventory import vm_record
from tools.hvsim.seed import IMAGES, add_vm, seed_lab


@pytest.fixture
def lab() -> Iterator[list[FakeHost]]:
    clock = ManualClock()
    simulated = GuestBehaviour(real_linux_agent=False)
    backend = Backend(clock=clock, sleep=clock.sleep, times=TransitionTimes(), guest_behaviour=simulated)
    yield seed_lab(backend, hosts=4, vms_per_host=2, seed=5)  # hv01+hv02 clustered, hv03 and hv04 stand-alone
    backend.close()


def backend_of(host: FakeHost) -> Backend:
    assert isinstance(host.backend, Backend)
    return host.backend


def standalone_vm(host: FakeHost, state: str = "Running", name: str = "mig01") -> FakeVm:
    return add_vm(host, name, image=IMAGES[2], state=state, memory_gb=2, switch="Lab", root="C:\\")


def clustered_vm(node: FakeHost, state: str = "Running") -> FakeVm:
    vm = add_vm(node, "ha01", image=IMAGES[3], state=state, memory_gb=2, switch="Lab")
    assert node.cluster is not None
    node.cluster.add_role(vm)
    return vm


def migrate(host: FakeHost, vm: FakeVm, destination: str, **params: Any) -> dict[str, Any]:
    body = {"vm_id": vm.id, "destination": destination, "clustered": False, **params}
    result: dict[str, Any] = run_operation(host, "migrate_vm", body)
    return result


# -- shared nothing --------------------------------------------------------------------------------------------


def test_shared_nothing_moves_the_vm_and_its_storage(lab: list[FakeHost]) -> None:
    source, target = lab[2], lab[3]
    vm = standalone_vm(source)
    run_operation(source, "create_checkpoint", {"vm_id": vm.id, "name": "before"})
    old_folder, old_disk = vm.folder, vm.disks[0].path
    result = migrate(source, vm, "hv04")
    storage = f"{target.default_vm_path}\\mig01"
    assert result == {
        "vm_id": vm.id,
        "source": "HV03",
        "destination": "hv04",
        "kind": "shared_nothing",
        "storage_path": storage,
        "state": "Running",
    }
    assert source.find_vm(vm.id) is None and target.find_vm(vm.id) is vm
    assert vm.host is target and vm.folder == storage and vm.state == "Running"
    disk = target.fs.get(vm.disks[0].path)
    assert disk is not None and vm.disks[0].path.lower().startswith(storage.lower())
    assert disk.parent is not None and target.fs.get(disk.parent) is not None  # the chain came along
    assert vm.checkpoints[0].disk_paths[0].lower().startswith(storage.lower())
    assert source.fs.get(old_disk) is None
    assert [f.path for f in source.fs.walk_files(old_folder) if f.kind == "vhdx"] == []
    assert vm_record(vm)["checkpoint_count"] == 1
    with pytest.raises(VmNotFound):  # the rerun: the caller then looks on the destination
        migrate(source, vm, "hv04")


def test_shared_nothing_to_an_explicit_storage_path_of_a_cluster_node(lab: list[FakeHost]) -> None:
    vm = standalone_vm(lab[2], state="Off")
    result = migrate(lab[2], vm, "hv01.corp.example", storage_path="C:\\Hyper-V\\moved\\")
    assert result["storage_path"] == "C:\\Hyper-V\\moved"
    assert lab[0].find_vm(vm.id) is vm and not vm.clustered


def test_an_unknown_or_silent_destination_is_unreachable(lab: list[FakeHost]) -> None:
    vm = standalone_vm(lab[2])
    with pytest.raises(HostUnreachable, match="does not resolve"):
        migrate(lab[2], vm, "hv99")
    backend_of(lab[2]).migration.unreachable.add("hv04")
    with pytest.raises(HostUnreachable, match="did not answer"):
        migrate(lab[2], vm, "hv04")
    assert lab[2].find_vm(vm.id) is vm


def test_the_destination_needs_the_vm_switches(lab: list[FakeHost]) -> None:
    vm = standalone_vm(lab[2])
    lab[3].switches = [switch for switch in lab[3].switches if switch.name != "Lab"]
    with pytest.raises(SwitchNotFound, match="'Lab'"):
        migrate(lab[2], vm, "hv04")


def test_the_destination_needs_space_and_memory_for_a_running_vm(lab: list[FakeHost]) -> None:
    vm = standalone_vm(lab[2])
    volume = lab[3].fs.volume_for("C:\\")
    assert volume is not None
    saved_base = volume.base_used
    volume.base_used = volume.capacity - 1 * GB
    with pytest.raises(InsufficientResources, match="bytes free"):
        migrate(lab[2], vm, "hv04")
    volume.base_used = saved_base
    lab[3].total_memory = lab[3].reserve_memory + 1 * GB
    with pytest.raises(InsufficientResources, match="memory"):
        migrate(lab[2], vm, "hv04")
    vm.turn_off()  # an Off VM needs no memory there
    assert migrate(lab[2], vm, "hv04")["state"] == "Off"


def test_a_vm_name_taken_on_the_destination(lab: list[FakeHost]) -> None:
    vm = standalone_vm(lab[2])
    standalone_vm(lab[3], state="Off")
    with pytest.raises(VmAlreadyExists, match="mig01"):
        migrate(lab[2], vm, "hv04")


def test_an_iso_in_a_dvd_drive_must_be_ejected_first(lab: list[FakeHost]) -> None:
    vm = standalone_vm(lab[2])
    lab[2].add_dvd(vm, f"{vm.folder}\\LinuxProvisioning.iso")
    with pytest.raises(InvalidVmState, match="eject it first"):
        migrate(lab[2], vm, "hv04")
    vm.dvds[0].path = None  # an empty drive is fine
    assert migrate(lab[2], vm, "hv04")["kind"] == "shared_nothing"


def test_a_failure_part_way_leaves_the_vm_on_the_source_and_a_partial_folder(lab: list[FakeHost]) -> None:
    source, target = lab[2], lab[3]
    vm = standalone_vm(source)
    disk = vm.disks[0].path
    backend_of(source).migration.faults.append(MigrationFault(after_files=1))
    with pytest.raises(HyperVSimError, match="network connection was reset") as failed:
        migrate(source, vm, "hv04")
    assert failed.value.category == "ScriptFailed"
    assert source.find_vm(vm.id) is vm and vm.disks[0].path == disk and source.fs.get(disk) is not None
    storage = f"{target.default_vm_path}\\mig01"
    assert len(target.fs.walk_files(storage)) == 1 and target.find_vm(vm.id) is None
    with pytest.raises(VmAlreadyExists, match="already holds files"):
        migrate(source, vm, "hv04")
    target.fs.remove_tree(storage)
    assert migrate(source, vm, "hv04")["storage_path"] == storage


def test_refusals_before_anything_moves(lab: list[FakeHost]) -> None:
    vm = standalone_vm(lab[2])
    with pytest.raises(InvalidParameters, match="this host"):
        migrate(lab[2], vm, "HV03")
    with pytest.raises(InvalidParameters, match="required"):
        migrate(lab[2], vm, " ")
    with pytest.raises(InvalidParameters, match="absolute"):
        migrate(lab[2], vm, "hv04", storage_path="relative\\dir")
    with pytest.raises(ClusterError, match="not a clustered role"):
        migrate(lab[2], vm, "hv04", clustered=True)
    lab[2].backend.times.save = 30
    vm.save()
    with pytest.raises(InvalidVmState, match="Saving"):
        migrate(lab[2], vm, "hv04")


# -- cluster ---------------------------------------------------------------------------------------------------


def test_a_cluster_move_changes_the_owner_node_and_keeps_the_files(lab: list[FakeHost]) -> None:
    node1, node2 = lab[0], lab[1]
    vm = clustered_vm(node1)
    folder, disk = vm.folder, vm.disks[0].path
    result = migrate(node1, vm, "hv02", clustered=True)
    assert (result["kind"], result["storage_path"], result["source"], result["state"]) == (
        "cluster",
        None,
        "HV01",
        "Running",
    )
    assert node2.find_vm(vm.id) is vm and node1.find_vm(vm.id) is None
    assert (vm.folder, vm.disks[0].path) == (folder, disk) and node2.fs.get(disk) is not None
    assert vm.clustered and node2.cluster is not None and node2.cluster.roles[vm.id] == "hv02"
    assert vm_record(vm)["clustered"] is True
    with pytest.raises(VmNotFound):
        migrate(node1, vm, "hv02", clustered=True)


def test_cluster_refusals(lab: list[FakeHost]) -> None:
    node1, node2 = lab[0], lab[1]
    vm = clustered_vm(node1)
    with pytest.raises(ClusterError, match="not a node of cluster"):
        migrate(node1, vm, "hv03", clustered=True)
    with pytest.raises(ClusterError, match="is a clustered role"):
        migrate(node1, vm, "hv03")
    with pytest.raises(InvalidParameters, match="omit storage_path"):
        migrate(node1, vm, "hv02", clustered=True, storage_path="C:\\x")
    backend_of(node1).migration.unreachable.add("hv02")
    with pytest.raises(ClusterError, match="not up"):
        migrate(node1, vm, "hv02", clustered=True)
    backend_of(node1).migration.unreachable.clear()
    node2.switches = [switch for switch in node2.switches if switch.name != "Lab"]
    with pytest.raises(ClusterError, match="no switch 'Lab'"):
        migrate(node1, vm, "hv02", clustered=True)
    assert node1.find_vm(vm.id) is vm


def test_a_cluster_move_that_fails_leaves_the_role_where_it_was(lab: list[FakeHost]) -> None:
    node1, node2 = lab[0], lab[1]
    vm = clustered_vm(node1)
    node2.total_memory = node2.reserve_memory
    with pytest.raises(ClusterError, match="not enough free memory"):
        migrate(node1, vm, "hv02", clustered=True)
    node2.total_memory = 256 * GB
    backend_of(node1).migration.faults.append(MigrationFault())
    with pytest.raises(ClusterError, match="could not live-migrate"):
        migrate(node1, vm, "hv02", clustered=True)
    assert node1.find_vm(vm.id) is vm and node1.cluster is not None and node1.cluster.roles[vm.id] == "hv01"
    assert migrate(node1, vm, "hv02", clustered=True)["kind"] == "cluster"


def test_a_partial_copy_in_a_folder_of_another_name_is_emptied_and_the_folder_kept(lab: list[FakeHost]) -> None:
    source, target = lab[2], lab[3]
    vm = standalone_vm(source)
    backend_of(source).migration.faults.append(MigrationFault(after_files=2))
    with pytest.raises(HyperVSimError, match="network connection was reset"):
        migrate(source, vm, "hv04", storage_path="C:\\Moves")
    assert len(target.fs.walk_files("C:\\Moves")) == 2
    params = {"vm_id": vm.id, "vm_name": "mig01", "storage_path": "C:\\Moves\\"}
    assert run_operation(target, "discard_migration_copy", params) == {
        "existed": True,
        "files_deleted": 2,
        "warning": None,
    }
    assert target.fs.is_dir("C:\\Moves") and not target.fs.walk_files("C:\\Moves")
    assert run_operation(target, "discard_migration_copy", params)["existed"] is False
