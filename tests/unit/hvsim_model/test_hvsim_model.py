"""The simulated Hyper-V model on its own: state machine timing, guest agent and KVP pools, seed, scripts."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, MutableMapping
from importlib import resources
from typing import Any

import pytest

from functions.guest import names
from functions.guest.kvp import build_host_items, reassemble
from tools.hvsim.exceptions import HyperVSimError, InvalidVmState
from tools.hvsim.guest import GuestBehaviour
from tools.hvsim.models import Backend, FakeHost, ManualClock, TransitionTimes, is_valid_file_name
from tools.hvsim.operations import OPERATIONS, run_operation
from tools.hvsim.seed import PROTOCOL_VERSION, seed_lab


def make_backend(clock: ManualClock, **times: float) -> Backend:
    """A backend on a manual clock: its Linux guests are simulated (the real agent process runs in real time)."""
    simulated = GuestBehaviour(real_linux_agent=False)
    return Backend(clock=clock, sleep=clock.sleep, times=TransitionTimes(**times), guest_behaviour=simulated)


def new_vm(host: FakeHost, name: str = "app01", image: str = "Ubuntu 24.04 LTS", os_family: str = "linux") -> str:
    disk = run_operation(host, "prepare_disk", {"vm_name": name, "job_id": "j1", "image_name": image})
    created = run_operation(
        host,
        "create_vm",
        {
            "name": name,
            "job_id": "j1",
            "disk_path": disk["path"],
            "cpu_count": 2,
            "memory_gb": 2,
            "os_family": os_family,
            "switch_name": "Lab",
        },
    )
    return str(created["id"])


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def host(clock: ManualClock) -> Iterator[FakeHost]:
    backend = make_backend(clock, start=10, stop=5, save=2, reboot=3)
    yield seed_lab(backend, hosts=3, vms_per_host=4, seed=7)[2]
    backend.close()


# -- state machine --------------------------------------------------------------------------------------------


def test_start_takes_the_configured_time(host: FakeHost, clock: ManualClock) -> None:
    vm = host.vm(new_vm(host))
    assert vm.state == "Off"
    vm.start()
    assert vm.state == "Starting"
    clock.advance(9.9)
    assert vm.state == "Starting"
    clock.advance(0.1)
    assert vm.state == "Running"
    assert vm.uptime_seconds == 0
    clock.advance(42)
    assert vm.uptime_seconds == 42


def test_shutdown_save_pause_and_turn_off(host: FakeHost, clock: ManualClock) -> None:
    vm = host.vm(new_vm(host))
    vm.start()
    clock.advance(10)
    vm.shutdown()
    assert vm.state == "Stopping"
    clock.advance(5)
    assert (vm.state, vm.uptime_seconds) == ("Off", 0)
    vm.start()
    clock.advance(10)
    vm.save()
    assert vm.state == "Saving"
    clock.advance(2)
    assert vm.state == "Saved"
    vm.start()
    clock.advance(10)
    vm.pause()
    assert vm.state == "Paused"
    vm.resume()
    assert vm.state == "Running"
    vm.turn_off()
    assert vm.state == "Off"


def test_reset_cycles_through_stopping_and_starting(host: FakeHost, clock: ManualClock) -> None:
    vm = host.vm(new_vm(host))
    vm.start()
    clock.advance(10)
    boots = vm.boot_count
    vm.reset()
    assert vm.state == "Stopping"
    clock.advance(3)
    assert vm.state == "Starting"
    clock.advance(3)
    assert vm.state == "Running"
    assert vm.boot_count == boots + 1


def test_invalid_transitions_name_the_state(host: FakeHost, clock: ManualClock) -> None:
    vm = host.vm(new_vm(host))
    with pytest.raises(InvalidVmState, match="it is Off"):
        vm.pause()
    vm.start()
    with pytest.raises(InvalidVmState, match="it is Starting"):
        vm.start()


def test_memory_is_used_only_while_the_vm_is_active(host: FakeHost, clock: ManualClock) -> None:
    vm = host.vm(new_vm(host))
    free = host.free_memory
    vm.start()
    assert host.free_memory == free - 2 * 1024**3
    vm.turn_off()
    assert host.free_memory == free


def test_shutdown_operation_waits_on_the_injected_clock(host: FakeHost, clock: ManualClock) -> None:
    vm_id = new_vm(host)
    run_operation(host, "start_vm", {"vm_id": vm_id})
    clock.advance(10)
    started = clock()
    result = run_operation(host, "shutdown_vm", {"vm_id": vm_id, "timeout_seconds": 60})
    assert result["state"] == "Off"
    assert clock() - started == pytest.approx(5, abs=0.5)


# -- guest agent and KVP pools --------------------------------------------------------------------------------


class StandInGuest:
    """A minimal agent: answers the host's version with a fake key, then applies a hostname."""

    def __init__(self) -> None:
        self.phase = "waiting"
        self.applied: Any = None
        self.ejected_cd = False
        self.reboot_requested = False
        self.reboots = 0

    def tick(self, host_pool: Mapping[str, str], guest_pool: MutableMapping[str, str]) -> None:
        if host_pool.get("hlvmm.meta.host_provisioning_system_state") == "waitingforpublickey":
            guest_pool["hlvmm.meta.guest_provisioning_system_state"] = "waitingforaeskey"
        if host_pool.get("hlvmm.meta.host_provisioning_system_state") == "provisioningdatapublished":
            guest_pool["hlvmm.meta.guest_provisioning_system_state"] = "provisioningapplied"
            self.applied = type("Applied", (), {"hostname": host_pool.get("name"), "ipv4": None, "domain": None})
            self.reboot_requested, self.phase = True, "applied"

    def rebooted(self) -> None:
        self.reboot_requested = False
        self.reboots += 1


