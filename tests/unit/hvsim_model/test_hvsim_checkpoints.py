"""hvsim's checkpoint handlers: every Hyper-V rule they model, the tree, the disk chains and the inventory count."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tools.hvsim.exceptions import CheckpointNotFound, InsufficientResources, InvalidParameters, InvalidVmState
from tools.hvsim.guest import GuestBehaviour
from tools.hvsim.models import GB, Backend, FakeFile, FakeHost, FakeVm, ManualClock, TransitionTimes
from tools.hvsim.models.checkpoints import MAX_CHECKPOINTS
from tools.hvsim.operations import run_operation
from tools.hvsim.operations.inventory import vm_record
from tools.hvsim.seed import IMAGES, add_vm, seed_lab

UNKNOWN = "00000000-0000-4000-8000-0000000000cc"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def host(clock: ManualClock) -> Iterator[FakeHost]:
    simulated = GuestBehaviour(real_linux_agent=False)
    backend = Backend(clock=clock, sleep=clock.sleep, times=TransitionTimes(), guest_behaviour=simulated)
    yield seed_lab(backend, hosts=3, vms_per_host=2, seed=11)[2]
    backend.close()


def vm_in(host: FakeHost, state: str, *, name: str = "cp01", image: bool = True) -> FakeVm:
    return add_vm(host, name, image=IMAGES[2] if image else None, state=state, memory_gb=2, root="C:\\")


def create(host: FakeHost, vm: FakeVm, name: str) -> dict[str, Any]:
    result: dict[str, Any] = run_operation(host, "create_checkpoint", {"vm_id": vm.id, "name": name})
    return result


def listed(host: FakeHost, vm: FakeVm) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = run_operation(host, "list_checkpoints", {"vm_id": vm.id})["checkpoints"]
    return result


# -- create ------------------------------------------------------------------------------------------------------


def test_a_checkpoint_of_an_off_vm_is_production_and_moves_the_disks_onto_a_chain(host: FakeHost) -> None:
    vm = vm_in(host, "Off")
    base = vm.disks[0].path
    made = create(host, vm, "before-patch")
    assert (made["name"], made["checkpoint_type"], made["parent_id"], made["is_current"]) == (
        "before-patch",
        "Production",
        None,
        True,
    )
    assert made["created"].endswith("Z")
    avhdx = host.fs.get(vm.disks[0].path)
    assert avhdx is not None
    assert vm.disks[0].path.endswith(".avhdx")
    assert (avhdx.vhd_type, avhdx.parent) == ("Differencing", base)
    record = vm_record(vm)
    assert record["checkpoint_count"] == 1
    assert record["disks"][0]["type"] == "Differencing"
    assert vm.checkpoints[0].disk_paths == [base]


def test_create_is_idempotent_by_name(host: FakeHost) -> None:
    vm = vm_in(host, "Off")
    first = create(host, vm, "nightly")
    again = create(host, vm, "NIGHTLY")  # PowerShell's -eq
    assert again["id"] == first["id"]
    assert len(vm.checkpoints) == 1


def test_a_running_guest_with_integration_services_gets_a_production_checkpoint(host: FakeHost) -> None:
    vm = vm_in(host, "Running")
    assert vm.integration_services
    assert create(host, vm, "cp")["checkpoint_type"] == "Production"
    assert not vm.checkpoints[0].saved_memory


def test_production_falls_back_to_standard_when_the_guest_cannot_answer(host: FakeHost) -> None:
    vm = vm_in(host, "Running", image=False)  # nothing installed: no integration services
    made = create(host, vm, "cp")
    assert made["checkpoint_type"] == "Standard"
    assert vm.checkpoints[0].saved_memory
    assert host.fs.get(f"{vm.folder}\\Snapshots\\{made['id'].upper()}.vmrs") is not None


@pytest.mark.parametrize("state", ["Saved", "Paused"])
def test_a_saved_or_paused_vm_gets_a_standard_checkpoint(host: FakeHost, state: str) -> None:
    vm = vm_in(host, state)
    assert create(host, vm, "cp")["checkpoint_type"] == "Standard"


def test_production_only_refuses_when_the_guest_cannot_answer(host: FakeHost) -> None:
    vm = vm_in(host, "Running", image=False)
    vm.checkpoint_type = "ProductionOnly"
    with pytest.raises(InvalidVmState, match="ProductionOnly"):
        create(host, vm, "cp")
    assert vm.checkpoints == []


def test_standard_setting_always_makes_a_standard_checkpoint(host: FakeHost) -> None:
    vm = vm_in(host, "Running")
    vm.checkpoint_type = "Standard"
    assert create(host, vm, "cp")["checkpoint_type"] == "Standard"


def test_checkpoints_disabled_on_the_vm_refuse(host: FakeHost) -> None:
    vm = vm_in(host, "Off")
    vm.checkpoint_type = "Disabled"
    with pytest.raises(InvalidVmState, match="disabled"):
        create(host, vm, "cp")


def test_a_vm_in_a_transition_cannot_be_checkpointed(host: FakeHost) -> None:
    vm = vm_in(host, "Off")
    host.backend.times.start = 30
    vm.start()
    assert vm.state == "Starting"
    with pytest.raises(InvalidVmState, match="Starting"):
        create(host, vm, "cp")


def test_fifty_checkpoints_is_the_maximum(host: FakeHost) -> None:
    vm = vm_in(host, "Off")
    for index in range(MAX_CHECKPOINTS):
        create(host, vm, f"cp{index}")
    with pytest.raises(InsufficientResources, match="maximum is 50"):
        create(host, vm, "one-too-many")
    assert create(host, vm, "cp7")["name"] == "cp7"  # an existing name is still found


def test_a_checkpoint_needs_room_on_the_vm_volume(host: FakeHost) -> None:
    vm = vm_in(host, "Running", image=False)
    volume = host.fs.volume_for(vm.folder)
    assert volume is not None
    volume.base_used = volume.capacity - volume.used + volume.base_used - GB  # 1 GB free; 2 GB of memory to save
    with pytest.raises(InsufficientResources, match="bytes on the volume"):
        create(host, vm, "cp")
    vm.turn_off()
    assert create(host, vm, "cp")["checkpoint_type"] == "Production"  # Off: no memory to save


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_checkpoint_names_are_1_to_100_characters(host: FakeHost, name: str) -> None:
    with pytest.raises(InvalidParameters, match="1 to 100"):
        create(host, vm_in(host, "Off"), name)


# -- list --------------------------------------------------------------------------------------------------------


def test_list_shows_the_tree_and_the_current_checkpoint(host: FakeHost) -> None:
    vm = vm_in(host, "Off")
    first = create(host, vm, "a")
    second = create(host, vm, "b")
    run_operation(host, "apply_checkpoint", {"vm_id": vm.id, "checkpoint_id": first["id"]})
    third = create(host, vm, "c")  # a branch: its parent is a, not b
    records = {record["name"]: record for record in listed(host, vm)}
    assert [record["name"] for record in listed(host, vm)] == ["a", "b", "c"]
    assert records["b"]["parent_id"] == first["id"]
    assert records["c"]["parent_id"] == first["id"]
    assert [name for name, record in records.items() if record["is_current"]] == ["c"]
    assert second["id"] != third["id"]


# -- apply -------------------------------------------------------------------------------------------------------


def test_apply_refuses_a_running_vm(host: FakeHost) -> None:
    vm = vm_in(host, "Running")
    made = create(host, vm, "cp")
    for state in ("Running", "Paused"):
        vm.set_state(state)
        with pytest.raises(InvalidVmState, match="turn it off or save it first"):
            run_operation(host, "apply_checkpoint", {"vm_id": vm.id, "checkpoint_id": made["id"]})


def test_apply_restores_the_configuration_and_leaves_a_production_checkpoint_off(host: FakeHost) -> None:
    vm = vm_in(host, "Off")
    made = create(host, vm, "cp")
    frozen = vm.checkpoints[0].disk_paths[0]
    vm.cpu_count, vm.memory_mb = 8, 8192
    create(host, vm, "later")
    vm.set_state("Saved")
    applied = run_operation(host, "apply_checkpoint", {"vm_id": vm.id, "checkpoint_id": made["id"]})
    assert applied == {"vm_id": vm.id, "checkpoint_id": made["id"], "state": "Off"}
    assert (vm.cpu_count, vm.memory_mb, vm.current_checkpoint_id) == (2, 2048, made["id"])
    disk = host.fs.get(vm.disks[0].path)
    assert disk is not None and disk.parent == frozen
    again = run_operation(host, "apply_checkpoint", {"vm_id": vm.id, "checkpoint_id": made["id"]})
    assert again == applied
    assert len([f for f in host.fs.walk_files(vm.folder) if f.path.endswith(".avhdx")]) == 2  # later's, applied


def test_apply_of_a_standard_checkpoint_with_memory_leaves_the_vm_saved(host: FakeHost) -> None:
    vm = vm_in(host, "Running", image=False)
    made = create(host, vm, "cp")
    vm.turn_off()
    applied = run_operation(host, "apply_checkpoint", {"vm_id": vm.id, "checkpoint_id": made["id"]})
    assert applied["state"] == "Saved"
    assert vm.state == "Saved"


def test_apply_of_an_unknown_checkpoint_is_checkpoint_not_found(host: FakeHost) -> None:
    vm = vm_in(host, "Off")
    with pytest.raises(CheckpointNotFound):
        run_operation(host, "apply_checkpoint", {"vm_id": vm.id, "checkpoint_id": UNKNOWN})
    with pytest.raises(InvalidParameters, match="checkpoint_id"):
        run_operation(host, "apply_checkpoint", {"vm_id": vm.id, "checkpoint_id": "nope"})


# -- remove ------------------------------------------------------------------------------------------------------


def test_remove_reparents_children_and_moves_the_current_checkpoint_up(host: FakeHost) -> None:
    vm = vm_in(host, "Off")
    a = create(host, vm, "a")
    b = create(host, vm, "b")
    c = create(host, vm, "c")
    removed = run_operation(host, "remove_checkpoint", {"vm_id": vm.id, "checkpoint_id": b["id"]})
    assert removed == {"vm_id": vm.id, "checkpoint_id": b["id"], "existed": True}
    records = {record["name"]: record for record in listed(host, vm)}
    assert records["c"]["parent_id"] == a["id"]
    run_operation(host, "remove_checkpoint", {"vm_id": vm.id, "checkpoint_id": c["id"]})
    assert vm.current_checkpoint_id == a["id"]
    again = run_operation(host, "remove_checkpoint", {"vm_id": vm.id, "checkpoint_id": c["id"]})
    assert again["existed"] is False


def test_removing_every_checkpoint_merges_the_chain_back_into_the_original_disk(host: FakeHost) -> None:
    vm = vm_in(host, "Off")
    base = vm.disks[0].path
    size = host.fs.get(base).size  # type: ignore[union-attr]
    ids = [create(host, vm, name)["id"] for name in ("a", "b", "c")]
    for checkpoint_id in (ids[1], ids[0], ids[2]):
        run_operation(host, "remove_checkpoint", {"vm_id": vm.id, "checkpoint_id": checkpoint_id})
    assert vm.disks[0].path == base
    assert vm.checkpoints == [] and vm.current_checkpoint_id is None
    assert [f.path for f in host.fs.walk_files(vm.folder) if f.path.endswith((".avhdx", ".vmrs"))] == []
    merged = host.fs.get(base)
    assert merged is not None and merged.size > size
    assert vm_record(vm)["checkpoint_count"] == 0


def test_a_branch_point_stays_until_one_branch_is_gone(host: FakeHost) -> None:
    vm = vm_in(host, "Off")
    a = create(host, vm, "a")
    create(host, vm, "b")
    run_operation(host, "apply_checkpoint", {"vm_id": vm.id, "checkpoint_id": a["id"]})
    run_operation(host, "remove_checkpoint", {"vm_id": vm.id, "checkpoint_id": a["id"]})
    base = host.fs.get(vm.checkpoints[0].disk_paths[0])
    assert base is not None  # still the parent of b's chain and of the running chain
    files: list[FakeFile] = [f for f in host.fs.walk_files(vm.folder) if f.vhd_type == "Differencing"]
    assert files and all(f.parent is not None and host.fs.get(f.parent) is not None for f in files)


# -- removing the VM ---------------------------------------------------------------------------------------------


def test_removing_a_vm_with_checkpoints_deletes_every_disk_of_its_chains(host: FakeHost) -> None:
    disk = run_operation(host, "prepare_disk", {"vm_name": "chain01", "job_id": "j9", "image_name": "Debian 12"})
    spec = {"name": "chain01", "job_id": "j9", "disk_path": disk["path"], "cpu_count": 2, "memory_gb": 2}
    vm = host.vm(run_operation(host, "create_vm", {**spec, "os_family": "linux", "switch_name": "Lab"})["id"])
    first = create(host, vm, "a")
    create(host, vm, "b")
    run_operation(host, "apply_checkpoint", {"vm_id": vm.id, "checkpoint_id": first["id"]})  # a branch too
    folder = vm.folder
    removed = run_operation(host, "remove_vm", {"vm_id": vm.id})
    assert removed["folder_removed"] is True and removed["kept_files"] == []
    assert any(path.endswith(".avhdx") for path in removed["deleted_files"])
    assert host.fs.walk_files(folder) == [] and not host.fs.exists(folder)
