"""The simulated guests end to end against the real host side: happy paths and every failure switch."""

from __future__ import annotations

import base64
import hashlib

import pytest

from functions.guest import names
from functions.guest.crypto import encrypt_value, generate_aes_key, wrap_aes_key
from functions.guest.errors import GuestAlreadyProvisionedError
from functions.guest.keys import load_guest_public_key
from functions.guest.kvp import build_host_items, guest_compatibility_problems, reassemble
from functions.guest.status import ensure_fresh_guest_pool, read_guest_status
from tools.hvsim.guest import GuestBehaviour

from ._harness import VERSION, Host, new_host

WINDOWS_REQUEST = {
    "guest_host_name": "win01",
    "guest_la_uid": "localadmin",
    "guest_la_pw": "Adm1n-P@ss",
    "guest_v4_ip_addr": "192.0.2.20",
    "guest_v4_cidr_prefix": "24",
    "guest_v4_default_gw": "192.0.2.1",
    "guest_v4_dns1": "192.0.2.2",
    "guest_v4_dns2": "192.0.2.3",
    "guest_net_dns_suffix": "lab.example",
    "guest_domain_join_target": "corp.example",
    "guest_domain_join_uid": "CORP\\joiner",
    "guest_domain_join_pw": "J0in-P@ss",
    "guest_domain_join_ou": "OU=Servers,DC=corp,DC=example",
}
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF" + "x" * 150 + " ansible@control"
LINUX_REQUEST = {
    "guest_host_name": "lnx01",
    "guest_la_uid": "ops",
    "guest_la_pw": "0ps-P@ss",
    "guest_v4_ip_addr": "198.51.100.30",
    "guest_v4_cidr_prefix": "25",
    "guest_v4_default_gw": "198.51.100.1",
    "guest_v4_dns1": "198.51.100.2",
    "guest_net_dns_suffix": "lab.example",
    "guest_domain_join_target": "ignored.example",
    "ansible_ssh_user": "ansible",
    "ansible_ssh_key": SSH_KEY + "\n",
}


def error_of(host: Host) -> str | None:
    return host.guest_pool.get(names.GUEST_ERROR_KEY)


# -- happy paths ---------------------------------------------------------------------------------------------


def test_windows_happy_path_with_static_ip_and_domain_join() -> None:
    host = new_host("windows")
    assert guest_compatibility_problems(WINDOWS_REQUEST, "windows") == {}
    outcome = host.run(WINDOWS_REQUEST)
    assert outcome.result == "applied"
    guest = host.guest
    assert guest.state == "provisioningapplied"
    assert guest.ejected_cd
    assert guest.reboot_requested
    assert names.GUEST_ERROR_KEY not in host.guest_pool  # Windows never writes an empty error
    applied = guest.applied
    assert applied is not None
    assert applied.modules == ("mod_general", "mod_net", "mod_domain")
    assert applied.hostname == "win01"
    assert applied.admin_user == "localadmin"
    assert applied.admin_password == "Adm1n-P@ss"
    assert applied.ipv4 is not None
    assert applied.ipv4.address == "192.0.2.20"
    assert applied.ipv4.prefix_length == "24"
    assert applied.ipv4.gateway == "192.0.2.1"
    assert applied.ipv4.dns_servers == ("192.0.2.2", "192.0.2.3")
    assert applied.ipv4.dns_suffix is None  # D10
    assert applied.domain is not None
    assert (applied.domain.domain, applied.domain.ou, applied.domain.user) == (
        "corp.example",
        "OU=Servers,DC=corp,DC=example",
        "CORP\\joiner",
    )
    assert applied.domain.password == "J0in-P@ss"
    assert applied.ansible_user is None
    # the published key is a CAPI PUBLICKEYBLOB
    assert base64.b64decode(host.guest_pool[names.GUEST_PUBLIC_KEY_KEY])[:2] == b"\x06\x02"