def test_guest_agent_runs_only_with_a_provisioning_iso(clock: ManualClock) -> None:
    agents: list[StandInGuest] = []

    def factory(os_family: str, version: str, behaviour: Any, clk: Any) -> StandInGuest:
        agents.append(StandInGuest())
        return agents[-1]

    backend = Backend(clock=clock, sleep=clock.sleep, guest_factory=factory)
    host = seed_lab(backend, hosts=1, vms_per_host=2)[0]
    seeded = next(iter(host.vms.values()))
    seeded.set_state("Off")
    seeded.start()
    assert agents == []  # no provisioning ISO: no agent
    vm = host.vm(new_vm(host))
    vm.start()
    assert len(agents) == 1


class CountingGuest(StandInGuest):
    """A stand-in agent that counts the ticks it gets."""

    def __init__(self) -> None:
        super().__init__()
        self.ticks = 0

    def tick(self, host_pool: Mapping[str, str], guest_pool: MutableMapping[str, str]) -> None:
        self.ticks += 1
        super().tick(host_pool, guest_pool)


def test_the_ticker_alone_boots_an_agent_once_the_start_transition_ends(clock: ManualClock) -> None:
    """A VM still in a transition is ticked (entering Running boots its agent); a quiet VM is not."""
    agents: list[CountingGuest] = []

    def factory(os_family: str, version: str, behaviour: Any, clk: Any) -> CountingGuest:
        agents.append(CountingGuest())
        return agents[-1]

    backend = Backend(clock=clock, sleep=clock.sleep, guest_factory=factory, times=TransitionTimes(start=10))
    host = seed_lab(backend, hosts=1, vms_per_host=3)[0]
    vm = host.vm(new_vm(host))
    vm.start()
    assert agents == []  # still Starting
    clock.advance(11)
    backend.tick()  # nobody read the VM's state: the ticker applies the transition and the agent boots
    assert len(agents) == 1 and vm.guest is not None and vm.guest.has_work
    backend.tick()
    assert agents[0].ticks == 2
    quiet = [other for other in host.vms.values() if other is not vm]
    assert quiet and all(other.guest is None or not other.guest.has_work for other in quiet)


