"""Reading operations through the real client stack: inventory, one VM, images, ISOs, switches."""

from __future__ import annotations

import json

import pytest

from functions.hyperv.client import HyperVClient
from functions.hyperv.errors import InvalidParameters, VmNotFound
from functions.hyperv.models import HostInventory, VmInfo
from tools.hvsim.lab import Lab, LabHost
from tools.hvsim.seed import IMAGES


def test_collect_inventory_reports_host_facts_and_every_vm(hv: HyperVClient, standalone: LabHost) -> None:
    inventory = hv.collect_inventory()

    host = inventory.host
    assert host.computer_name == "HV03"
    assert host.cluster_name is None
    assert host.logical_processors == 32
    assert host.total_memory_gb == 256
    assert 0 < host.free_memory_gb < 256
    assert [switch.name for switch in host.switches] == ["External", "Internal", "Lab"]
    assert {switch.type for switch in host.switches} == {"External", "Internal", "Private"}
    assert host.volumes[0].path == "C:\\"
    assert host.volumes[0].free_gb < host.volumes[0].capacity_gb
    assert host.default_vm_path
    assert {vm.id for vm in inventory.vms} == set(standalone.model.vms)
    assert inventory.warnings == []


def test_inventory_vm_fields_match_the_host(hv: HyperVClient, standalone: LabHost) -> None:
    inventory = hv.collect_inventory()
    running = next(vm for vm in inventory.vms if vm.state == "Running")
    model = standalone.model.vm(running.id)

    assert running.name == model.name
    assert running.generation == 2
    assert running.processor_count == model.cpu_count
    assert running.startup_memory_gb == model.memory_mb / 1024
    assert running.memory_gb == running.startup_memory_gb
    assert running.dynamic_memory_enabled is False
    assert running.os_name == model.guest.os_name if model.guest else False
    assert running.os_family in ("windows", "linux")
    assert running.uptime_seconds > 0
    assert running.creation_time is not None
    assert running.creation_time.tzinfo is not None
    assert len(running.disks) == 1
    disk = running.disks[0]
    assert disk.path.endswith(f"\\{model.name}.vhdx")
    assert disk.id.endswith("\\D")
    assert disk.type == "Dynamic"
    assert disk.capacity_gb in (30, 127)
    assert disk.file_size_gb is not None
    assert disk.file_size_gb < disk.capacity_gb
    adapter = running.networks[0]
    assert adapter.switch in ("External", "Internal", "Lab")
    assert adapter.mac_address
    assert adapter.mac_address.startswith("00:15:5D:")
    assert adapter.ip_addresses
    assert running.ip_addresses == adapter.ip_addresses
    assert not any(ip.startswith("fe80") for ip in running.ip_addresses)


def test_off_vms_report_no_guest_data(hv: HyperVClient) -> None:
    off = [vm for vm in hv.collect_inventory().vms if vm.state == "Off"]
    assert off, "the seed has Off VMs"
    for vm in off:
        assert vm.os_name is None
        assert vm.ip_addresses == []
        assert vm.uptime_seconds == 0


def test_inventory_is_json_serialisable_and_round_trips(hv: HyperVClient) -> None:
    inventory = hv.collect_inventory()
    text = json.dumps(inventory.model_dump(mode="json"))
    assert HostInventory.model_validate(json.loads(text)) == inventory


def test_inventory_is_one_script_run(hv: HyperVClient, standalone: LabHost) -> None:
    hv.collect_inventory()
    assert standalone.server.counters.snapshot()["operations"] == {"collect_inventory": 1}


def test_cluster_node_reports_cluster_and_clustered_vms(hv_node: HyperVClient, node: LabHost) -> None:
    inventory = hv_node.collect_inventory()
    assert inventory.host.cluster_name == "hvclu01"
    assert any(volume.cluster_shared for volume in inventory.host.volumes)
    clustered = {vm.id for vm in inventory.vms if vm.clustered}
    assert clustered
    assert clustered <= set(node.model.vms)


def test_get_vm_matches_inventory(hv: HyperVClient) -> None:
    inventory = hv.collect_inventory()
    for vm in inventory.vms:
        assert hv.get_vm(vm.id) == vm
    assert isinstance(hv.get_vm(inventory.vms[0].id.upper()), VmInfo)


def test_get_vm_unknown_id_is_vm_not_found(hv: HyperVClient) -> None:
    with pytest.raises(VmNotFound) as caught:
        hv.get_vm("00000000-0000-4000-8000-000000000001")
    assert caught.value.host == "hv03"


def test_get_vm_rejects_a_non_guid_before_sending(hv: HyperVClient, standalone: LabHost) -> None:
    with pytest.raises(InvalidParameters):
        hv.get_vm("web01")
    assert standalone.server.counters.snapshot()["operations"] == {}


def test_list_images_on_standalone_and_cluster(hv: HyperVClient, hv_node: HyperVClient) -> None:
    standalone = hv.list_images()
    assert sorted(image.name for image in standalone) == sorted(spec.name for spec in IMAGES)
    assert all(image.path.startswith("C:\\Hyper-V\\DiskImages\\") for image in standalone)
    families = {image.name: image.os_family for image in standalone}
    assert families["Windows Server 2022 Datacenter"] == "windows"
    assert families["Rocky Linux 9"] == "linux"
    assert all(image.path.startswith("C:\\ClusterStorage\\Volume1\\DiskImages\\") for image in hv_node.list_images())
    assert hv.list_images(image_paths=["D:\\Nowhere"]) == []


def test_list_images_unknown_prefix_has_no_family(hv: HyperVClient, standalone: LabHost) -> None:
    source = standalone.model.fs.get("C:\\Hyper-V\\DiskImages\\Debian 12.vhdx")
    assert source is not None
    standalone.model.fs.write(source.copy_to("C:\\Hyper-V\\DiskImages\\Appliance 3.vhdx"))
    images = {image.name: image for image in hv.list_images()}
    assert images["Appliance 3"].os_family is None


def test_list_isos_and_version(hv: HyperVClient) -> None:
    library = hv.list_isos()
    assert library.install_dir == "C:\\Program Files\\Aether-V"
    assert library.version == "2.5.0"
    assert {iso.os_family for iso in library.isos} == {"windows", "linux"}
    empty = hv.list_isos(install_dir="C:\\Elsewhere")
    assert empty.version is None
    assert empty.isos == []


def test_list_switches(hv: HyperVClient) -> None:
    switches = hv.list_switches()
    assert [(switch.name, switch.type) for switch in switches] == [
        ("External", "External"),
        ("Internal", "Internal"),
        ("Lab", "Private"),
    ]


def test_out_of_band_changes_show_in_the_next_inventory(hv: HyperVClient, lab: Lab, standalone: LabHost) -> None:
    import urllib.request

    def call(method: str, path: str, body: dict[str, object] | None = None) -> object:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(lab.control.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    created = call("POST", "/hvsim/hosts/hv03/vms", {"name": "oob01", "image": "Debian 12", "state": "Running"})
    assert isinstance(created, dict)
    vm_id = str(created["id"])
    assert any(vm.id == vm_id and vm.state == "Running" for vm in hv.collect_inventory().vms)
    call("PATCH", f"/hvsim/hosts/hv03/vms/{vm_id}", {"state": "Saved", "name": "oob01-renamed"})
    renamed = hv.get_vm(vm_id)
    assert (renamed.name, renamed.state) == ("oob01-renamed", "Saved")
    call("DELETE", f"/hvsim/hosts/hv03/vms/{vm_id}")
    assert vm_id not in {vm.id for vm in hv.collect_inventory().vms}
