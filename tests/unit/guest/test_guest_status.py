"""Chunk-aware reads, host-pool clean-up, guest status interpretation and guest compatibility rules."""

from __future__ import annotations

import pytest

from functions.guest import names
from functions.guest.errors import GuestAlreadyProvisionedError
from functions.guest.kvp import (
    chunk_values,
    guest_compatibility_problems,
    host_prefix_items_to_remove,
    reassemble,
)
from functions.guest.names import GuestState, chunk_key_name
from functions.guest.status import GuestStatus, ensure_fresh_guest_pool, read_guest_status

KEY = names.GUEST_PUBLIC_KEY_KEY


def test_wire_names() -> None:
    assert names.HOST_STATE_KEY == "hlvmm.meta.host_provisioning_system_state"
    assert names.GUEST_STATE_KEY == "hlvmm.meta.guest_provisioning_system_state"
    assert names.GUEST_ERROR_KEY == "hlvmm.meta.guest_provisioning_error"
    assert names.GUEST_PUBLIC_KEY_KEY == "hlvmm.meta.guest_provisioning_public_key"
    assert names.SHARED_AES_KEY_KEY == "hlvmm.meta.shared_aes_key"
    assert names.CHECKSUM_KEY == "hlvmm.meta.provisioning_system_checksum"
    assert names.VERSION_KEY == "hlvmm.meta.version"
    assert [s.value for s in names.HostState] == ["waitingforpublickey", "provisioningdatapublished"]
    assert [s.value for s in GuestState] == [
        "waitingforaeskey",
        "applying",
        "provisioningapplied",
        "provisioningfailed",
    ]
    assert names.DataKey.GUEST_LA_PW.full_name == "hlvmm.data.guest_la_pw"
    assert names.data_key_name("guest_la_pw") == "hlvmm.data.guest_la_pw"
    assert names.module_error_summary("mod_net") == "error applying:mod_net"
    assert len(names.DATA_KEYS) == 15
    assert len(names.ErrorSummary) == 15


def test_chunk_key_name_bounds() -> None:
    assert chunk_key_name("hlvmm.data.ansible_ssh_key", 3) == "hlvmm.data.ansible_ssh_key._3"
    assert chunk_key_name("k", 29) == "k._29"
    with pytest.raises(ValueError, match=r"0\.\.29"):
        chunk_key_name("k", 30)


def test_reassemble_bare_key_wins() -> None:
    items = {KEY: "bare", f"{KEY}._0": "chunk0"}
    assert reassemble(items, KEY) == "bare"


def test_reassemble_chunks_until_first_gap() -> None:
    items = {f"{KEY}._0": "a", f"{KEY}._1": "b", f"{KEY}._3": "d"}
    assert reassemble(items, KEY) == "ab"
    assert chunk_values(items, KEY) == ["a", "b"]


def test_reassemble_stops_at_30_chunks() -> None:
    items = {f"{KEY}._{i}": str(i % 10) for i in range(31)}
    assert reassemble(items, KEY) == "0123456789" * 3


def test_reassemble_missing_and_empty() -> None:
    assert reassemble({}, KEY) is None
    assert reassemble({f"{KEY}._1": "x"}, KEY) is None
    assert reassemble({KEY: "", f"{KEY}._0": "c"}, KEY) == "c"  # empty counts as missing, as on the guests


def test_host_prefix_items_to_remove_takes_every_hlvmm_item() -> None:
    existing = [
        "hlvmm.meta.version",
        "hlvmm.meta.host_provisioning_system_state",
        "hlvmm.data.guest_la_pw",
        "hlvmm.data.ansible_ssh_key._0",
        "hlvmm.data.ansible_ssh_key._17",
        "hlvmm.data.retired_key",
        "HLVMM.Data.Odd_Case",
        "other.tool.key",
        "hlvmmx.data",
        "hlvmm.data.guest_la_pw",
    ]
    assert host_prefix_items_to_remove(existing) == [
        "hlvmm.meta.version",
        "hlvmm.meta.host_provisioning_system_state",
        "hlvmm.data.guest_la_pw",
        "hlvmm.data.ansible_ssh_key._0",
        "hlvmm.data.ansible_ssh_key._17",
        "hlvmm.data.retired_key",
        "HLVMM.Data.Odd_Case",
    ]


def test_status_of_empty_pool() -> None:
    status = read_guest_status({})
    assert status == GuestStatus(state=None, error_summary=None, public_key_fingerprint=None)
    assert status.guest_state is None
    assert not status.public_key_present
    assert not status.finished
    assert not status.previous_run_detected


def test_status_waiting_for_aes_key() -> None:
    status = read_guest_status(
        {names.GUEST_STATE_KEY: "waitingforaeskey", KEY: "AAAA", names.GUEST_ERROR_KEY: ""}
    )
    assert status.guest_state is GuestState.WAITING_FOR_AES_KEY
    assert status.waiting_for_aes_key
    assert status.error_summary is None
    assert status.public_key_present


def test_status_waiting_without_key_is_not_ready() -> None:
    assert not read_guest_status({names.GUEST_STATE_KEY: "waitingforaeskey"}).waiting_for_aes_key