def test_a_finished_agent_has_no_more_work(clock: ManualClock) -> None:
    backend = Backend(clock=clock, sleep=clock.sleep, guest_factory=lambda *args: CountingGuest())
    host = seed_lab(backend, hosts=1, vms_per_host=0)[0]
    vm_id = new_vm(host)
    run_operation(host, "start_vm", {"vm_id": vm_id})
    guest = host.vm(vm_id).guest
    assert guest is not None and guest.has_work
    guest.agent_done = True
    ticks = guest.agent.ticks  # type: ignore[union-attr]
    backend.tick()
    assert not guest.has_work and guest.agent.ticks == ticks  # type: ignore[union-attr]


def test_stand_in_guest_handshake_and_reboot(clock: ManualClock) -> None:
    backend = Backend(clock=clock, sleep=clock.sleep, guest_factory=lambda *args: StandInGuest())
    host = seed_lab(backend, hosts=1, vms_per_host=0)[0]
    vm_id = new_vm(host)
    run_operation(host, "start_vm", {"vm_id": vm_id})
    write = {"vm_id": vm_id, "remove_prefix": "hlvmm."}
    run_operation(
        host, "write_host_kvp", {**write, "items": [{"name": names.HOST_STATE_KEY, "data": "waitingforpublickey"}]}
    )
    kvp = run_operation(host, "read_guest_kvp", {"vm_id": vm_id})
    assert kvp["guest"] == {names.GUEST_STATE_KEY: "waitingforaeskey"}
    items = [{"name": "name", "data": "renamed01"}, {"name": names.HOST_STATE_KEY, "data": "provisioningdatapublished"}]
    run_operation(host, "write_host_kvp", {"vm_id": vm_id, "items": items})
    kvp = run_operation(host, "read_guest_kvp", {"vm_id": vm_id})
    assert kvp["guest"][names.GUEST_STATE_KEY] == "provisioningapplied"
    assert kvp["intrinsic"]["FullyQualifiedDomainName"] == "renamed01"
    assert host.vm(vm_id).boot_count == 2


def real_guest_run(host: FakeHost, clock: ManualClock, vm_id: str, version: str) -> dict[str, str]:
    run_operation(host, "start_vm", {"vm_id": vm_id})
    clock.advance(10)
    items = [
        {"name": names.VERSION_KEY, "data": version},
        {"name": names.HOST_STATE_KEY, "data": "waitingforpublickey"},
    ]
    run_operation(host, "write_host_kvp", {"vm_id": vm_id, "items": items, "remove_prefix": "hlvmm."})
    for _ in range(60):
        guest = run_operation(host, "read_guest_kvp", {"vm_id": vm_id})["guest"]
        if guest.get(names.GUEST_STATE_KEY) in ("waitingforaeskey", "provisioningfailed"):
            break
        clock.advance(5)
    if guest.get(names.GUEST_STATE_KEY) != "waitingforaeskey":
        return dict(guest)
    public_key = reassemble(guest, names.GUEST_PUBLIC_KEY_KEY)
    assert public_key is not None
    published = build_host_items(public_key, {"guest_host_name": "db01", "guest_la_uid": "a", "guest_la_pw": "p"})
    run_operation(
        host, "write_host_kvp", {"vm_id": vm_id, "items": [{"name": k, "data": v} for k, v in published.items()]}
    )
    clock.advance(30)
    items = [{"name": names.HOST_STATE_KEY, "data": "provisioningdatapublished"}]
    run_operation(host, "write_host_kvp", {"vm_id": vm_id, "items": items})
    for _ in range(60):
        guest = run_operation(host, "read_guest_kvp", {"vm_id": vm_id})["guest"]
        if guest.get(names.GUEST_STATE_KEY) in ("provisioningapplied", "provisioningfailed"):
            break
        clock.advance(5)
    return dict(guest)


def test_real_guest_handshake_in_process(host: FakeHost, clock: ManualClock) -> None:
    vm_id = new_vm(host, "db01", "Debian 12")
    guest = real_guest_run(host, clock, vm_id, PROTOCOL_VERSION)
    assert guest[names.GUEST_STATE_KEY] == "provisioningapplied"
    clock.advance(10)  # the reboot the guest asked for
    assert run_operation(host, "read_guest_kvp", {"vm_id": vm_id})["intrinsic"]["FullyQualifiedDomainName"] == "db01"