def test_linux_happy_path_with_static_ip_and_ansible() -> None:
    host = new_host("linux")
    outcome = host.run(LINUX_REQUEST)
    assert outcome.result == "applied"
    guest = host.guest
    assert host.guest_pool[names.GUEST_STATE_KEY] == "provisioningapplied"
    assert host.guest_pool[names.GUEST_ERROR_KEY] == ""
    assert not guest.ejected_cd
    applied = guest.applied
    assert applied is not None
    assert applied.modules == ("mod_general", "mod_net", "mod_ansible")
    assert (applied.hostname, applied.admin_user, applied.admin_password) == ("lnx01", "ops", "0ps-P@ss")
    assert applied.ipv4 is not None
    assert applied.ipv4.interface == "eth0"
    assert applied.ipv4.address == "198.51.100.30"
    assert applied.ipv4.prefix_length == "25"
    assert applied.ipv4.dns_servers == ("198.51.100.2",)
    assert applied.ipv4.dns_suffix == "lab.example"
    assert applied.domain is None  # domain fields are ignored on Linux
    assert applied.ansible_user == "ansible"
    assert applied.ansible_ssh_key == SSH_KEY  # chunked (>100) and trailing newline stripped by the host
    assert base64.b64decode(host.guest_pool[names.GUEST_PUBLIC_KEY_KEY])[:4] == bytes.fromhex("3082010a")


@pytest.mark.parametrize("os_family", ["windows", "linux"])
def test_fresh_key_generation_and_minimal_request(os_family: str) -> None:
    host = new_host(os_family, fresh_key=True)  # type: ignore[arg-type]
    outcome = host.run({"guest_host_name": "vm01", "guest_la_uid": "admin", "guest_la_pw": "pw"})
    assert outcome.result == "applied"
    applied = host.guest.applied
    assert applied is not None
    assert applied.ipv4 is None
    assert applied.domain is None
    key = load_guest_public_key(host.guest_pool[names.GUEST_PUBLIC_KEY_KEY])
    assert key.key_size == 2048


def test_reboot_and_intrinsic_items() -> None:
    host = new_host("windows")
    assert host.guest.intrinsic_items()["FullyQualifiedDomainName"] == "WIN-TEMPLATE"
    host.run(WINDOWS_REQUEST)
    assert host.guest.reboot_requested
    host.guest.rebooted()
    assert not host.guest.reboot_requested
    assert host.guest.reboots == 1
    items = host.guest.intrinsic_items()
    assert items["FullyQualifiedDomainName"] == "win01.corp.example"
    assert items["NetworkAddressIPv4"] == "192.0.2.20"


def test_timing_of_a_run() -> None:
    host = new_host("linux")
    outcome = host.run({"guest_host_name": "vm01"})
    assert outcome.result == "applied"
    # key after the first 5 s poll, 30 s publish pause, completion seen at the next poll
    assert outcome.elapsed == pytest.approx(40.0)


# -- failure switches ----------------------------------------------------------------------------------------


def test_linux_missing_kvp_daemon() -> None:
    host = new_host("linux", behaviour=GuestBehaviour(missing_kvp_daemon=True, boot_delay=20.0))
    outcome = host.run(LINUX_REQUEST)
    assert outcome.result == "failed"
    assert outcome.status.error_summary == "error initializing:kvp_daemon"
    assert host.guest_pool[names.GUEST_STATE_KEY] == "provisioningfailed"


def test_linux_failing_module_names_the_module() -> None:
    host = new_host("linux", behaviour=GuestBehaviour(fail_module="mod_net"))
    outcome = host.run(LINUX_REQUEST)
    assert outcome.result == "failed"
    assert outcome.status.error_summary == "error applying:mod_net"
    assert host.guest.applied is not None
    assert host.guest.applied.modules == ("mod_general",)
    assert not host.guest.reboot_requested


@pytest.mark.parametrize("module", ["mod_general", "mod_net", "mod_domain"])
def test_windows_failing_module_is_reported_as_modules(module: str) -> None:
    host = new_host("windows", behaviour=GuestBehaviour(fail_module=module))
    outcome = host.run(WINDOWS_REQUEST)
    assert outcome.result == "failed"
    assert outcome.status.error_summary == "error applying:modules"


@pytest.mark.parametrize("os_family", ["windows", "linux"])
def test_version_mismatch(os_family: str) -> None:
    host = new_host(os_family, iso_version="2.3.999")  # type: ignore[arg-type]
    outcome = host.run({"guest_host_name": "vm01"})
    assert outcome.result == "failed"
    assert outcome.status.error_summary == "error validating:manifest"
    assert names.GUEST_PUBLIC_KEY_KEY not in host.guest_pool


