"""The real Linux agent behind WinRM: a lab on the real clock whose Linux guests run agents/linux/aetherv-guest-agent.

The host side is the project's own code (``HyperVClient`` over pywinrm, ``functions.guest.kvp.build_host_items``,
``capabilities.new_host_nonce``); outcomes are read from the guest's sandbox through the lab's control plane
(``GET /hvsim/hosts/{host}/vms/{vm_id}/guest``), never from the app.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from functions.guest import names
from functions.guest.capabilities import KeyFreshness, fresh_agent_mark, key_freshness, new_host_nonce
from functions.guest.kvp import build_host_items, reassemble
from functions.guest.status import read_guest_status
from functions.hyperv.client import HyperVClient
from functions.hyperv.factory import open_client
from functions.hyperv.models import CreateVmSpec, GuestKvp, PrepareDiskSpec
from functions.settings import HostEndpoint, Secret, WinRMSettings
from tools.hvsim.guest import GuestBehaviour, LinuxAgentGuest, process_group_members
from tools.hvsim.lab import Lab
from tools.hvsim.models import TransitionTimes
from tools.hvsim.seed import PROTOCOL_VERSION

REPO = Path(__file__).resolve().parents[3]
FAST = GuestBehaviour(boot_delay=0.3, poll_interval=0.05, linux_checksum_retry_delay=0.1)
PASSWORD = "Two  spaces, 'single' and \"double\" quotes "
SSH_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl "it\'s" ops@example'


@pytest.fixture(scope="module")
def real_lab() -> Iterator[Lab]:
    times = TransitionTimes(start=0.1, stop=0.1, save=0.05, reboot=0.1)
    options: dict[str, Any] = {"times": times, "ticker_interval": 0.05, "guest_behaviour": FAST}
    with Lab.start(hosts=1, vms_per_host=0, username="LAB\\realagent", **options) as lab:  # its own account
        yield lab


@pytest.fixture
def hv(real_lab: Lab) -> Iterator[HyperVClient]:
    settings = real_lab.winrm_settings(connect_timeout=2, operation_timeout=10, read_timeout=20)
    with open_client(real_lab.hosts[0].endpoint_setting, settings=settings, addresses=real_lab.addresses) as client:
        yield client


def control(lab: Lab, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{lab.control.url}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def new_vm(hv: HyperVClient, name: str, image: str = "Ubuntu 24.04 LTS", os_family: str = "linux") -> str:
    disk = hv.prepare_disk(PrepareDiskSpec(vm_name=name, job_id=f"job-{name}", image_name=image))
    spec = CreateVmSpec.model_validate(
        {
            "name": name,
            "job_id": f"job-{name}",
            "disk_path": disk.path,
            "cpu_count": 1,
            "memory_gb": 2,
            "os_family": os_family,
            "switch_name": "External",
        }
    )
    return hv.create_vm(spec).id


def poll(hv: HyperVClient, vm_id: str, done: Callable[[GuestKvp], bool], timeout: float = 30) -> GuestKvp:
    deadline = time.monotonic() + timeout
    while True:
        kvp = hv.read_guest_kvp(vm_id)
        if done(kvp) or time.monotonic() > deadline:
            return kvp
        time.sleep(0.05)


def state_in(*states: str) -> Callable[[GuestKvp], bool]:
    return lambda kvp: kvp.guest.get(names.GUEST_STATE_KEY) in (*states, "provisioningfailed")


def announce(hv: HyperVClient, vm_id: str, nonce: str) -> None:
    """The announce as the host should write it: version, then the nonce, then the state (D6)."""
    hv.write_host_kvp(
        vm_id,
        {
            names.VERSION_KEY: PROTOCOL_VERSION,
            names.HOST_NONCE_KEY: nonce,
            names.HOST_STATE_KEY: names.HostState.WAITING_FOR_PUBLIC_KEY,
        },
        remove_prefix=names.PREFIX,
    )


def test_a_linux_vm_ends_with_exactly_the_requested_values_in_its_own_files(real_lab: Lab, hv: HyperVClient) -> None:
    vm_id = new_vm(hv, "lnx-real01")
    slow_boot = {"boot_delay": 1.0, "poll_interval": 0.05}
    control(real_lab, "PUT", f"/hvsim/hosts/hv01/vms/{vm_id}/guest-behaviour", slow_boot)
    hv.start_vm(vm_id)
    first = poll(hv, vm_id, lambda kvp: kvp.state == "Running")
    assert first.state == "Running"
    assert first.guest == {}  # the guest has not booted yet: its KVP daemon does not run
    assert first.intrinsic == {}
    nonce = new_host_nonce()
    announce(hv, vm_id, nonce)
    kvp = poll(hv, vm_id, state_in("waitingforaeskey"))
    assert kvp.guest[names.GUEST_STATE_KEY] == "waitingforaeskey", kvp.guest
    mark = fresh_agent_mark(kvp.guest, nonce)
    assert mark is not None and mark.agent == "aetherv-linux" and mark.network == "netplan"
    public_key = reassemble(kvp.guest, names.GUEST_PUBLIC_KEY_KEY)
    assert public_key is not None
    values = {
        "guest_host_name": "lnx-real01",
        "guest_la_uid": "opsadmin",
        "guest_la_pw": PASSWORD,
        "guest_v4_ip_addr": "192.168.10.61",
        "guest_v4_cidr_prefix": "24",
        "guest_v4_default_gw": "192.168.10.1",
        "guest_v4_dns1": "192.168.10.2",
        "guest_v4_dns2": "192.168.10.3",
        "guest_net_dns_suffix": "corp.example",
        "ansible_ssh_user": "ansible",
        "ansible_ssh_key": SSH_KEY,
    }
    hv.write_host_kvp(vm_id, build_host_items(public_key, values), remove_prefix=names.DATA_PREFIX)
    hv.write_host_kvp(vm_id, {names.HOST_STATE_KEY: names.HostState.DATA_PUBLISHED})
    kvp = poll(hv, vm_id, state_in("provisioningapplied"))
    assert kvp.guest[names.GUEST_STATE_KEY] == "provisioningapplied", kvp.guest.get(names.GUEST_ERROR_KEY)

    guest = control(real_lab, "GET", f"/hvsim/hosts/hv01/vms/{vm_id}/guest")
    agent = guest["agent"]
    assert agent["runtime"] == "process"
    files = agent["files"]
    assert files["/etc/hostname"] == "lnx-real01\n"
    assert files["/home/ansible/.ssh/authorized_keys"] == SSH_KEY + "\n"
    assert files["/etc/sudoers.d/aetherv-ansible"] == "ansible ALL=(ALL) NOPASSWD:ALL\n"
    assert '        - "192.168.10.61/24"' in files["/etc/netplan/60-aetherv-static.yaml"]
    assert "sudo:x:27:opsadmin" in files["/etc/group"].splitlines()
    assert [call["stdin"] for call in agent["calls"] if call["command"] == "chpasswd"] == [f"opsadmin:{PASSWORD}\n"]
    applied = agent["applied"]
    assert (applied["admin_user"], applied["admin_password"]) == ("opsadmin", PASSWORD)
    assert applied["ipv4"]["dns_servers"] == ["192.168.10.2", "192.168.10.3"]
    assert applied["ipv4"]["dns_suffix"] == "corp.example"

    # the agent called `reboot`: the VM cycles, then reports its new name and the static address
    after = poll(hv, vm_id, lambda k: k.intrinsic.get("FullyQualifiedDomainName") == "lnx-real01")
    assert after.intrinsic["NetworkAddressIPv4"] == "192.168.10.61"
    assert hv.get_vm(vm_id).ip_addresses[0] == "192.168.10.61"
    assert control(real_lab, "GET", f"/hvsim/hosts/hv01/vms/{vm_id}/guest")["agent"]["reboots"] == 1
    hv.remove_vm(vm_id)


def test_a_stale_key_from_the_golden_image_appears_only_after_boot(real_lab: Lab, hv: HyperVClient) -> None:
    vm_id = new_vm(hv, "lnx-stale01")
    body = {"boot_delay": 1.0, "poll_interval": 0.05, "stale_guest_pool": True}
    control(real_lab, "PUT", f"/hvsim/hosts/hv01/vms/{vm_id}/guest-behaviour", body)
    hv.start_vm(vm_id)
    right_after_start = poll(hv, vm_id, lambda kvp: kvp.state == "Running").guest
    assert right_after_start == {}  # a pre-start or right-after-start snapshot cannot see the stale key
    assert read_guest_status(right_after_start).state is None
    nonce = new_host_nonce()
    stale = poll(hv, vm_id, lambda kvp: bool(kvp.guest)).guest
    assert stale[names.GUEST_STATE_KEY] == "provisioningapplied"  # an earlier run's state, from the image
    assert key_freshness(stale, nonce=nonce) is KeyFreshness.STALE
    announce(hv, vm_id, nonce)
    fresh = poll(hv, vm_id, lambda kvp: key_freshness(kvp.guest, nonce=nonce) is KeyFreshness.ECHOED).guest
    assert fresh[names.GUEST_STATE_KEY] == "waitingforaeskey"
    hv.remove_vm(vm_id)


def test_an_upstream_style_guest_can_be_chosen_per_vm(real_lab: Lab, hv: HyperVClient) -> None:
    vm_id = new_vm(hv, "lnx-upstream01")
    control(real_lab, "PUT", f"/hvsim/hosts/hv01/vms/{vm_id}/guest-behaviour", {"agent": "upstream"})
    hv.start_vm(vm_id)
    announce(hv, vm_id, new_host_nonce())
    kvp = poll(hv, vm_id, state_in("waitingforaeskey"))
    assert kvp.guest[names.GUEST_STATE_KEY] == "waitingforaeskey"
    assert names.GUEST_AGENT_KEY not in kvp.guest  # no capability mark, no nonce echo
    assert control(real_lab, "GET", f"/hvsim/hosts/hv01/vms/{vm_id}/guest")["agent"]["runtime"] == "simulated"
    hv.remove_vm(vm_id)


def running_agent(lab: Lab, hv: HyperVClient, vm_id: str) -> LinuxAgentGuest:
    hv.start_vm(vm_id)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        guest = lab.host("hv01").model.vm(vm_id).guest
        agent = None if guest is None else guest.agent
        process = agent.process if isinstance(agent, LinuxAgentGuest) else None
        if process is not None and len(process_group_members(process.pid)) >= 2:  # the watchdog and the agent
            return agent  # type: ignore[return-value]
        time.sleep(0.05)
    raise AssertionError("the agent did not start")


def test_no_agent_process_outlives_a_stop_or_the_vm(real_lab: Lab, hv: HyperVClient) -> None:
    vm_id = new_vm(hv, "lnx-gone01")
    agent = running_agent(real_lab, hv, vm_id)
    assert agent.process is not None and agent.sandbox is not None
    first_pid = agent.process.pid
    hv.stop_vm(vm_id)
    assert process_group_members(first_pid) == []
    assert agent.sandbox.base.exists()  # the guest's disk stays with the VM
    agent = running_agent(real_lab, hv, vm_id)  # not provisioned yet: the next boot starts the agent again
    assert agent.process is not None and agent.sandbox is not None
    pid, sandbox = agent.process.pid, agent.sandbox.base
    assert pid != first_pid
    removed = hv.remove_vm(vm_id)
    assert removed.existed
    assert process_group_members(pid) == []
    assert not sandbox.exists()


def test_no_agent_process_outlives_the_lab() -> None:
    options: dict[str, Any] = {"ticker_interval": 0.05, "guest_behaviour": FAST, "username": "LAB\\labstop"}
    with Lab.start(hosts=1, vms_per_host=0, **options) as lab:
        settings = lab.winrm_settings(connect_timeout=2, operation_timeout=10, read_timeout=20)
        with open_client(lab.hosts[0].endpoint_setting, settings=settings, addresses=lab.addresses) as client:
            agent = running_agent(lab, client, new_vm(client, "lnx-labstop01"))
    assert agent.process is not None and agent.sandbox is not None
    assert process_group_members(agent.process.pid) == []
    assert not agent.sandbox.base.exists()


def test_a_windows_guest_applies_the_suffix_and_reports_only_after_its_verifying_reboot(
    real_lab: Lab, hv: HyperVClient
) -> None:
    vm_id = new_vm(hv, "win-real01", "Windows Server 2022 Datacenter", "windows")
    hv.start_vm(vm_id)
    nonce = new_host_nonce()
    announce(hv, vm_id, nonce)
    kvp = poll(hv, vm_id, state_in("waitingforaeskey"))
    assert fresh_agent_mark(kvp.guest, nonce) is not None
    public_key = reassemble(kvp.guest, names.GUEST_PUBLIC_KEY_KEY)
    assert public_key is not None
    values = {
        "guest_host_name": "win-real01",
        "guest_la_uid": "opsadmin",
        "guest_la_pw": "Pässwört mit Leerzeichen ",
        "guest_v4_ip_addr": "192.168.10.62",
        "guest_v4_cidr_prefix": "24",
        "guest_v4_default_gw": "192.168.10.1",
        "guest_v4_dns1": "192.168.10.2",
        "guest_v4_dns2": "192.168.10.3",
        "guest_net_dns_suffix": "corp.example",
        "guest_domain_join_target": "corp.example",
        "guest_domain_join_uid": "joiner",
        "guest_domain_join_pw": " Join-Me ",
        "guest_domain_join_ou": "OU=Servers,DC=corp,DC=example",
    }
    hv.write_host_kvp(vm_id, build_host_items(public_key, values))
    hv.write_host_kvp(vm_id, {names.HOST_STATE_KEY: names.HostState.DATA_PUBLISHED})
    kvp = poll(hv, vm_id, state_in("provisioningapplied"))
    assert kvp.guest[names.GUEST_STATE_KEY] == "provisioningapplied"
    guest = control(real_lab, "GET", f"/hvsim/hosts/hv01/vms/{vm_id}/guest")
    assert guest["agent"]["reboots"] == 1  # the state was written by the verification run after the reboot
    assert guest["hostname"] == "win-real01.corp.example"
    applied = guest["agent"]["applied"]
    assert applied["admin_password"] == values["guest_la_pw"]
    assert applied["domain"]["password"] == " Join-Me "
    assert applied["ipv4"]["dns_suffix"] == "corp.example"
    hv.remove_vm(vm_id)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_agents_die_with_the_lab_process_even_when_it_is_killed(signum: int) -> None:
    args = [sys.executable, "-m", "tools.hvsim", "--hosts", "1", "--vms-per-host", "0", "--json"]
    args += ["--guest-boot-seconds", "0", "--guest-poll-seconds", "0.05", "--boot-seconds", "0"]
    args += ["--copy-mb-per-second", "0"]  # images copy at once: this test is about the agents
    lab = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert lab.stdout is not None
        text = ""
        while True:  # one indented JSON document, then the lab serves
            line = lab.stdout.readline().decode()
            assert line, "the lab did not start"
            text += line
            with contextlib.suppress(ValueError):
                hosts = json.loads(text)
                break
        host = hosts[0]
        settings = WinRMSettings(
            scheme="https",
            port=5986,
            transport="ntlm",
            username=host["username"],
            password=Secret(host["password"]),
            ca_bundle=host["ca_cert"],
            verify_tls=True,
            cert_pem=None,
            cert_key_pem=None,
            connect_timeout=2,
            operation_timeout=10,
            read_timeout=20,
        )
        endpoint = HostEndpoint(name=host["name"], port=host["port"])
        with open_client(endpoint, settings=settings, addresses={host["name"]: host["address"]}) as client:
            vm_id = new_vm(client, "lnx-cli01")
            client.start_vm(vm_id)
        url = f"{host['control']}/hvsim/hosts/{host['name']}/vms/{vm_id}/guest"
        deadline = time.monotonic() + 10
        agent: dict[str, Any] = {}
        while not agent.get("running") and time.monotonic() < deadline:
            time.sleep(0.05)
            with urllib.request.urlopen(url, timeout=5) as response:
                agent = json.loads(response.read())["agent"] or {}
        assert agent.get("running"), agent
        pgid = agent["pid"]
        assert process_group_members(pgid)
        os.killpg(lab.pid, signum)
        lab.wait(timeout=15)
        deadline = time.monotonic() + 5
        while process_group_members(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)  # after SIGKILL the watchdog sees its pipe close and kills the group
        assert process_group_members(pgid) == []
        assert not Path(agent["sandbox"]).exists()  # deleted by the lab, or by the watchdog after a SIGKILL
    finally:
        if lab.poll() is None:
            os.killpg(lab.pid, signal.SIGKILL)
            lab.wait()
        if lab.stdout is not None:
            lab.stdout.close()