def test_real_guest_rejects_a_wrong_version(host: FakeHost, clock: ManualClock) -> None:
    vm_id = new_vm(host, "db02", "Debian 12")
    guest = real_guest_run(host, clock, vm_id, "0.0.1")
    assert guest[names.GUEST_STATE_KEY] == "provisioningfailed"
    assert guest[names.GUEST_ERROR_KEY] == "error validating:manifest"


def test_guest_behaviour_per_vm(host: FakeHost, clock: ManualClock) -> None:
    vm_id = new_vm(host, "quiet01", "Debian 12")
    host.vm(vm_id).guest_behaviour = GuestBehaviour(silent=True)
    guest = real_guest_run(host, clock, vm_id, PROTOCOL_VERSION)
    assert names.GUEST_STATE_KEY not in guest


@pytest.mark.parametrize(("agent", "ejected"), [("upstream", True), ("aetherv", False)])
def test_only_the_upstream_windows_guest_ejects_its_cd(
    host: FakeHost, clock: ManualClock, agent: str, ejected: bool
) -> None:
    vm_id = new_vm(host, "win01", "Windows Server 2022 Datacenter", "windows")
    host.vm(vm_id).guest_behaviour = GuestBehaviour(agent=agent)
    run_operation(host, "start_vm", {"vm_id": vm_id})
    clock.advance(10)
    run_operation(host, "read_guest_kvp", {"vm_id": vm_id})
    assert [dvd.path is None for dvd in host.vm(vm_id).dvds] == [ejected]


def test_guest_pool_is_hidden_while_off_but_kept(host: FakeHost, clock: ManualClock) -> None:
    vm = host.vm(new_vm(host, "db03", "Debian 12"))
    assert vm.guest is not None
    vm.guest.guest_pool["k"] = "v"
    assert vm.guest_items == {}
    vm.start()
    clock.advance(10)
    assert vm.guest_items == {"k": "v"}


def test_a_booting_guest_answers_nothing_until_its_kvp_daemon_runs(host: FakeHost, clock: ManualClock) -> None:
    vm = host.vm(new_vm(host, "db04", "Debian 12"))
    assert vm.guest is not None
    vm.guest.guest_pool["left.by.an.earlier.run"] = "x"  # on the disk: .kvp_pool_1
    vm.guest_behaviour = GuestBehaviour(real_linux_agent=False, boot_delay=45)
    run_operation(host, "start_vm", {"vm_id": vm.id})
    clock.advance(10)  # Starting → Running
    kvp = run_operation(host, "read_guest_kvp", {"vm_id": vm.id})
    assert (kvp["state"], kvp["guest"], kvp["intrinsic"]) == ("Running", {}, {})
    assert run_operation(host, "get_vm", {"vm_id": vm.id})["ip_addresses"] == []
    clock.advance(44)
    assert run_operation(host, "read_guest_kvp", {"vm_id": vm.id})["guest"] == {}
    clock.advance(1)
    kvp = run_operation(host, "read_guest_kvp", {"vm_id": vm.id})
    assert kvp["guest"] == {"left.by.an.earlier.run": "x"}
    assert kvp["intrinsic"]["OSName"] == vm.guest.os_name
    vm.reset()  # a reboot: down again until the boot delay has passed once more
    clock.advance(6)
    assert run_operation(host, "read_guest_kvp", {"vm_id": vm.id})["guest"] == {}


class LifecycleAgent(StandInGuest):
    """Records what the guest OS tells its agent about power."""

    boot_delay = 5.0

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.applied = type("Applied", (), {"ipv4": type("IPv4", (), {"address": "10.20.0.9"}), "hostname": None})

    def configure_os(self, os_name: str) -> None:
        self.calls.append(f"configure_os {os_name}")

    def stop(self) -> None:
        self.calls.append("stop")

    def freeze(self) -> None:
        self.calls.append("freeze")

    def thaw(self) -> None:
        self.calls.append("thaw")

    def close(self) -> None:
        self.calls.append("close")


