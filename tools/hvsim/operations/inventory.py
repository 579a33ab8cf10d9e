"""Host inventory: ``collect_inventory`` and ``get_vm``, and the VM record both project.

No CIM: the model is projected directly. Assigned memory is always the startup memory (no dynamic memory
balancing); ``warnings`` is always empty; the volume list is the model's volumes.
"""

from __future__ import annotations

from typing import Any

from tools.hvsim.models import FakeHost, FakeVm, leaf_name
from tools.hvsim.operations.params import gb, vm_param
from tools.hvsim.operations.switches import switch_records

__all__ = ["collect_inventory", "get_vm", "vm_record"]


def vm_record(vm: FakeVm) -> dict[str, Any]:
    """The object ``Get-AetherVmRecords`` builds for ``vm`` (collect_inventory and get_vm)."""
    state = vm.state
    startup = round(vm.memory_mb / 1024, 2)
    networks: list[dict[str, Any]] = []
    all_ips: list[str] = []
    for nic in vm.nics:
        ips = [ip for ip in vm.nic_addresses(nic) if not ip.lower().startswith("fe80")]
        all_ips += [ip for ip in ips if ip not in all_ips]
        networks.append(
            {
                "id": nic.id,
                "name": nic.name,
                "switch": nic.switch,
                "vlan_id": nic.vlan_id,
                "mac_address": nic.mac,
                "ip_addresses": ips,
            }
        )
    disks: list[dict[str, Any]] = []
    boot = vm.boot_disk()
    for drive in vm.disks:
        file = vm.host.fs.get(drive.path)
        disks.append(
            {
                "id": drive.id,
                "name": leaf_name(drive.path),
                "path": drive.path,
                "type": (file.vhd_type or "Dynamic") if file is not None else "Unknown",
                "capacity_gb": gb(file.virtual_size or file.size) if file is not None else None,
                "file_size_gb": gb(file.size) if file is not None else None,
                "controller_type": drive.controller_type,
                "controller_number": drive.controller_number,
                "controller_location": drive.controller_location,
                "boot": drive is boot,
            }
        )
    return {
        "id": vm.id,
        "name": vm.name,
        "state": state,
        "creation_time": vm.created.isoformat().replace("+00:00", "Z"),
        "notes": vm.notes,
        "version": vm.version,
        "generation": vm.generation,
        "startup_memory_gb": startup,
        "minimum_memory_gb": round(vm.minimum_mb / 1024, 2) if vm.dynamic_memory else None,
        "maximum_memory_gb": round(vm.maximum_mb / 1024, 2) if vm.dynamic_memory else None,
        "dynamic_memory_enabled": vm.dynamic_memory,
        "memory_gb": startup,
        "processor_count": vm.cpu_count,
        "os_name": vm.intrinsic_items.get("OSName"),
        "networks": networks,
        "ip_addresses": all_ips,
        "disks": disks,
        "uptime_seconds": vm.uptime_seconds,
        "clustered": vm.clustered,
        "configuration_path": vm.folder,
        "checkpoint_count": len(vm.checkpoints),
    }


def collect_inventory(host: FakeHost, params: dict[str, Any]) -> Any:
    """``collect_inventory.ps1``."""
    volumes = [
        {
            "path": volume.path,
            "label": volume.label,
            "capacity_gb": gb(volume.capacity),
            "free_gb": gb(volume.free),
            "cluster_shared": volume.path.lower().startswith("c:\\clusterstorage\\"),
        }
        for volume in host.fs.volumes
    ]
    return {
        "host": {
            "computer_name": host.computer_name,
            "cluster_name": host.cluster.name if host.cluster is not None else None,
            "logical_processors": host.logical_processors,
            "total_memory_gb": gb(host.total_memory),
            "free_memory_gb": gb(host.free_memory),
            "volumes": volumes,
            "switches": switch_records(host),
            "default_vm_path": host.default_vm_path,
            "default_vhd_path": host.default_vhd_path,
        },
        "vms": [vm_record(vm) for vm in host.vms.values()],
        "collected_at": host.backend.now().isoformat().replace("+00:00", "Z"),
        "warnings": [],
    }


def get_vm(host: FakeHost, params: dict[str, Any]) -> Any:
    """``get_vm.ps1``."""
    return vm_record(vm_param(host, params.get("vm_id")))
