"""KVP pools: read the guest pool, write the host pool, and the create's start step that does both.

``read_guest_kvp``, ``write_host_kvp``, and ``start_and_announce`` (both around a start).

Each call ticks the guest agent first: the host reading or writing KVP items is what drives a simulated guest; a
write ticks it again afterwards, which hands the new items to the guest's KVP daemon (a real agent's pool file).
There are no WMI jobs, and the 128-items-per-call batching of the script is not observable.
"""

from __future__ import annotations

from typing import Any

from tools.hvsim.exceptions import InvalidParameters
from tools.hvsim.models import FakeHost
from tools.hvsim.operations.dvds import list_isos
from tools.hvsim.operations.params import list_param, parse_guid, text, vm_param
from tools.hvsim.operations.power import start_vm

__all__ = ["read_guest_kvp", "start_and_announce", "write_host_kvp"]

DEFAULT_INTRINSIC = (
    "OSName",
    "OSVersion",
    "FullyQualifiedDomainName",
    "NetworkAddressIPv4",
    "NetworkAddressIPv6",
    "IntegrationServicesVersion",
)


def read_guest_kvp(host: FakeHost, params: dict[str, Any]) -> Any:
    """``read_guest_kvp.ps1``: the guest agent gets a tick first (the host reading is what drives it)."""
    vm = vm_param(host, params.get("vm_id"))
    vm.tick_guest()
    wanted = list_param(params.get("intrinsic_names"))
    names = list(DEFAULT_INTRINSIC) if wanted is None else wanted
    intrinsic = {key: value for key, value in vm.intrinsic_items.items() if key in names}
    return {"state": vm.state, "guest": vm.guest_items, "intrinsic": intrinsic}


def write_host_kvp(host: FakeHost, params: dict[str, Any]) -> Any:
    """``write_host_kvp.ps1``: remove (prefix, names, names to write), then add in order."""
    vm_id = parse_guid(params.get("vm_id"))
    items = params.get("items") or []
    items = items if isinstance(items, list) else [items]
    problems = []
    names: set[str] = set()
    for item in items:
        name = text(item.get("name")) if isinstance(item, dict) else ""
        data = item.get("data") if isinstance(item, dict) else None
        if not name or len(name) > 1024:
            problems.append(f"item name '{name}' must be 1-1024 characters")
        elif name.lower() in names:
            problems.append(f"item '{name}' is given twice")
        if data is None or len(text(data)) > 1024:
            problems.append(f"item '{name}' needs data of at most 1024 characters")
        names.add(name.lower())
    if problems:
        raise InvalidParameters("; ".join(problems))
    vm = host.vm(vm_id)
    vm.tick_guest()  # the guest catches up on the host pool as it was before this change
    explicit = set(list_param(params.get("remove")) or [])
    prefix = text(params.get("remove_prefix"))
    removed = [
        name
        for name in vm.host_items
        if (prefix and name.startswith(prefix)) or name in explicit or name.lower() in names
    ]
    for name in removed:
        del vm.host_items[name]
    for item in items:
        vm.host_items[text(item["name"])] = text(item["data"])
    vm.tick_guest()  # the guest's KVP daemon delivers the change (a real agent reads it from its pool file)
    return {"removed": removed, "written": [text(item["name"]) for item in items]}


def start_and_announce(host: FakeHost, params: dict[str, Any]) -> Any:
    """``start_and_announce.ps1``: the same helpers as the four scripts, in the script's order and conditions."""
    read = {"vm_id": params.get("vm_id"), "intrinsic_names": params.get("intrinsic_names")}
    before = read_guest_kvp(host, read)
    power = start_vm(host, {"vm_id": params.get("vm_id"), "if_needed": True})
    after = read_guest_kvp(host, read)
    library = list_isos(host, {"install_dir": params.get("install_dir")})
    leftover = bool(power["changed"]) and text(params.get("guest_state_key")) in after["guest"]
    announced = False
    if library["version"] and not leftover:
        items = params.get("items") or []
        announcement = [{"name": text(params.get("version_key")), "data": library["version"]}]
        announcement += items if isinstance(items, list) else [items]
        write_host_kvp(
            host, {"vm_id": params.get("vm_id"), "items": announcement, "remove_prefix": params.get("remove_prefix")}
        )
        announced = True
    return {"before": before, "power": power, "after": after, "library": library, "announced": announced}