@pytest.mark.parametrize("os_family", ["windows", "linux"])
def test_version_is_compared_after_trimming_whitespace_and_nuls(os_family: str) -> None:
    host = new_host(os_family, iso_version=f"  {VERSION}\r\n\x00")  # type: ignore[arg-type]
    host.version = f"\x00{VERSION} \n"
    assert host.run({"guest_host_name": "vm01"}).result == "applied"


@pytest.mark.parametrize("os_family", ["windows", "linux"])
def test_state_before_version_races_into_a_manifest_failure(os_family: str) -> None:
    """D6: the original host wrote the state first; a guest polling in between sees no version."""
    host = new_host(os_family)  # type: ignore[arg-type]
    host.read_guest()
    host.clock.advance(4.0)
    host.write({names.HOST_STATE_KEY: "waitingforpublickey"})
    host.clock.advance(1.0)  # the guest polls between the two writes
    host.write({names.VERSION_KEY: VERSION})
    assert host.read_guest()[names.GUEST_ERROR_KEY] == "error validating:manifest"


def test_windows_chunked_value_fails_the_checksum() -> None:
    """D1: the Windows agent never reads ``._N`` items."""
    request = {**WINDOWS_REQUEST, "guest_la_pw": "L" * 101}
    assert "guest_la_pw" in guest_compatibility_problems(request, "windows")
    host = new_host("windows")
    outcome = host.run(request)
    assert outcome.result == "failed"
    assert outcome.status.error_summary == "error validating:checksum"
    assert host.guest.applied is None


def test_linux_reads_a_3000_character_value() -> None:
    host = new_host("linux")
    value = "".join(chr(0x41 + i % 26) for i in range(3000))
    assert host.run(
        {"guest_host_name": "vm01", "ansible_ssh_user": "a", "ansible_ssh_key": value}
    ).result == ("applied")
    assert host.guest.applied is not None
    assert host.guest.applied.ansible_ssh_key == value


def legacy_items(public_key_b64: str, values: dict[str, str]) -> dict[str, str]:
    """Items as the original host built them: values hashed and encrypted as given (no newline stripping)."""
    aes_key = generate_aes_key()
    joined = "|".join(values[key] for key in sorted(values))
    items = {
        names.CHECKSUM_KEY: base64.b64encode(hashlib.sha256(joined.encode()).digest()).decode(),
        names.SHARED_AES_KEY_KEY: wrap_aes_key(load_guest_public_key(public_key_b64), aes_key),
    }
    for key, value in values.items():
        items[key] = encrypt_value(aes_key, value)
    return items


def run_with_items(host: Host, make_items: object) -> None:
    assert callable(make_items)
    host.read_guest()
    host.signal_ready()
    host.wait(5.0)
    public_key = reassemble(host.read_guest(), names.GUEST_PUBLIC_KEY_KEY)
    assert public_key is not None
    host.publish(make_items(public_key))


def test_linux_trailing_newline_from_a_legacy_host_fails_after_one_retry() -> None:
    """D2: the Linux agent drops trailing newlines, so a host that hashes them fails the checksum."""
    host = new_host("linux")
    values = {"hlvmm.data.guest_host_name": "vm01", "hlvmm.data.ansible_ssh_key": "ssh-ed25519 AAAA k\n"}
    run_with_items(host, lambda key: legacy_items(key, values))
    host.wait(5.0)
    assert host.guest.phase == "checksum_retry"
    assert host.guest_pool[names.GUEST_STATE_KEY] == "waitingforaeskey"
    host.wait(29.0)
    assert host.guest.phase == "checksum_retry"
    host.wait(1.0)
    assert host.guest_pool[names.GUEST_STATE_KEY] == "provisioningfailed"
    assert host.guest_pool[names.GUEST_ERROR_KEY] == "error validating:checksum"


def test_windows_accepts_the_trailing_newline_of_a_legacy_host() -> None:
    host = new_host("windows")
    values = {"hlvmm.data.guest_host_name": "vm01\n"}
    run_with_items(host, lambda key: legacy_items(key, values))
    host.wait(5.0)
    assert host.guest_pool[names.GUEST_STATE_KEY] == "provisioningapplied"


