"""The host's judgement of a guest before publishing: nonce, stale keys, agents, refusals, intrinsic confirmation."""

from __future__ import annotations

from typing import Any

import pytest

from functions.errors import StepError
from functions.guest import names
from functions.guest.capabilities import format_agent_mark, public_key_fingerprint
from functions.guest.names import DataKey
from functions.provisioning.guest_checks import host_nonce, judge_guest, refuse_before_publishing
from functions.provisioning.guest_payloads import GuestCheck

from ._support import fixed_private_key, linux_key_b64

KEY = linux_key_b64(fixed_private_key().public_key())
SEAL = b"k" * 32
NONCE = host_nonce(SEAL, "job-1", "11111111-2222-3333-4444-555555555555")
CAPS = ("exact-values", "chunks", "hostname", "admin", "ipv4", "dns-suffix", "ansible", "nonce")


def check(**extra: Any) -> GuestCheck:
    base: dict[str, Any] = {"job_id": "job-1", "host": "hv01", "vm_id": "11111111-2222-3333-4444-555555555555"}
    return GuestCheck(**base, **({"version": "2.5.0"} | extra))


def pool(*, mark: bool = True, nonce: str = NONCE, state: str = "waitingforaeskey", **extra: str) -> dict[str, str]:
    items = {names.GUEST_PUBLIC_KEY_KEY: KEY, names.GUEST_STATE_KEY: state, names.GUEST_ERROR_KEY: "", **extra}
    if mark:
        fingerprint = public_key_fingerprint(KEY)
        items[names.GUEST_AGENT_KEY] = format_agent_mark(
            "aetherv-linux", "2.5.0", CAPS, nonce=nonce, key_sha256=fingerprint
        )
    return items


def test_the_nonce_is_stable_for_a_run_and_differs_between_runs() -> None:
    vm = "11111111-2222-3333-4444-555555555555"
    assert host_nonce(SEAL, "job-1", vm) == host_nonce(SEAL, "job-1", vm.upper())  # an activity that runs twice
    assert host_nonce(SEAL, "job-2", vm) != host_nonce(SEAL, "job-1", vm)
    assert host_nonce(b"x" * 32, "job-1", vm) != host_nonce(SEAL, "job-1", vm)
    assert names.NONCE_PATTERN.fullmatch(NONCE)


def test_a_current_agent_that_echoes_this_run_is_ready() -> None:
    result = judge_guest(pool(), {}, check(), NONCE)
    assert (result.state, result.key, result.agent, result.agent_name) == (
        "waitingforaeskey",
        "echoed",
        "current",
        "aetherv-linux/2.5.0",
    )
    assert result.key_usable


def test_a_key_that_was_there_before_the_start_is_never_this_runs() -> None:
    result = judge_guest(pool(mark=False), {}, check(pre_start_key=public_key_fingerprint(KEY)), NONCE)
    assert result.key == "stale" and not result.key_usable
    assert result.agent is None  # not judged on a stale key


def test_a_mark_from_another_run_is_stale() -> None:
    result = judge_guest(pool(nonce="another-run-nonce-0123456789abcdef"), {}, check(), NONCE)
    assert result.key == "stale"


def test_an_upstream_linux_agent_needs_a_second_look_without_its_error_item() -> None:
    items = pool(mark=False)
    del items[names.GUEST_ERROR_KEY]
    assert judge_guest(items, {}, check(), NONCE).agent == "unknown"
    assert judge_guest(items, {}, check(state_seen_before=True), NONCE).agent == "hlvmm"
    assert judge_guest(pool(mark=False), {}, check(), NONCE).agent == "upstream"


def test_intrinsic_items_confirm_the_host_name_and_address() -> None:
    intrinsic = {"FullyQualifiedDomainName": "web01.lab.example", "NetworkAddressIPv4": "10.0.0.5;169.254.1.1"}
    assert judge_guest(pool(), intrinsic, check(hostname="web01", ipv4="10.0.0.5"), NONCE).confirmed is True
    assert judge_guest(pool(), intrinsic, check(hostname="web02"), NONCE).confirmed is False
    assert judge_guest(pool(), {}, check(), NONCE).confirmed is None


def test_an_upstream_agent_is_refused_every_value_it_would_mangle_before_publishing() -> None:
    values = {
        DataKey.GUEST_HOST_NAME: "web01",
        DataKey.GUEST_LA_UID: "admin",
        DataKey.GUEST_LA_PW: "it's a secret",
        DataKey.ANSIBLE_SSH_KEY: 'ssh-ed25519 AAAA "quoted comment"',
    }
    with pytest.raises(StepError) as caught:
        refuse_before_publishing(pool(mark=False), {str(k): v for k, v in values.items()}, check(), NONCE)
    error = caught.value
    assert error.category == "GuestAgentCannotApply" and not error.transient
    assert "nothing was published" in error.message
    assert "guest.admin_password" in error.message and "'" in error.message
    assert "guest.ansible.ssh_public_key" in error.message
    assert "it's a secret" not in error.message  # a rule, never the value


def test_a_current_agent_takes_those_values() -> None:
    values = {str(DataKey.GUEST_LA_PW): 'it\'s "a" secret \\ with  spaces ', str(DataKey.GUEST_LA_UID): "admin"}
    agent = refuse_before_publishing(pool(), values, check(), NONCE)
    assert agent.mark is not None and agent.mark.agent == "aetherv-linux"


def test_an_hlvmm_era_agent_is_refused_before_publishing() -> None:
    with pytest.raises(StepError) as caught:
        refuse_before_publishing(pool(mark=False), {}, check(version="1.5.400"), NONCE)
    assert caught.value.category == "GuestAgentUnsupported"
    assert "make isos" in caught.value.message


def test_a_stale_key_is_a_transient_refusal() -> None:
    with pytest.raises(StepError) as caught:
        refuse_before_publishing(pool(mark=False), {}, check(pre_start_key=public_key_fingerprint(KEY)), NONCE)
    assert caught.value.category == "GuestProtocolError" and caught.value.transient
