"""The real Linux agent as a simulated guest: boot timing, the pool bridge, what it applied, its process's life.

Each test runs ``agents/linux/aetherv-guest-agent`` as a process (bash + openssl) in a sandbox, driven the way the
host model drives it (a tick per host read or write), with the project's host code for every published item.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping

import pytest

from functions.guest import names
from functions.guest.capabilities import KeyFreshness, fresh_agent_mark, key_freshness
from functions.guest.kvp import build_host_items, reassemble
from tools.hvsim.guest import GuestBehaviour, LinuxAgentGuest, process_group_members

VERSION = "2.5.0"
NONCE = "unit-nonce-0123456789abcdef"
FAST = GuestBehaviour(poll_interval=0.02, linux_checksum_retry_delay=0.05)


class Driver:
    """A host for one guest: pools, ticks before and after every write and before every read."""

    def __init__(self, guest: LinuxAgentGuest) -> None:
        self.guest = guest
        self.host: dict[str, str] = {}
        self.pool: dict[str, str] = {}

    def read(self) -> dict[str, str]:
        self.guest.tick(self.host, self.pool)
        return dict(self.pool)

    def write(self, items: Mapping[str, str]) -> None:
        self.guest.tick(self.host, self.pool)
        self.host.update(items)
        self.guest.tick(self.host, self.pool)

    def wait_for(self, done: Callable[[dict[str, str]], bool], timeout: float = 20) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            items = self.read()
            if done(items):
                return items
            time.sleep(0.02)
        raise AssertionError(f"timed out; guest pool {self.pool}, phase {self.guest.phase}")

    def state(self, *states: str) -> dict[str, str]:
        return self.wait_for(lambda items: items.get(names.GUEST_STATE_KEY) in (*states, "provisioningfailed"))

    def provision(self, values: Mapping[str, str]) -> dict[str, str]:
        self.write({names.VERSION_KEY: VERSION, names.HOST_NONCE_KEY: NONCE})
        self.write({names.HOST_STATE_KEY: "waitingforpublickey"})
        guest = self.state("waitingforaeskey")
        public_key = reassemble(guest, names.GUEST_PUBLIC_KEY_KEY)
        assert public_key is not None, guest
        self.write(build_host_items(public_key, values))
        self.write({names.HOST_STATE_KEY: "provisioningdatapublished"})
        return self.state("provisioningapplied")


@pytest.fixture
def make_guest() -> Iterator[Callable[..., Driver]]:
    guests: list[LinuxAgentGuest] = []

    def make(behaviour: GuestBehaviour = FAST, os_name: str = "Ubuntu 24.04.1 LTS") -> Driver:
        guest = LinuxAgentGuest(VERSION, behaviour=behaviour)
        guest.configure_os(os_name)
        guests.append(guest)
        return Driver(guest)

    yield make
    for guest in guests:
        guest.close()


PASSWORD = '  it\'s a "pass"  word\\ with $HOME `id` -e  '
SSH_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl it\'s "ops"  @example'
VALUES = {
    "guest_host_name": "lnx01",
    "guest_la_uid": "ops",
    "guest_la_pw": PASSWORD,
    "guest_v4_ip_addr": "192.168.10.77",
    "guest_v4_cidr_prefix": "24",
    "guest_v4_default_gw": "192.168.10.1",
    "guest_v4_dns1": "192.168.10.2",
    "guest_net_dns_suffix": "corp.example",
    "ansible_ssh_user": "ansible",
    "ansible_ssh_key": SSH_KEY,
}


@pytest.mark.parametrize(("os_name", "network"), [("Ubuntu 24.04.1 LTS", "netplan"), ("Rocky Linux 9.4", "nm")])
def test_the_real_agent_applies_every_value_exactly(
    make_guest: Callable[..., Driver], os_name: str, network: str
) -> None:
    driver = make_guest(os_name=os_name)
    final = driver.provision(VALUES)
    assert final[names.GUEST_STATE_KEY] == "provisioningapplied", final.get(names.GUEST_ERROR_KEY)
    sandbox = driver.guest.sandbox
    assert sandbox is not None
    # the guest's own state, read straight from its files and from what its commands received
    assert sandbox.read_text("/etc/hostname") == "lnx01\n"
    chpasswd = [call for call in sandbox.calls() if call.command == "chpasswd"]
    assert [call.stdin for call in chpasswd] == [f"ops:{PASSWORD}\n".encode()]
    assert sandbox.read_text("/home/ansible/.ssh/authorized_keys") == SSH_KEY + "\n"
    assert sandbox.read_text("/etc/sudoers.d/aetherv-ansible") == "ansible ALL=(ALL) NOPASSWD:ALL\n"
    if network == "netplan":
        assert '        - "192.168.10.77/24"' in (sandbox.read_text("/etc/netplan/60-aetherv-static.yaml") or "")
    else:
        keyfile = sandbox.read_text("/etc/NetworkManager/system-connections/aetherv-eth0.nmconnection") or ""
        assert "address1=192.168.10.77/24,192.168.10.1\n" in keyfile
    applied = driver.guest.applied
    assert applied is not None
    assert (applied.admin_user, applied.admin_password) == ("ops", PASSWORD)
    assert (applied.ansible_user, applied.ansible_ssh_key) == ("ansible", SSH_KEY)
    assert applied.ipv4 is not None and applied.ipv4.address == "192.168.10.77"
    assert applied.ipv4.dns_suffix == "corp.example"
    mark = fresh_agent_mark(final, NONCE)
    assert mark is not None and mark.network == ("netplan" if network == "netplan" else "networkmanager")
    assert driver.wait_for(lambda _: driver.guest.reboot_requested) is not None  # `reboot` became a request
    driver.guest.rebooted()
    assert driver.guest.reboots == 1
    assert driver.wait_for(lambda _: driver.guest.phase == "applied")


def test_nothing_runs_before_the_boot_delay_and_a_stale_pool_appears_with_the_daemon(
    make_guest: Callable[..., Driver],
) -> None:
    behaviour = GuestBehaviour(poll_interval=0.02, boot_delay=0.4, stale_guest_pool=True)
    driver = make_guest(behaviour)
    assert driver.read() == {}
    assert driver.guest.sandbox is None and driver.guest.phase == "booting"
    stale = driver.wait_for(bool)
    assert stale[names.GUEST_STATE_KEY] == "provisioningapplied"
    assert key_freshness(stale, nonce=NONCE) is KeyFreshness.STALE
    driver.write({names.VERSION_KEY: VERSION, names.HOST_NONCE_KEY: NONCE})
    driver.write({names.HOST_STATE_KEY: "waitingforpublickey"})
    fresh = driver.state("waitingforaeskey")
    assert key_freshness(fresh, nonce=NONCE) is KeyFreshness.ECHOED  # the agent replaced the stale key


def test_failures_come_from_the_guest_s_own_commands(make_guest: Callable[..., Driver]) -> None:
    driver = make_guest(GuestBehaviour(poll_interval=0.02, failing_commands=("chpasswd",)))
    final = driver.provision({"guest_host_name": "lnx02", "guest_la_uid": "ops", "guest_la_pw": "pw"})
    assert (final[names.GUEST_STATE_KEY], final[names.GUEST_ERROR_KEY]) == (
        "provisioningfailed",
        "error applying:mod_general",
    )
    assert driver.wait_for(lambda _: driver.guest.phase == "failed")
    assert not driver.guest.reboot_requested

    driver = make_guest(GuestBehaviour(poll_interval=0.02, missing_kvp_daemon=True))
    failed = driver.state()
    assert failed[names.GUEST_ERROR_KEY] == "error initializing:kvp_daemon"


def test_stop_kills_the_agent_and_everything_it_started_and_close_removes_the_sandbox(
    make_guest: Callable[..., Driver],
) -> None:
    driver = make_guest()
    driver.read()
    process = driver.guest.process
    sandbox = driver.guest.sandbox
    assert process is not None and sandbox is not None
    driver.wait_for(lambda _: len(process_group_members(process.pid)) >= 2)  # the watchdog and the agent
    driver.guest.freeze()
    driver.guest.thaw()
    driver.guest.stop()
    assert process.returncode is not None
    assert process_group_members(process.pid) == []
    assert sandbox.base.exists()  # the disk stays while the VM is only off
    driver.guest.close()
    assert not sandbox.base.exists()
    driver.guest.tick({}, {})  # a closed guest does nothing
    assert driver.guest.process is process


def test_silent_guest_boots_but_never_starts_the_agent(make_guest: Callable[..., Driver]) -> None:
    driver = make_guest(GuestBehaviour(silent=True, stale_guest_pool=True))
    assert driver.read()[names.GUEST_STATE_KEY] == "provisioningapplied"  # the image's stale pool shows
    assert driver.guest.process is None
    assert driver.guest.phase == "stopped"
    assert driver.guest.describe()["running"] is False