def test_status_failed_and_applied() -> None:
    failed = read_guest_status(
        {names.GUEST_STATE_KEY: "provisioningfailed", names.GUEST_ERROR_KEY: "error validating:checksum"}
    )
    assert failed.failed
    assert failed.finished
    assert failed.error_summary == "error validating:checksum"
    applied = read_guest_status({names.GUEST_STATE_KEY: "provisioningapplied", names.GUEST_ERROR_KEY: ""})
    assert applied.applied
    assert applied.finished


def test_status_unknown_state_is_kept_raw() -> None:
    status = read_guest_status({names.GUEST_STATE_KEY: "Provisioningapplied"})
    assert status.state == "Provisioningapplied"
    assert status.guest_state is None
    assert not status.applied


def test_status_error_is_capped() -> None:
    status = read_guest_status({names.GUEST_ERROR_KEY: "x" * 500})
    assert status.error_summary == "x" * 200


def test_status_reads_chunked_public_key() -> None:
    assert read_guest_status({f"{KEY}._0": "AAAA", f"{KEY}._1": "BBBB"}).public_key_present


def test_ensure_fresh_guest_pool_refuses_previous_run() -> None:
    assert ensure_fresh_guest_pool({}).state is None
    with pytest.raises(GuestAlreadyProvisionedError, match="'provisioningapplied'") as caught:
        ensure_fresh_guest_pool({names.GUEST_STATE_KEY: "provisioningapplied", KEY: "AAAA"})
    assert caught.value.state == "provisioningapplied"


def test_stale_state_is_recognised_against_the_baseline() -> None:
    old = {names.GUEST_STATE_KEY: "provisioningapplied", KEY: "OLDKEY", names.GUEST_ERROR_KEY: ""}
    baseline = read_guest_status(old)
    assert baseline.previous_run_detected
    stale = read_guest_status(old, baseline=baseline)
    assert stale.stale
    assert stale.guest_state is None
    assert not stale.applied
    # the new agent published a key but has not changed the state yet: still stale
    assert read_guest_status({**old, KEY: "NEWKEY"}, baseline=baseline).stale
    # the new agent waits for the AES key
    fresh = read_guest_status(
        {**old, KEY: "NEWKEY", names.GUEST_STATE_KEY: "waitingforaeskey"}, baseline=baseline
    )
    assert not fresh.stale
    assert fresh.waiting_for_aes_key


def test_stale_waiting_with_the_old_key_is_not_trusted() -> None:
    old = {names.GUEST_STATE_KEY: "waitingforaeskey", KEY: "OLDKEY"}
    baseline = read_guest_status(old)
    assert not read_guest_status(old, baseline=baseline).waiting_for_aes_key
    assert read_guest_status({**old, KEY: "NEWKEY"}, baseline=baseline).waiting_for_aes_key


def test_stale_failure_then_new_failure_with_other_summary() -> None:
    old = {names.GUEST_STATE_KEY: "provisioningfailed", names.GUEST_ERROR_KEY: "error validating:manifest"}
    baseline = read_guest_status(old)
    assert read_guest_status(old, baseline=baseline).stale
    new = {**old, names.GUEST_ERROR_KEY: "error validating:checksum"}
    assert read_guest_status(new, baseline=baseline).failed


def test_status_json_round_trip() -> None:
    status = read_guest_status({names.GUEST_STATE_KEY: "applying", KEY: "AAAA"})
    assert GuestStatus.from_json(status.to_json()) == status


def test_windows_compatibility_rules() -> None:
    values = {
        "guest_la_pw": "p" * 101,
        "guest_host_name": "vm01",
        "ansible_ssh_user": "ansible",
        "ansible_ssh_key": "ssh-ed25519 AAAA",
        "guest_domain_join_target": "corp.example",
        "guest_domain_join_uid": "joiner",
        "guest_domain_join_pw": "pw",
        "guest_v4_dns2": "  ",
    }
    problems = guest_compatibility_problems(values, "windows")
    assert sorted(problems) == ["ansible_ssh_key", "ansible_ssh_user", "guest_domain_join_ou", "guest_la_pw"]
    assert "chunked" in problems["guest_la_pw"]
    assert "p" * 20 not in repr(problems)
    assert guest_compatibility_problems({"guest_la_pw": "p" * 100 + "\r\n"}, "windows") == {}


def test_linux_compatibility_rules() -> None:
    assert guest_compatibility_problems({"guest_la_pw": "p" * 3000, "ansible_ssh_user": "a"}, "linux") == {}
    problems = guest_compatibility_problems({"guest_la_pw": "-n", "guest_la_uid": "-neE\n"}, "linux")
    assert sorted(problems) == ["guest_la_pw", "guest_la_uid"]
    assert "echo" in problems["guest_la_pw"]
    assert "-n" not in problems["guest_la_pw"]


def test_completion_wait_uses_the_confirmed_snapshot_as_baseline() -> None:
    old = {names.GUEST_STATE_KEY: "provisioningapplied", KEY: "OLDKEY", names.GUEST_ERROR_KEY: ""}
    start = read_guest_status(old)
    waiting = read_guest_status(
        {**old, KEY: "NEWKEY", names.GUEST_STATE_KEY: "waitingforaeskey"}, baseline=start
    )
    assert waiting.waiting_for_aes_key
    final = {**old, KEY: "NEWKEY"}
    # against the pre-run baseline the final state looks like the old one; against the confirmed one it is new
    assert read_guest_status(final, baseline=start).stale
    assert read_guest_status(final, baseline=waiting).applied
