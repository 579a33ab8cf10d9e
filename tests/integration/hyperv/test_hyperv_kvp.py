"""KVP through the real client stack: host writes, guest reads, and a full provisioning handshake."""

from __future__ import annotations

import pytest

from functions.guest import names
from functions.guest.kvp import build_host_items, reassemble
from functions.guest.status import read_guest_status
from functions.hyperv.client import HyperVClient
from functions.hyperv.errors import InvalidParameters, VmNotFound
from functions.hyperv.models import CreateVmSpec, GuestKvp, PrepareDiskSpec, VmInfo
from tools.hvsim.lab import Lab, LabHost
from tools.hvsim.models import ManualClock
from tools.hvsim.seed import PROTOCOL_VERSION


def provisionable_vm(hv: HyperVClient, name: str, image: str, os_family: str) -> VmInfo:
    disk = hv.prepare_disk(PrepareDiskSpec(vm_name=name, job_id=f"job-{name}", image_name=image))
    spec = CreateVmSpec.model_validate(
        {
            "name": name,
            "job_id": f"job-{name}",
            "disk_path": disk.path,
            "cpu_count": 2,
            "memory_gb": 4,
            "os_family": os_family,
            "switch_name": "External",
        }
    )
    return hv.create_vm(spec)


def test_write_then_read_host_items(hv: HyperVClient, standalone: LabHost) -> None:
    vm_id = next(vm.id for vm in standalone.model.vms.values() if vm.state == "Running")
    hv.write_host_kvp(vm_id, {"a.one": "1", "a.two": "2", "b.keep": "k"})
    assert standalone.model.vm(vm_id).host_items == {"a.one": "1", "a.two": "2", "b.keep": "k"}
    hv.write_host_kvp(vm_id, {"a.three": "3"}, remove_prefix="a.")
    assert standalone.model.vm(vm_id).host_items == {"b.keep": "k", "a.three": "3"}
    hv.write_host_kvp(vm_id, {"b.keep": "changed"}, remove=["a.three"])
    assert standalone.model.vm(vm_id).host_items == {"b.keep": "changed"}


def test_remove_prefix_drops_stale_chunks(hv: HyperVClient, standalone: LabHost) -> None:
    vm_id = next(iter(standalone.model.vms))
    stale = {f"hlvmm.data.guest_la_pw._{index}": "old" for index in range(3)}
    hv.write_host_kvp(vm_id, {**stale, "hlvmm.data.guest_host_name": "old", "other.item": "x"})
    hv.write_host_kvp(vm_id, {"hlvmm.meta.version": "2.5.0"}, remove_prefix="hlvmm.")
    assert standalone.model.vm(vm_id).host_items == {"other.item": "x", "hlvmm.meta.version": "2.5.0"}


def test_write_host_kvp_is_one_script_run(hv: HyperVClient, standalone: LabHost) -> None:
    vm_id = next(iter(standalone.model.vms))
    hv.write_host_kvp(vm_id, {f"k{index}": "v" * 200 for index in range(60)}, remove_prefix="k")
    assert standalone.server.counters.snapshot()["operations"] == {"write_host_kvp": 1}


def test_write_host_kvp_errors(hv: HyperVClient, standalone: LabHost) -> None:
    vm_id = next(iter(standalone.model.vms))
    with pytest.raises(VmNotFound):
        hv.write_host_kvp("00000000-0000-4000-8000-0000000000bb", {"a": "b"})
    with pytest.raises(InvalidParameters) as caught:
        hv.write_host_kvp(vm_id, {"": "x", "long": "v" * 1025})
    assert "1-1024" in str(caught.value)
    assert "at most 1024" in str(caught.value)
    assert standalone.model.vm(vm_id).host_items == {}


def test_read_guest_kvp_of_running_and_off_vms(hv: HyperVClient, standalone: LabHost) -> None:
    running = next(vm for vm in standalone.model.vms.values() if vm.state == "Running")
    kvp = hv.read_guest_kvp(running.id)
    assert kvp.state == "Running"
    assert kvp.intrinsic["OSName"] == running.guest.os_name if running.guest else False
    assert kvp.intrinsic["FullyQualifiedDomainName"] == running.name.lower()
    assert set(kvp.intrinsic) <= {
        "OSName",
        "OSVersion",
        "FullyQualifiedDomainName",
        "NetworkAddressIPv4",
        "NetworkAddressIPv6",
        "IntegrationServicesVersion",
    }
    only = hv.read_guest_kvp(running.id, intrinsic_names=["OSName"])
    assert list(only.intrinsic) == ["OSName"]
    off = next(vm for vm in standalone.model.vms.values() if vm.state == "Off")
    assert hv.read_guest_kvp(off.id) == GuestKvp(state="Off")