def test_linux_trailing_newline_passes_because_the_host_strips_it() -> None:
    host = new_host("linux")
    outcome = host.run({"guest_host_name": "vm01", "guest_la_uid": "ops\r\n", "guest_la_pw": "pw\n\n"})
    assert outcome.result == "applied"
    assert host.guest.applied is not None
    assert (host.guest.applied.admin_user, host.guest.applied.admin_password) == ("ops", "pw")


def test_linux_checksum_retry_succeeds_when_the_host_fixes_the_data() -> None:
    host = new_host("linux")
    good: dict[str, str] = {}

    def items(public_key: str) -> dict[str, str]:
        good.update(build_host_items(public_key, {"guest_host_name": "vm01"}))
        return {**good, names.CHECKSUM_KEY: "AAAA"}

    run_with_items(host, items)
    host.wait(5.0)
    assert host.guest.phase == "checksum_retry"
    host.write({names.CHECKSUM_KEY: good[names.CHECKSUM_KEY]})
    host.wait(30.0)
    assert host.guest_pool[names.GUEST_STATE_KEY] == "provisioningapplied"


def test_windows_fails_a_bad_checksum_at_once() -> None:
    host = new_host("windows")
    run_with_items(
        host, lambda key: {**build_host_items(key, {"guest_host_name": "vm01"}), names.CHECKSUM_KEY: "AAAA"}
    )
    host.wait(5.0)
    assert host.guest_pool[names.GUEST_ERROR_KEY] == "error validating:checksum"


def test_stale_chunk_from_an_earlier_run_breaks_linux_reassembly() -> None:
    """D3: why the host removes every hlvmm. item before publishing."""
    host = new_host("linux")
    leftover = encrypt_value(generate_aes_key(), "z" * 100)
    run_with_items(
        host,
        lambda key: {
            **build_host_items(key, {"ansible_ssh_user": "a", "ansible_ssh_key": "k" * 150}),
            "hlvmm.data.ansible_ssh_key._2": leftover,
        },
    )
    host.wait(40.0)
    assert host.guest_pool[names.GUEST_ERROR_KEY] == "error validating:checksum"


@pytest.mark.parametrize("os_family", ["windows", "linux"])
def test_undecryptable_aes_key(os_family: str) -> None:
    host = new_host(os_family)  # type: ignore[arg-type]
    run_with_items(
        host,
        lambda key: {**build_host_items(key, {"guest_host_name": "vm01"}), names.SHARED_AES_KEY_KEY: "AAAA"},
    )
    host.wait(5.0)
    assert host.guest_pool[names.GUEST_ERROR_KEY] == "error decrypting:shared_aes_key"


@pytest.mark.parametrize("os_family", ["windows", "linux"])
def test_no_data_keys(os_family: str) -> None:
    host = new_host(os_family)  # type: ignore[arg-type]
    run_with_items(host, lambda key: build_host_items(key, {}))
    host.wait(5.0)
    assert host.guest_pool[names.GUEST_ERROR_KEY] == "error reading:provisioning_data"


def test_linux_echo_option_value_is_lost() -> None:
    request = {"guest_host_name": "vm01", "guest_la_uid": "ops", "guest_la_pw": "-n"}
    assert "guest_la_pw" in guest_compatibility_problems(request, "linux")
    host = new_host("linux")
    assert host.run(request).status.error_summary == "error validating:checksum"


def test_hlvmm_era_guest_stops_at_waitingforaeskey() -> None:
    host = new_host("linux", behaviour=GuestBehaviour(hlvmm_era=True))
    outcome = host.run({"guest_host_name": "vm01"}, completion_timeout=600.0)
    assert outcome.result == "timeout-completion"
    assert outcome.status.state == "waitingforaeskey"
    assert host.guest.phase == "stopped"
    assert names.GUEST_ERROR_KEY not in host.guest_pool  # [H] agents never write the error key
    assert host.guest.applied is None


