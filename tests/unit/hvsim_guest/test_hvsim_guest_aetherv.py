"""The simulated guest playing this project's agents: capability mark, exact values, Windows verification."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from functions.guest import names
from functions.guest.capabilities import (
    Capability,
    KeyFreshness,
    fresh_agent_mark,
    key_freshness,
    parse_agent_mark,
)
from functions.guest.kvp import build_host_items, reassemble
from tools.hvsim.guest import STALE_NONCE, GuestBehaviour

from ._harness import Host, new_host

NONCE = "host-nonce-0123456789abcdef"
WINDOWS_VALUES = {
    "guest_host_name": "win07",
    "guest_la_uid": "opsadmin",
    "guest_la_pw": "Pässwört 'quoted' \"too\"",
    "guest_v4_ip_addr": "10.0.0.7",
    "guest_v4_cidr_prefix": "24",
    "guest_v4_default_gw": "10.0.0.1",
    "guest_v4_dns1": "10.0.0.2",
    "guest_net_dns_suffix": "corp.example",
    "guest_domain_join_target": "corp.example",
    "guest_domain_join_uid": "CORP\\joiner",
    "guest_domain_join_pw": "  Join pass with spaces  ",
    "guest_domain_join_ou": "OU=Servers," + ",".join(f"OU=Level{i}" for i in range(12)) + ",DC=corp,DC=example",
}


def announce(host: Host, nonce: str | None = NONCE) -> dict[str, str]:
    """The host's announce (version, nonce, state), then the guest's answer once it waits for the AES key."""
    if nonce is not None:
        host.write({names.VERSION_KEY: host.version, names.HOST_NONCE_KEY: nonce})
    host.signal_ready()
    for _ in range(10):
        guest = host.read_guest()
        if guest.get(names.GUEST_STATE_KEY) in ("waitingforaeskey", "provisioningfailed"):
            return guest
        host.clock.advance(5)
    raise AssertionError("the guest did not answer the announce")


def provision(host: Host, values: Mapping[str, str], *, nonce: str | None = NONCE) -> dict[str, str]:
    """Run the protocol to the end, rebooting the guest when it asks; returns the final guest pool."""
    guest = announce(host, nonce)
    public_key = reassemble(guest, names.GUEST_PUBLIC_KEY_KEY)
    assert public_key is not None
    host.publish(build_host_items(public_key, values))
    for _ in range(40):
        guest = host.read_guest()
        if host.guest.reboot_requested:
            host.guest.rebooted()
        if guest.get(names.GUEST_STATE_KEY) in ("provisioningapplied", "provisioningfailed"):
            return guest
        host.clock.advance(5)
    raise AssertionError(f"the guest did not finish: {guest}")


def test_windows_applies_every_value_exactly_and_reports_only_after_verifying() -> None:
    host = new_host("windows", agent="aetherv", behaviour=GuestBehaviour(boot_delay=20))
    guest = announce(host)
    mark = fresh_agent_mark(guest, NONCE)
    assert mark is not None and mark.agent == "aetherv-windows"
    assert mark.has(Capability.JOIN_OUTCOME) and mark.has(Capability.DNS_SUFFIX)
    public_key = reassemble(guest, names.GUEST_PUBLIC_KEY_KEY)
    assert public_key is not None
    host.publish(build_host_items(public_key, WINDOWS_VALUES))
    host.clock.advance(5)
    assert host.read_guest()[names.GUEST_STATE_KEY] == "applying"
    assert host.guest.reboot_requested  # reboots with the state still `applying`
    host.clock.advance(60)
    assert host.read_guest()[names.GUEST_STATE_KEY] == "applying"
    host.guest.rebooted()
    host.clock.advance(19)
    assert host.read_guest()[names.GUEST_STATE_KEY] == "applying"  # not booted yet
    host.clock.advance(1)
    final = host.read_guest()
    assert final[names.GUEST_STATE_KEY] == "provisioningapplied"
    assert final[names.GUEST_ERROR_KEY] == ""
    applied = host.guest.applied
    assert applied is not None
    assert applied.admin_password == WINDOWS_VALUES["guest_la_pw"]  # UTF-8, quotes kept
    assert applied.domain is not None
    assert applied.domain.password == WINDOWS_VALUES["guest_domain_join_pw"]  # never trimmed
    assert applied.domain.ou == WINDOWS_VALUES["guest_domain_join_ou"]  # chunked, reassembled
    assert applied.ipv4 is not None and applied.ipv4.dns_suffix == "corp.example"
    assert not host.guest.ejected_cd


def test_windows_verification_failure_is_reported_after_the_reboot() -> None:
    host = new_host("windows", agent="aetherv", behaviour=GuestBehaviour(fail_verify="domain_join"))
    final = provision(host, WINDOWS_VALUES)
    assert final[names.GUEST_STATE_KEY] == "provisioningfailed"
    assert final[names.GUEST_ERROR_KEY] == "error verifying:domain_join"
    assert host.guest.reboots == 1


@pytest.mark.parametrize(
    ("os_family", "values", "summary"),
    [
        ("windows", {"guest_la_uid": "a", "guest_la_pw": "p", "ansible_ssh_user": "ansible"}, "ansible_ssh_user"),
        (
            "linux",
            {"guest_la_uid": "a", "guest_la_pw": "p", "guest_domain_join_target": "x.example"},
            "guest_domain_join_target",
        ),
    ],
)
def test_a_key_the_agent_does_not_apply_fails_the_run(os_family: str, values: dict[str, str], summary: str) -> None:
    final = provision(new_host(os_family, agent="aetherv"), values)  # type: ignore[arg-type]
    assert final[names.GUEST_STATE_KEY] == "provisioningfailed"
    assert final[names.GUEST_ERROR_KEY] == f"error applying:unsupported {summary}"


def test_windows_domain_join_without_an_ou_fails_instead_of_being_skipped() -> None:
    values = {key: value for key, value in WINDOWS_VALUES.items() if key != "guest_domain_join_ou"}
    final = provision(new_host("windows", agent="aetherv"), values)
    assert final[names.GUEST_ERROR_KEY] == "error applying:mod_domain"


def test_linux_simulated_agent_keeps_quotes_blanks_and_leading_dashes() -> None:
    values = {
        "guest_host_name": "lnx07",
        "guest_la_uid": "ops",
        "guest_la_pw": '-e  it\'s "quoted"\\ ',
        "ansible_ssh_user": "ansible",
        "ansible_ssh_key": "ssh-ed25519 AAAAC3Nza" + "x" * 120 + ' it\'s "me"',
    }
    host = new_host("linux", agent="aetherv", behaviour=GuestBehaviour(fail_module="mod_net"))
    final = provision(host, {**values, "guest_v4_ip_addr": "10.0.0.9"})
    assert final[names.GUEST_ERROR_KEY] == "error applying:mod_net"  # fail_module is honoured
    host = new_host("linux", agent="aetherv")
    final = provision(host, values)
    assert final[names.GUEST_STATE_KEY] == "provisioningapplied"
    mark = parse_agent_mark(final[names.GUEST_AGENT_KEY])
    assert mark is not None and mark.network == "netplan"
    applied = host.guest.applied
    assert applied is not None
    assert applied.admin_password == values["guest_la_pw"]
    assert applied.ansible_ssh_key == values["ansible_ssh_key"]


@pytest.mark.parametrize("nonce", [None, "short", "has spaces in it 0123456789"])
def test_a_missing_or_malformed_nonce_is_not_echoed(nonce: str | None) -> None:
    host = new_host("windows", agent="aetherv")
    guest = announce(host, nonce)
    mark = parse_agent_mark(guest[names.GUEST_AGENT_KEY])
    assert mark is not None and mark.nonce is None and mark.key_sha256 is not None


@pytest.mark.parametrize("os_family", ["windows", "linux"])
def test_a_stale_pool_from_an_earlier_run_shows_at_boot_and_is_told_apart(os_family: str) -> None:
    host = new_host(os_family, agent="aetherv", behaviour=GuestBehaviour(stale_guest_pool=True, boot_delay=30))  # type: ignore[arg-type]
    assert host.read_guest() == {}  # not booted: the KVP daemon does not run yet
    host.clock.advance(30)
    stale = host.read_guest()
    assert stale[names.GUEST_STATE_KEY] == "provisioningapplied"
    assert key_freshness(stale, nonce=NONCE) is KeyFreshness.STALE
    assert parse_agent_mark(stale[names.GUEST_AGENT_KEY]).nonce == STALE_NONCE  # type: ignore[union-attr]
    guest = announce(host)
    assert key_freshness(guest, nonce=NONCE) is KeyFreshness.ECHOED