@pytest.mark.parametrize(
    ("image", "os_family", "values"),
    [
        (
            "Ubuntu 24.04 LTS",
            "linux",
            {
                "guest_host_name": "lnx42",
                "guest_la_uid": "ops",
                "guest_la_pw": "S3cret-" + "x" * 150,  # chunked: longer than 100 characters
                "guest_v4_ip_addr": "192.168.10.42",
                "guest_v4_cidr_prefix": "24",
                "guest_v4_default_gw": "192.168.10.1",
                "guest_v4_dns1": "192.168.10.2",
            },
        ),
        (
            "Windows Server 2025 Standard",
            "windows",
            {"guest_host_name": "win42", "guest_la_uid": "admin", "guest_la_pw": "Adm1n-P@ss"},
        ),
    ],
)
def test_full_provisioning_handshake(
    hv: HyperVClient,
    standalone: LabHost,
    lab_clock: ManualClock,
    image: str,
    os_family: str,
    values: dict[str, str],
) -> None:
    vm = provisionable_vm(hv, values["guest_host_name"], image, os_family)
    hv.start_vm(vm.id)

    def poll(done: str, limit: float = 600) -> GuestKvp:
        deadline = lab_clock() + limit
        while True:
            kvp = hv.read_guest_kvp(vm.id)
            if kvp.guest.get(names.GUEST_STATE_KEY) in (done, "provisioningfailed") or lab_clock() >= deadline:
                return kvp
            lab_clock.advance(5)

    assert read_guest_status(hv.read_guest_kvp(vm.id).guest).guest_state is None  # a fresh guest
    hv.write_host_kvp(
        vm.id,
        {names.VERSION_KEY: PROTOCOL_VERSION, names.HOST_STATE_KEY: "waitingforpublickey"},
        remove_prefix="hlvmm.",
    )
    kvp = poll("waitingforaeskey")
    assert kvp.guest[names.GUEST_STATE_KEY] == "waitingforaeskey"
    public_key = reassemble(kvp.guest, names.GUEST_PUBLIC_KEY_KEY)
    assert public_key is not None

    hv.write_host_kvp(vm.id, build_host_items(public_key, values))
    lab_clock.advance(30)
    hv.write_host_kvp(vm.id, {names.HOST_STATE_KEY: "provisioningdatapublished"})
    kvp = poll("provisioningapplied")
    assert kvp.guest[names.GUEST_STATE_KEY] == "provisioningapplied", kvp.guest.get(names.GUEST_ERROR_KEY)

    after = hv.get_vm(vm.id)  # the guest rebooted into its new identity
    assert after.state == "Running"
    assert hv.read_guest_kvp(vm.id).intrinsic["FullyQualifiedDomainName"] == values["guest_host_name"]
    if "guest_v4_ip_addr" in values:
        assert after.ip_addresses == [values["guest_v4_ip_addr"]]
    model = standalone.model.vm(vm.id)
    assert all(dvd.path for dvd in model.dvds)  # this project's agents leave the CD to the host
    ejected = hv.eject_iso(vm.id)
    assert ejected.removed_drives == 1
    assert len(ejected.deleted_files) == 1
    hv.write_host_kvp(vm.id, {}, remove_prefix="hlvmm.")
    assert model.host_items == {}


def test_control_plane_shows_the_pools(hv: HyperVClient, lab: Lab, standalone: LabHost) -> None:
    import json
    import urllib.request

    vm_id = next(vm.id for vm in standalone.model.vms.values() if vm.state == "Running")
    hv.write_host_kvp(vm_id, {"hlvmm.meta.version": "2.5.0"})
    url = f"{lab.control.url}/hvsim/hosts/hv03/vms/{vm_id}/kvp"
    with urllib.request.urlopen(url, timeout=5) as response:
        pools = json.loads(response.read())
    assert pools["host"] == {"hlvmm.meta.version": "2.5.0"}
    assert pools["state"] == "Running"
    assert "OSName" in pools["intrinsic"]
