"""Checkpoints through the real client stack (WinRM → runner → hvsim): list, create, apply, remove, inventory."""

from __future__ import annotations

import pytest

from functions.hyperv.client import HyperVClient
from functions.hyperv.errors import (
    CheckpointNotFound,
    InsufficientResources,
    InvalidParameters,
    InvalidVmState,
    VmNotFound,
)
from tools.hvsim.lab import LabHost
from tools.hvsim.models import FakeVm
from tools.hvsim.models.checkpoints import MAX_CHECKPOINTS
from tools.hvsim.seed import IMAGES, add_vm

UNKNOWN = "00000000-0000-4000-8000-0000000000aa"


def vm_in(host: LabHost, state: str, *, name: str = "cp01", image: bool = True) -> FakeVm:
    return add_vm(host.model, name, image=IMAGES[2] if image else None, state=state, memory_gb=2, root="C:\\")


def test_create_list_and_inventory(hv: HyperVClient, standalone: LabHost) -> None:
    vm = vm_in(standalone, "Running")
    made = hv.create_checkpoint(vm.id, name="before-update")
    assert (made.name, made.checkpoint_type, made.parent_id, made.is_current) == (
        "before-update",
        "Production",
        None,
        True,
    )
    assert made.created.tzinfo is not None
    second = hv.create_checkpoint(vm.id.upper(), name="after-update")
    listed = hv.list_checkpoints(vm.id)
    assert [(c.name, c.parent_id, c.is_current) for c in listed] == [
        ("before-update", None, False),
        ("after-update", made.id, True),
    ]
    assert listed[1].id == second.id
    info = hv.get_vm(vm.id)
    assert info.checkpoint_count == 2
    assert info.disks[0].type == "Differencing"
    inventory = hv.collect_inventory()
    assert next(v for v in inventory.vms if v.id == vm.id).checkpoint_count == 2


def test_create_again_returns_the_same_checkpoint(hv: HyperVClient, standalone: LabHost) -> None:
    vm = vm_in(standalone, "Off")
    first = hv.create_checkpoint(vm.id, name="nightly")
    assert hv.create_checkpoint(vm.id, name="nightly") == first
    assert len(hv.list_checkpoints(vm.id)) == 1


def test_a_guest_without_integration_services_gets_a_standard_checkpoint(hv: HyperVClient, standalone: LabHost) -> None:
    vm = vm_in(standalone, "Running", image=False)
    assert hv.create_checkpoint(vm.id, name="cp").checkpoint_type == "Standard"


def test_refused_checkpoints(hv: HyperVClient, standalone: LabHost) -> None:
    vm = vm_in(standalone, "Running", image=False)
    vm.checkpoint_type = "ProductionOnly"
    with pytest.raises(InvalidVmState, match="ProductionOnly"):
        hv.create_checkpoint(vm.id, name="cp")
    vm.checkpoint_type = "Disabled"
    with pytest.raises(InvalidVmState, match="disabled"):
        hv.create_checkpoint(vm.id, name="cp")
    with pytest.raises(InvalidParameters):
        hv.create_checkpoint(vm.id, name=" ")
    with pytest.raises(VmNotFound):
        hv.create_checkpoint(UNKNOWN, name="cp")
    with pytest.raises(InvalidParameters):
        hv.create_checkpoint("not-a-guid", name="cp")


def test_fifty_is_the_maximum(hv: HyperVClient, standalone: LabHost) -> None:
    vm = vm_in(standalone, "Off")
    for index in range(MAX_CHECKPOINTS):
        hv.create_checkpoint(vm.id, name=f"cp{index}")
    with pytest.raises(InsufficientResources, match="maximum is 50"):
        hv.create_checkpoint(vm.id, name="cp50")


def test_apply_needs_an_off_or_saved_vm_and_is_repeatable(hv: HyperVClient, standalone: LabHost) -> None:
    vm = vm_in(standalone, "Running")
    made = hv.create_checkpoint(vm.id, name="cp")
    vm.cpu_count = 6
    with pytest.raises(InvalidVmState, match="turn it off or save it first"):
        hv.apply_checkpoint(vm.id, made.id)
    hv.stop_vm(vm.id)
    applied = hv.apply_checkpoint(vm.id, made.id)
    assert (applied.checkpoint_id, applied.state, applied.vm_id) == (made.id, "Off", vm.id)
    assert hv.apply_checkpoint(vm.id, made.id) == applied
    info = hv.get_vm(vm.id)
    assert (info.processor_count, info.state) == (2, "Off")
    assert [c.is_current for c in hv.list_checkpoints(vm.id)] == [True]


def test_apply_of_a_standard_checkpoint_of_a_running_vm_leaves_it_saved(hv: HyperVClient, standalone: LabHost) -> None:
    vm = vm_in(standalone, "Running", image=False)
    made = hv.create_checkpoint(vm.id, name="cp")
    hv.stop_vm(vm.id)
    assert hv.apply_checkpoint(vm.id, made.id).state == "Saved"


def test_apply_of_an_unknown_checkpoint(hv: HyperVClient, standalone: LabHost) -> None:
    vm = vm_in(standalone, "Off")
    with pytest.raises(CheckpointNotFound):
        hv.apply_checkpoint(vm.id, UNKNOWN)
    with pytest.raises(InvalidParameters):
        hv.apply_checkpoint(vm.id, "x")


def test_remove_reparents_and_is_repeatable(hv: HyperVClient, standalone: LabHost) -> None:
    vm = vm_in(standalone, "Off")
    base = vm.disks[0].path
    a = hv.create_checkpoint(vm.id, name="a")
    b = hv.create_checkpoint(vm.id, name="b")
    removed = hv.remove_checkpoint(vm.id, a.id)
    assert (removed.existed, removed.checkpoint_id) == (True, a.id)
    assert [(c.name, c.parent_id) for c in hv.list_checkpoints(vm.id)] == [("b", None)]
    assert hv.remove_checkpoint(vm.id, a.id).existed is False
    hv.remove_checkpoint(vm.id, b.id)
    info = hv.get_vm(vm.id)
    assert (info.checkpoint_count, info.disks[0].path) == (0, base)