def test_the_agent_hears_of_power_changes_and_removal(clock: ManualClock) -> None:
    agent = LifecycleAgent()
    backend = Backend(clock=clock, sleep=clock.sleep, guest_factory=lambda *args: agent)
    host = seed_lab(backend, hosts=1, vms_per_host=0)[0]
    vm = host.vm(new_vm(host, "life01", "Rocky Linux 9"))
    vm.start()
    assert vm.guest is not None and vm.guest.online_at == clock() + 5  # the agent's own boot delay
    clock.advance(5)
    vm.tick_guest()
    assert vm.nics[0].addresses[0] == "10.20.0.9"  # a static address is reported as soon as it is applied
    vm.pause()
    vm.resume()
    vm.turn_off()
    vm.start()  # not finished: a later boot gets a fresh agent, the old one is closed
    run_operation(host, "remove_vm", {"vm_id": vm.id})
    assert agent.calls == [
        "configure_os Rocky Linux 9.4 (Blue Onyx)",
        "freeze",
        "thaw",
        "stop",
        "close",
        "configure_os Rocky Linux 9.4 (Blue Onyx)",
        "stop",
        "close",
    ]
    other = host.vm(new_vm(host, "life02", "Rocky Linux 9"))
    other.start()
    backend.close()
    assert agent.calls[-1] == "close"


# -- seed -----------------------------------------------------------------------------------------------------


def snapshot(backend: Backend) -> list[dict[str, Any]]:
    return [run_operation(host, "collect_inventory", {})["vms"] for host in backend.hosts.values()]


def test_seed_is_deterministic(clock: ManualClock) -> None:
    first, second = make_backend(clock), make_backend(clock)
    seed_lab(first, hosts=4, vms_per_host=6, seed=3)
    seed_lab(second, hosts=4, vms_per_host=6, seed=3)
    assert snapshot(first) == snapshot(second)
    other = make_backend(clock)
    seed_lab(other, hosts=4, vms_per_host=6, seed=4)
    assert snapshot(other) != snapshot(first)


def test_seed_shape(clock: ManualClock) -> None:
    backend = make_backend(clock)
    hosts = seed_lab(backend, hosts=3, vms_per_host=5)
    assert [host.name for host in hosts] == ["hv01", "hv02", "hv03"]
    assert backend.clusters["hvclu01"].nodes == hosts[:2]
    assert hosts[0].fs.volumes[1] is hosts[1].fs.volumes[1]  # CSVs are shared
    names_seen = [vm.name for host in hosts for vm in host.vms.values()]
    assert len(names_seen) == len(set(names_seen)) == 15
    assert {vm.state for vm in backend.all_vms()} >= {"Running", "Off"}


# -- scripts and handlers -------------------------------------------------------------------------------------

SCRIPTS = resources.files("functions.hyperv") / "scripts"


def script(name: str) -> str:
    return (SCRIPTS / f"{name}.ps1").read_text(encoding="utf-8")


def operation_scripts() -> list[str]:
    return sorted(
        entry.name[: -len(".ps1")]
        for entry in SCRIPTS.iterdir()
        if entry.name.endswith(".ps1") and entry.name not in ("_bootstrap.ps1", "ping.ps1")
    )


def test_every_script_has_a_handler_and_back() -> None:
    assert operation_scripts() == sorted(OPERATIONS)


@pytest.mark.parametrize("name", operation_scripts())
def test_scripts_take_params_as_data(name: str) -> None:
    text = script(name)
    assert text.startswith("param($Params)\n")
    assert not re.search(r"Invoke-Expression|\biex\b|ScriptBlock\]::Create|-EncodedCommand", text, re.IGNORECASE)
    for category in re.findall(r"Fail-AetherV '([A-Za-z]+)'", text):
        assert category in {
            "VmNotFound",
            "VmAlreadyExists",
            "InvalidVmState",
            "ImageNotFound",
            "SwitchNotFound",
            "InsufficientResources",
            "ClusterError",
            "InvalidParameters",
            "ScriptFailed",
            "OperationTimeout",
            "OperationNotFound",
            "DiskNotFound",
            "NicNotFound",
            "CheckpointNotFound",
            "HostUnreachable",
        }


