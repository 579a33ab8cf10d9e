"""The lab's control-plane handlers, called directly on a seeded backend (no sockets): outcomes on the model."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from tools.hvsim import routes
from tools.hvsim.exceptions import FileInUse
from tools.hvsim.guest import GuestBehaviour
from tools.hvsim.models import Backend, FakeFile, ManualClock
from tools.hvsim.operations import run_operation
from tools.hvsim.protocol.control import ControlError, ControlPlane, ControlRequest
from tools.hvsim.seed import seed_lab


@dataclass
class StubLab:
    """A lab without servers: the routes that touch only models work on it."""

    backend: Backend
    vms_per_host: int = 2
    hosts: Sequence[routes.LabHostView] = ()
    reseeded: list[tuple[int | None, int | None]] = field(default_factory=list)

    def reseed(self, *, seed: int | None = None, vms_per_host: int | None = None) -> None:
        self.reseeded.append((seed, vms_per_host))
        seed_lab(self.backend, hosts=2, vms_per_host=vms_per_host or self.vms_per_host, seed=seed or 0)


@pytest.fixture
def lab() -> Iterator[StubLab]:
    clock = ManualClock()
    # A manual clock: Linux guests are played by the simulated guest, not the real agent process.
    backend = Backend(clock=clock, sleep=clock.sleep, guest_behaviour=GuestBehaviour(real_linux_agent=False))
    seed_lab(backend, hosts=2, vms_per_host=2)
    yield StubLab(backend)
    backend.close()


def request(method: str, path: str, params: dict[str, str], body: Any = None) -> ControlRequest:
    return ControlRequest(method, path, params, {}, body)


def test_create_change_and_delete_a_vm_out_of_band(lab: StubLab) -> None:
    host = lab.backend.host("hv02")
    created = routes.create_vm(
        lab, request("POST", "", {"host": "hv02"}, {"name": "oob01", "image": "Debian 12", "state": "Running"})
    )
    vm = host.vm(created["id"])
    assert (vm.name, vm.state, created["state"]) == ("oob01", "Running", "Running")

    changed = routes.change_vm(
        lab, request("PATCH", "", {"host": "hv02", "vm_id": vm.id}, {"name": "oob01b", "state": "Off", "cpu_count": 4})
    )
    assert (vm.name, vm.state, vm.cpu_count) == ("oob01b", "Off", 4)
    assert changed["processor_count"] == 4

    disk = vm.disks[0].path
    assert routes.delete_vm(lab, request("DELETE", "", {"host": "hv02", "vm_id": vm.id})) == {"deleted": vm.id}
    assert host.find_vm(vm.id) is None
    assert not host.fs.is_file(disk)


def test_list_vms_reports_the_inventory_records(lab: StubLab) -> None:
    listed = routes.list_vms(lab, request("GET", "", {"host": "hv01"}))
    assert sorted(record["id"] for record in listed) == sorted(lab.backend.host("hv01").vms)


def test_bad_requests_name_the_problem(lab: StubLab) -> None:
    with pytest.raises(ControlError) as unknown_host:
        routes.list_vms(lab, request("GET", "", {"host": "hv99"}))
    assert unknown_host.value.status == 404
    with pytest.raises(ControlError) as no_name:
        routes.create_vm(lab, request("POST", "", {"host": "hv01"}, {"image": "Debian 12"}))
    assert (no_name.value.status, no_name.value.message) == (400, "name is required")
    with pytest.raises(ControlError) as unknown_image:
        routes.create_vm(lab, request("POST", "", {"host": "hv01"}, {"name": "x", "image": "OS/2 Warp"}))
    assert unknown_image.value.status == 400
    with pytest.raises(ControlError) as unknown_vm:
        routes.read_kvp(lab, request("GET", "", {"host": "hv01", "vm_id": "nope"}))
    assert unknown_vm.value.status == 404
    vm_id = next(iter(lab.backend.host("hv01").vms))
    with pytest.raises(ControlError) as not_an_object:
        routes.change_vm(lab, request("PATCH", "", {"host": "hv01", "vm_id": vm_id}, ["name"]))
    assert (not_an_object.value.status, not_an_object.value.message) == (400, "expected a JSON object")


def test_guest_behaviour_is_parsed_and_reset(lab: StubLab) -> None:
    host = lab.backend.host("hv01")
    routes.host_behaviour(lab, request("PUT", "", {"host": "hv01"}, {"silent": True, "poll_interval": 0.5}))
    assert host.guest_behaviour == GuestBehaviour(silent=True, poll_interval=0.5)
    routes.host_behaviour(lab, request("PUT", "", {"host": "hv01"}, {}))
    assert host.guest_behaviour is None
    vm = next(iter(host.vms.values()))
    routes.vm_behaviour(lab, request("PUT", "", {"host": "hv01", "vm_id": vm.id}, {"fail_module": "mod_net"}))
    assert vm.guest_behaviour == GuestBehaviour(fail_module="mod_net")
    with pytest.raises(ControlError) as invalid:
        routes.host_behaviour(lab, request("PUT", "", {"host": "hv01"}, {"no_such_switch": 1}))
    assert invalid.value.status == 400


def test_read_kvp_shows_both_pools_without_ticking(lab: StubLab) -> None:
    vm = next(iter(lab.backend.host("hv01").vms.values()))
    vm.host_items["hlvmm.meta.version"] = "2.5.0"
    kvp = routes.read_kvp(lab, request("GET", "", {"host": "hv01", "vm_id": vm.id}))
    assert kvp["host"] == {"hlvmm.meta.version": "2.5.0"}
    assert kvp["agent_state"] is None
    assert set(kvp) == {"state", "online", "host", "guest", "intrinsic", "agent_state"}


def test_read_kvp_shows_the_guest_pool_only_once_the_guest_has_booted(lab: StubLab) -> None:
    vm = next(vm for vm in lab.backend.host("hv01").vms.values() if vm.guest is not None)
    assert vm.guest is not None
    vm.turn_off()
    vm.guest.guest_pool["left.by.an.earlier.boot"] = "x"
    lab.backend.guest_behaviour = GuestBehaviour(real_linux_agent=False, boot_delay=30)
    vm.start()
    kvp = routes.read_kvp(lab, request("GET", "", {"host": "hv01", "vm_id": vm.id}))
    assert (kvp["state"], kvp["online"], kvp["guest"]) == ("Running", False, {})
    assert isinstance(lab.backend.clock, ManualClock)
    lab.backend.clock.advance(30)
    kvp = routes.read_kvp(lab, request("GET", "", {"host": "hv01", "vm_id": vm.id}))
    assert (kvp["online"], kvp["guest"]) == (True, {"left.by.an.earlier.boot": "x"})


def test_read_guest_describes_the_simulated_agent(lab: StubLab) -> None:
    vm = next(vm for vm in lab.backend.host("hv01").vms.values() if vm.guest is not None)
    described = routes.read_guest(lab, request("GET", "", {"host": "hv01", "vm_id": vm.id}))
    assert described["agent"] is None  # seeded VMs run no provisioning agent
    assert described["os_family"] == vm.guest.os_family  # type: ignore[union-attr]
    with pytest.raises(ControlError) as missing:
        routes.read_guest(lab, request("GET", "", {"host": "hv01", "vm_id": "nope"}))
    assert missing.value.status == 404


def test_lab_behaviour_is_the_default_of_every_host(lab: StubLab) -> None:
    routes.lab_behaviour(lab, request("PUT", "", {}, {"boot_delay": 3, "failing_commands": ["chpasswd"]}))
    assert lab.backend.guest_behaviour == GuestBehaviour(boot_delay=3, failing_commands=("chpasswd",))
    vm = next(iter(lab.backend.host("hv02").vms.values()))
    assert vm.guest_behaviour_in_effect() == lab.backend.guest_behaviour
    routes.host_behaviour(lab, request("PUT", "", {"host": "hv02"}, {"agent": "upstream"}))
    assert vm.guest_behaviour_in_effect() == GuestBehaviour(agent="upstream")
    with pytest.raises(ControlError) as bad:
        routes.lab_behaviour(lab, request("PUT", "", {}, {"agent": "hlvmm", "failing_commands": ["rm"]}))
    assert bad.value.status == 400


def test_seed_reseeds_through_the_lab(lab: StubLab) -> None:
    assert routes.seed(lab, request("POST", "", {}, {"seed": 7, "vms_per_host": 1})) == {
        "hosts": [],
        "vms_per_host": 2,
    }
    assert lab.reseeded == [(7, 1)]
    assert all(len(host.vms) == 1 for host in lab.backend.hosts.values())


def test_install_serves_every_route_on_the_plane(lab: StubLab) -> None:
    plane = ControlPlane()
    routes.install(plane, lab)
    status, body = plane.dispatch("GET", "/hvsim/hosts/hv01/vms", b"", {})
    assert status == 200
    assert len(body) == 2
    for route in routes.ROUTES:
        path = route.path.replace("{host}", "hv99").replace("{vm_id}", "x")
        status, _ = plane.dispatch(route.method, path, b"{}", {"Content-Type": "application/json"})
        assert status == (404 if "{host}" in route.path else 200), route


def test_background_work_is_set_and_shown(lab: StubLab) -> None:
    host = lab.backend.host("hv02")
    params = {"host": "hv02"}
    body = {"copy_mb_per_second": 1024, "faults": [{"at_percent": 50, "crash": True}]}
    shown = routes.set_background(lab, request("PUT", "", params, body))
    assert shown["copy_mb_per_second"] == 1024
    assert shown["faults"] == [
        {"at_percent": 50, "category": "HostOperationFailed", "message": shown["faults"][0]["message"], "crash": True}
    ]
    spec = {"kind": "prepare_disk", "operation_id": "j.1", "job_id": "j", "vm_name": "bg01", "image_name": "Debian 12"}
    run_operation(host, "start_operation", spec)
    assert host.background.faults == []  # taken by the copy that started
    lab.backend.clock.advance(0.5)  # type: ignore[attr-defined]
    tasks = routes.read_background(lab, request("GET", "", params))["tasks"]
    assert [(t["id"], t["running"], t["state"]) for t in tasks] == [("j.1", True, "running")]
    assert 0 < tasks[0]["bytes_done"] < tasks[0]["bytes_total"]
    lab.backend.clock.advance(5)  # type: ignore[attr-defined]
    tasks = routes.read_background(lab, request("GET", "", params))["tasks"]
    assert [(t["running"], t["state"], t["last_result"]) for t in tasks] == [(False, "running", 0x8007042B)]
    for bad in ({"copy_mb_per_second": 0}, {"faults": [{"at_percent": 120}]}, {"faults": [{"when": 1}]}, {"x": 1}):
        with pytest.raises(ControlError):
            routes.set_background(lab, request("PUT", "", params, bad))
    assert (
        routes.set_background(lab, request("PUT", "", params, {"copy_mb_per_second": None}))["copy_mb_per_second"]
        is None
    )


def test_a_held_file_cannot_be_deleted_moved_or_replaced(lab: StubLab) -> None:
    fs = lab.backend.host("hv01").fs
    fs.mkdir("C:\\Hyper-V\\x")
    fs.write(FakeFile("C:\\Hyper-V\\x\\x.vhdx.partial", 10))
    fs.hold("C:\\Hyper-V\\x\\x.vhdx.partial")
    for attempt in (
        lambda: fs.remove("C:\\Hyper-V\\x\\x.vhdx.partial"),
        lambda: fs.move("C:\\Hyper-V\\x\\x.vhdx.partial", "C:\\Hyper-V\\x\\x.vhdx"),
        lambda: fs.write(FakeFile("C:\\Hyper-V\\x\\x.vhdx.partial", 1)),
        lambda: fs.remove_tree("C:\\Hyper-V\\x"),
    ):
        with pytest.raises(FileInUse, match="being used by another process"):
            attempt()
    fs.release("C:\\Hyper-V\\x\\x.vhdx.partial")
    fs.remove_tree("C:\\Hyper-V\\x")
    assert not fs.exists("C:\\Hyper-V\\x")