def test_silent_guest_never_answers() -> None:
    host = new_host("windows", behaviour=GuestBehaviour(silent=True))
    outcome = host.run({"guest_host_name": "vm01"})
    assert outcome.result == "timeout-key"
    assert host.guest_pool == {}
    assert not host.guest.ejected_cd


def test_boot_delay() -> None:
    host = new_host("windows", behaviour=GuestBehaviour(boot_delay=120.0))
    outcome = host.run({"guest_host_name": "vm01"})
    assert outcome.result == "applied"
    assert outcome.elapsed == pytest.approx(155.0)


@pytest.mark.parametrize("os_family", ["windows", "linux"])
def test_corrupt_public_key_is_refused_by_the_host(os_family: str) -> None:
    host = new_host(os_family, behaviour=GuestBehaviour(corrupt_public_key=True))  # type: ignore[arg-type]
    assert host.run({"guest_host_name": "vm01"}).result == "key-error"


@pytest.mark.parametrize("os_family", ["windows", "linux"])
def test_stale_guest_pool_is_detected_and_overridable(os_family: str) -> None:
    host = new_host(os_family, behaviour=GuestBehaviour(stale_guest_pool=True))  # type: ignore[arg-type]
    snapshot = host.read_guest()
    assert snapshot[names.GUEST_STATE_KEY] == "provisioningapplied"
    with pytest.raises(GuestAlreadyProvisionedError):
        ensure_fresh_guest_pool(snapshot)
    baseline = read_guest_status(snapshot)
    assert read_guest_status(snapshot, baseline=baseline).stale
    outcome = host.run({"guest_host_name": "vm02"}, baseline=baseline)
    assert outcome.result == "applied"
    assert not outcome.status.stale
    assert host.guest.applied is not None
    assert host.guest.applied.hostname == "vm02"


def test_stale_failed_state_is_not_mistaken_for_this_runs_failure() -> None:
    behaviour = GuestBehaviour(
        stale_guest_pool=True,
        stale_guest_state="provisioningfailed",
        stale_guest_error="error validating:checksum",
    )
    host = new_host("windows", behaviour=behaviour)
    baseline = read_guest_status(host.read_guest())
    assert baseline.error_summary == "error validating:checksum"
    assert host.run({"guest_host_name": "vm01"}, baseline=baseline).result == "applied"


# -- timeouts ------------------------------------------------------------------------------------------------


def test_linux_gives_up_waiting_for_the_host_signal_after_300_seconds() -> None:
    host = new_host("linux")
    host.read_guest()
    host.wait(299.0)
    assert host.guest.phase == "waiting_for_host_signal"
    host.wait(1.0)
    assert host.guest_pool[names.GUEST_STATE_KEY] == "provisioningfailed"
    assert host.guest_pool[names.GUEST_ERROR_KEY] == "error waiting:host_signal"


def test_linux_timeout_is_replayed_when_ticks_are_sparse() -> None:
    host = new_host("linux")
    host.read_guest()
    host.clock.advance(10_000.0)
    assert host.read_guest()[names.GUEST_ERROR_KEY] == "error waiting:host_signal"
    assert ("timed out (error waiting:host_signal)") in [event for _, event in host.guest.events]
    assert [t for t, event in host.guest.events if event.startswith("timed out")] == [1300.0]


def test_linux_gives_up_waiting_for_data_300_seconds_after_publishing_its_key() -> None:
    host = new_host("linux")
    host.read_guest()
    host.signal_ready()
    host.wait(5.0)
    assert host.guest_pool[names.GUEST_STATE_KEY] == "waitingforaeskey"
    published_at = host.clock()  # key published by the poll at this time
    host.wait(295.0)
    assert host.guest.phase == "waiting_for_data"
    host.wait(5.0)
    assert host.guest_pool[names.GUEST_ERROR_KEY] == "error waiting:provisioning_data"
    assert host.clock() - published_at == 300.0


def test_windows_waits_forever() -> None:
    host = new_host("windows")
    host.read_guest()
    host.wait(100_000.0)
    assert host.guest.phase == "waiting_for_host_signal"
    host.signal_ready()
    host.wait(100_000.0)
    assert host.guest.phase == "waiting_for_data"
    assert host.guest_pool[names.GUEST_STATE_KEY] == "waitingforaeskey"