def test_inventory_and_get_vm_share_one_projection() -> None:
    def block(text: str) -> str:
        start = text.index("# -- shared VM projection")
        return text[start : text.index("# -- end of shared VM projection")]

    assert block(script("collect_inventory")) == block(script("get_vm"))


def test_handler_errors_carry_script_categories(host: FakeHost) -> None:
    with pytest.raises(HyperVSimError) as caught:
        run_operation(host, "get_vm", {"vm_id": "not-a-guid"})
    assert caught.value.category == "InvalidParameters"
    with pytest.raises(HyperVSimError) as caught:
        run_operation(host, "get_vm", {"vm_id": "00000000-0000-4000-8000-000000000000"})
    assert caught.value.category == "VmNotFound"


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("web01", True),
        ("it's $(x) `y`; z", True),
        ("a|b", False),
        ("a\nb", False),
        ("con", False),
        ("COM1.txt", False),
        ("trailing.", False),
        (" lead", False),
        ("x" * 101, False),
        ("", False),
    ],
)
def test_folder_name_rule(name: str, valid: bool) -> None:
    assert is_valid_file_name(name) is valid


def test_journal_records_parameters_as_received(host: FakeHost) -> None:
    params = {"name": "a'b$(c)", "memory_gb": 1}
    run_operation(host, "preflight_create", params)
    assert host.journal[-1] == ("preflight_create", params)


def test_helpers_live_once_in_the_library() -> None:
    """Shared helpers are defined once in ``scripts/lib``; the runner sends each script with the helpers it calls."""
    from functions.hyperv.runner import load_script

    library = {entry.name[: -len(".ps1")] for entry in (SCRIPTS / "lib").iterdir() if entry.name.endswith(".ps1")}
    assert len(library) >= 8
    for helper in library:
        defined = re.findall(r"^function ([A-Za-z-]+)", (SCRIPTS / "lib" / f"{helper}.ps1").read_text(), re.MULTILINE)
        assert defined == [helper]
    defined_in_scripts: dict[str, list[str]] = {}
    for name in operation_scripts():
        for helper in re.findall(r"^function ([A-Za-z-]+)", script(name), re.MULTILINE):
            defined_in_scripts.setdefault(helper, []).append(name)
    assert not set(defined_in_scripts) & library
    assert all(len(names) == 1 for names in defined_in_scripts.values()), defined_in_scripts
    sent = load_script("start_vm")
    assert sent.startswith("param($Params)\n")
    assert "function Get-AetherVm(" in sent
    assert "function Get-AetherVmRecords" not in sent  # only the helpers a script calls


def test_a_guest_reboot_keeps_the_vm_running_while_its_services_go_away(clock: ManualClock) -> None:
    """Hyper-V's state is the virtual machine's: a reboot inside the guest shows in the uptime and the integration
    services, never as Stopping/Starting (those are for Restart-VM and Stop-VM)."""
    backend = Backend(
        clock=clock, sleep=clock.sleep, times=TransitionTimes(reboot=3), guest_factory=lambda *args: StandInGuest()
    )
    host = seed_lab(backend, hosts=1, vms_per_host=0)[0]
    vm_id = new_vm(host)
    run_operation(host, "start_vm", {"vm_id": vm_id})
    vm = host.vm(vm_id)
    clock.advance(100)
    write = {"vm_id": vm_id, "remove_prefix": "hlvmm."}
    run_operation(
        host, "write_host_kvp", {**write, "items": [{"name": names.HOST_STATE_KEY, "data": "waitingforpublickey"}]}
    )
    items = [{"name": names.HOST_STATE_KEY, "data": "provisioningdatapublished"}]
    run_operation(host, "write_host_kvp", {"vm_id": vm_id, "items": items})  # the agent applies and reboots
    assert vm.state == "Running"
    assert vm.uptime_seconds == 0  # the uptime started over
    assert not vm.integration_services  # the OS is rebooting
    assert run_operation(host, "read_guest_kvp", {"vm_id": vm_id})["guest"] == {}
    clock.advance(6)
    assert vm.state == "Running" and vm.integration_services
    assert (
        run_operation(host, "read_guest_kvp", {"vm_id": vm_id})["guest"][names.GUEST_STATE_KEY] == "provisioningapplied"
    )
