r"""A VM's network adapters: ``add_nic``, ``set_nic``, ``remove_nic``.

The Hyper-V rules they model, with their sources:

- Network adapters are hot-added and hot-removed only on generation 2 VMs (Windows Server 2016 and later: "Hot add
  and remove for network adapters and memory ... This works for generation 2 virtual machines",
  https://learn.microsoft.com/windows-server/virtualization/hyper-v/what-s-new-in-hyper-v-on-windows); a generation
  1 VM gets or loses an adapter only while Off (InvalidVmState).
- At most 8 synthetic adapters per VM. Windows Server 2012 R2 allowed 12 network adapters (8 synthetic + 4 legacy);
  Windows Server 2016+ allows more synthetic ones
  (https://learn.microsoft.com/windows-server/virtualization/hyper-v/plan/plan-for-hyper-v-scalability-in-windows-server),
  so 8 is stricter than current hosts, on purpose (InsufficientResources).
- VLAN ids are 1..4094 (``Set-VMNetworkAdapterVlan -Access -VlanId``; 0 and 4095 are reserved by IEEE 802.1Q).
- Connecting to another switch and changing the VLAN work in any state (``Connect-VMNetworkAdapter``,
  ``Set-VMNetworkAdapterVlan``).

New adapters get Hyper-V's id format ``Microsoft:<VM GUID>\<adapter GUID>`` in upper case (see
:meth:`~tools.hvsim.models.FakeHost.add_nic`). Stricter than Hyper-V (on purpose): a generation 2 VM gets or loses
an adapter only while Off or Running, and two adapters with the same name make ``add_nic`` refuse (a rerun finds its
adapter by name, so the name must say which one).
"""

from __future__ import annotations

from typing import Any

from tools.hvsim.exceptions import InsufficientResources, InvalidParameters, InvalidVmState, NicNotFound, SwitchNotFound
from tools.hvsim.models import FakeHost, FakeNic, FakeSwitch, FakeVm
from tools.hvsim.operations.devices import int_param
from tools.hvsim.operations.inventory import vm_record
from tools.hvsim.operations.params import text, vm_param

__all__ = ["MAX_ADAPTERS", "add_nic", "remove_nic", "set_nic"]

MAX_ADAPTERS = 8
"""Synthetic network adapters per VM that Aether-V allows (stricter than Windows Server 2016+)."""


def _vlan(params: dict[str, Any], problems: list[str]) -> int | None:
    vlan = int_param(params, "vlan_id")
    if vlan is not None and not 1 <= vlan <= 4094:
        problems.append("vlan_id must be 1..4094")
    return vlan


def _switch(host: FakeHost, name: str) -> FakeSwitch:
    switch = host.switch(name)
    if switch is None:
        raise SwitchNotFound(f"virtual switch '{name}' does not exist on this host")
    return switch


def _check_hot_plug(vm: FakeVm, verb: str) -> None:
    state = vm.state
    if vm.generation < 2 and state != "Off":
        raise InvalidVmState(
            f"a network adapter can only be {verb} generation 1 VM {vm.id} while it is Off (it is {state}); "
            "hot add and remove need generation 2"
        )
    if state not in ("Off", "Running"):
        raise InvalidVmState(
            f"a network adapter can only be {verb} VM {vm.id} while it is Off or Running (it is {state})"
        )


def _record(vm: FakeVm, nic: FakeNic) -> dict[str, Any]:
    return next(network for network in vm_record(vm)["networks"] if network["id"] == nic.id)


def _find(vm: FakeVm, nic_id: str) -> FakeNic | None:
    return next((nic for nic in vm.nics if nic.id.lower() == nic_id.lower()), None)


def add_nic(host: FakeHost, params: dict[str, Any]) -> Any:
    """``add_nic.ps1``: an adapter named ``name`` on ``switch`` (access VLAN or untagged); a rerun finds it by name."""
    vm = vm_param(host, params.get("vm_id"))
    name = text(params.get("name")).strip()
    switch_name = text(params.get("switch"))
    problems: list[str] = []
    if not name or len(name) > 100:
        problems.append("name must be 1..100 characters")
    if not switch_name:
        problems.append("switch is required")
    vlan = _vlan(params, problems)
    if problems:
        raise InvalidParameters("; ".join(problems))
    switch = _switch(host, switch_name)
    named = [nic for nic in vm.nics if nic.name.lower() == name.lower()]
    if len(named) > 1:
        raise InvalidParameters(f"VM {vm.id} has {len(named)} network adapters named '{name}'")
    if named:
        nic = named[0]  # a rerun: complete what the first run began
    else:
        _check_hot_plug(vm, "added to")
        if len(vm.nics) >= MAX_ADAPTERS:
            raise InsufficientResources(
                f"VM {vm.id} already has {len(vm.nics)} network adapters (at most {MAX_ADAPTERS})"
            )
        nic = host.add_nic(vm, switch.name, name=name)
        host.reach("add_nic:vlan")  # Add-VMNetworkAdapter done, Set-VMNetworkAdapterVlan next
    nic.switch = switch.name
    nic.vlan_id = vlan
    return _record(vm, nic)


def set_nic(host: FakeHost, params: dict[str, Any]) -> Any:
    """``set_nic.ps1``: connect to ``switch`` (None keeps the connection) and set the VLAN (None: untagged)."""
    vm = vm_param(host, params.get("vm_id"))
    nic_id = text(params.get("nic_id"))
    problems: list[str] = []
    if not nic_id:
        problems.append("nic_id is required")
    vlan = _vlan(params, problems)
    if problems:
        raise InvalidParameters("; ".join(problems))
    nic = _find(vm, nic_id)
    if nic is None:
        raise NicNotFound(f"VM {vm.id} has no network adapter {nic_id}")
    if params.get("switch") is not None:
        nic.switch = _switch(host, text(params["switch"])).name
    host.reach("set_nic:vlan")  # Connect-VMNetworkAdapter done, Set-VMNetworkAdapterVlan next
    nic.vlan_id = vlan
    return _record(vm, nic)


def remove_nic(host: FakeHost, params: dict[str, Any]) -> Any:
    """``remove_nic.ps1``: remove the adapter (by id, or by name); an absent one is success with ``existed`` False."""
    vm = vm_param(host, params.get("vm_id"))
    nic_id = text(params.get("nic_id"))
    name = text(params.get("name"))
    if not nic_id and not name:
        raise InvalidParameters("nic_id or name is required")
    if nic_id:
        nic = _find(vm, nic_id)
    else:  # by the name an add_nic gave it (an add_nic undone)
        named = [candidate for candidate in vm.nics if candidate.name.lower() == name.lower()]
        if len(named) > 1:
            raise InvalidParameters(f"VM {vm.id} has {len(named)} adapters named '{name}'")
        nic = named[0] if named else None
    if nic is None:
        return {"existed": False}
    _check_hot_plug(vm, "removed from")
    vm.nics.remove(nic)
    return {"existed": True}
