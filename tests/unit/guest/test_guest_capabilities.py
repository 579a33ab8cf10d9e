"""Capability mark, nonce echo, upstream-agent mangling rules and HLVMM-era detection."""

from __future__ import annotations

import subprocess

import pytest

from functions.guest import names
from functions.guest.capabilities import (
    APPLYING_GRACE_SECONDS,
    AgentGeneration,
    Capability,
    KeyFreshness,
    agent_problems,
    assess_guest_agent,
    completion_overdue,
    format_agent_mark,
    fresh_agent_mark,
    intrinsic_evidence,
    is_hlvmm_era_version,
    key_freshness,
    new_host_nonce,
    parse_agent_mark,
    public_key_fingerprint,
)
from functions.guest.upstream import API_FIELDS, upstream_agent_problems, upstream_linux_reading

from ._support import CountingRandom, fixed_private_key, linux_key_b64

KEY_B64 = linux_key_b64(fixed_private_key().public_key())
NONCE = "n0nce-for-this-run_0123456789abcdef"
LINUX_CAPS = ("exact-values", "chunks", "hostname", "admin", "ipv4", "dns-suffix", "ansible", "nonce")
WINDOWS_CAPS = ("exact-values", "chunks", "hostname", "admin", "ipv4", "dns-suffix", "domain-join", "join-outcome")


def _mark(nonce: str | None = NONCE, key: str = KEY_B64, caps: tuple[str, ...] = LINUX_CAPS, **kw: str) -> str:
    return format_agent_mark("aetherv-linux", "1.0.0", caps, nonce=nonce, key_sha256=public_key_fingerprint(key), **kw)


def _pool(mark: str | None = None, key: str | None = KEY_B64, **extra: str) -> dict[str, str]:
    items = dict(extra)
    if key is not None:
        items[names.GUEST_PUBLIC_KEY_KEY] = key
    if mark is not None:
        items[names.GUEST_AGENT_KEY] = mark
    return items


# -- names -----------------------------------------------------------------------------------------------------


def test_new_keys_are_meta_keys_that_older_agents_do_not_use() -> None:
    assert names.GUEST_AGENT_KEY == "hlvmm.meta.guest_agent"
    assert names.HOST_NONCE_KEY == "hlvmm.meta.host_provisioning_nonce"
    existing = {
        names.VERSION_KEY,
        names.HOST_STATE_KEY,
        names.GUEST_PUBLIC_KEY_KEY,
        names.GUEST_STATE_KEY,
        names.GUEST_ERROR_KEY,
        names.SHARED_AES_KEY_KEY,
        names.CHECKSUM_KEY,
    }
    assert names.GUEST_AGENT_KEY not in existing
    assert names.HOST_NONCE_KEY not in existing
    assert not names.CHUNK_SUFFIX.search(names.GUEST_AGENT_KEY)


# -- mark ------------------------------------------------------------------------------------------------------


def test_mark_round_trip() -> None:
    text = _mark(network="netplan")
    mark = parse_agent_mark(text)
    assert mark is not None
    assert (mark.agent, mark.version, mark.os_family) == ("aetherv-linux", "1.0.0", "linux")
    assert mark.capabilities == frozenset(LINUX_CAPS)
    assert mark.network == "netplan"
    assert mark.nonce == NONCE
    assert mark.key_sha256 == public_key_fingerprint(KEY_B64)
    assert mark.has(Capability.ANSIBLE)
    assert not mark.has(Capability.DOMAIN_JOIN)


def test_mark_keeps_unknown_fields_and_tolerates_order() -> None:
    mark = parse_agent_mark("aetherv-windows/2.0.1;future=yes;caps=hostname,admin")
    assert mark is not None
    assert mark.os_family == "windows"
    assert mark.extra == {"future": "yes"}
    assert mark.capabilities == {"hostname", "admin"}
    assert mark.nonce is None


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "aetherv-linux",
        "Aetherv/1.0",
        "aetherv-linux/1.0.0;caps",
        "aetherv-linux/1.0.0;caps=a b",
        "aetherv-linux/1.0.0;nonce=short",
        "aetherv-linux/1.0.0;key=abc",
        "aetherv-linux/1.0.0;caps=a;caps=b",
        "aetherv-linux/1.0.0;" + "x=" + "y" * 2000,
    ],
)
def test_malformed_marks_are_ignored(text: str | None) -> None:
    assert parse_agent_mark(text) is None


def test_nonce_is_random_and_well_formed() -> None:
    first, second = new_host_nonce(), new_host_nonce()
    assert first != second
    assert names.NONCE_PATTERN.fullmatch(first)
    assert len(first) == 32
    assert new_host_nonce(CountingRandom()) == new_host_nonce(CountingRandom())


def test_fingerprint_matches_the_status_module() -> None:
    from functions.guest.status import read_guest_status

    status = read_guest_status({names.GUEST_PUBLIC_KEY_KEY: KEY_B64[:100] + "\n" + KEY_B64[100:]})
    assert status.public_key_fingerprint == public_key_fingerprint(KEY_B64)


def test_fresh_mark_needs_this_nonce_and_this_key() -> None:
    assert fresh_agent_mark(_pool(_mark()), NONCE) is not None
    assert fresh_agent_mark(_pool(_mark(nonce="another-nonce-0123456789")), NONCE) is None
    assert fresh_agent_mark(_pool(_mark(nonce=None)), NONCE) is None
    other_key = KEY_B64[:-8] + "AAAAAAA="
    assert fresh_agent_mark(_pool(_mark(), key=other_key), NONCE) is None
    assert fresh_agent_mark(_pool(_mark(), key=None), NONCE) is None
    assert fresh_agent_mark(_pool(None), NONCE) is None


def test_fresh_mark_reads_a_chunked_public_key() -> None:
    items = {
        names.GUEST_AGENT_KEY: _mark(),
        names.GUEST_PUBLIC_KEY_KEY + "._0": KEY_B64[:100],
        names.GUEST_PUBLIC_KEY_KEY + "._1": KEY_B64[100:],
    }
    assert fresh_agent_mark(items, NONCE) is not None


def test_key_freshness() -> None:
    stale_fp = public_key_fingerprint(KEY_B64)
    assert key_freshness({}, nonce=NONCE) is KeyFreshness.ABSENT
    assert key_freshness(_pool(_mark()), nonce=NONCE, pre_start_fingerprint=stale_fp) is KeyFreshness.ECHOED
    # An upstream agent's key that was there before the start is stale; a different one is new.
    assert key_freshness(_pool(), nonce=NONCE, pre_start_fingerprint=stale_fp) is KeyFreshness.STALE
    assert key_freshness(_pool(), nonce=NONCE, pre_start_fingerprint="0" * 64) is KeyFreshness.NEW
    assert key_freshness(_pool(), nonce=NONCE) is KeyFreshness.NEW
    # A current agent's key from an earlier run (golden image): its echo names another nonce.
    old = _pool(_mark(nonce="an-earlier-run-nonce-000000"))
    assert key_freshness(old, nonce=NONCE) is KeyFreshness.STALE


# -- upstream Linux rules ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cause"),
    [
        ("Pa'ssword1", "containing '"),
        ('Pa"ssword1', 'containing "'),
        ("Pa\\ssword1", "containing \\"),
        (" Password1", "starting with a space"),
        ("Password1 ", "ending with a space"),
        ("Pass  word1", "two spaces in a row"),
        ("-e Password1", "echo option"),
        ("-n", "echo option"),
        ("-neE secret", "echo option"),
        ("--version", "--help or --version"),
    ],
)
def test_upstream_linux_password_rules(value: str, cause: str) -> None:
    problems = upstream_agent_problems({"guest_la_pw": value, "guest_la_uid": "admin"}, "linux")
    assert set(problems) == {"guest_la_pw"}
    message = problems["guest_la_pw"]
    assert cause in message
    assert "rebuild its provisioning ISO with the current agent or choose another password" in message
    # the secret itself is never quoted (short option words are the rule's own text)
    if len(value) >= 8 and not value.startswith("--"):
        assert value.strip() not in message


@pytest.mark.parametrize(
    "value",
    ["Password1", "Pa$$w0rd`id`", "Pässwört-ß-中文", "a b c", "x-e", "-", "--", "p@ss -e"],
)
def test_upstream_linux_accepts_what_it_applies(value: str) -> None:
    assert upstream_agent_problems({"guest_la_pw": value}, "linux") == {}
    assert upstream_linux_reading(value) == value


def test_upstream_linux_ssh_key_comment_with_quotes() -> None:
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0ZXN0a2V5 bob's laptop"
    problems = upstream_agent_problems({"ansible_ssh_user": "ansible", "ansible_ssh_key": key}, "linux")
    assert set(problems) == {"ansible_ssh_key"}
    assert "SSH public key" in problems["ansible_ssh_key"]
    assert "laptop" not in problems["ansible_ssh_key"]


def test_upstream_linux_ignores_domain_join() -> None:
    problems = upstream_agent_problems({"guest_domain_join_target": "corp.example"}, "linux")
    assert "does not join domains" in problems["guest_domain_join_target"]


def test_blank_values_are_not_published_so_not_problems() -> None:
    assert upstream_agent_problems({"guest_la_pw": "   ", "guest_v4_dns2": None}, "linux") == {}
    assert upstream_agent_problems({"guest_la_pw": "  "}, "windows") == {}


@pytest.mark.parametrize(
    "value",
    ["plain", " lead", "trail ", "dou  ble", 'say "hi"', "a'b c'd", "back\\slash", "-e foo", "-n", "x --help", "é ß"],
)
def test_linux_model_matches_real_xargs(value: str) -> None:
    """The model of the upstream reader agrees with GNU xargs and echo on this machine."""
    script = 'd=$(mktemp -d); echo "$1" > "$d/f"; out=$(cat "$d/f" | tr -d "\\0\\r\\n" | xargs); printf "%s" "$out"'
    script += '; rm -rf "$d"'
    real = subprocess.run(["bash", "-c", script, "_", value], capture_output=True, check=False).stdout.decode()
    assert upstream_linux_reading(value) == real


def test_unmatched_quote_loses_the_value() -> None:
    assert upstream_linux_reading("it's") is None


# -- upstream Windows rules -------------------------------------------------------------------------------------


def test_upstream_windows_rules() -> None:
    values = {
        "guest_host_name": "web01",
        "guest_la_uid": "admin",
        "guest_la_pw": "Pässwört1!",
        "guest_net_dns_suffix": "corp.example",
        "guest_domain_join_target": "corp.example",
        "guest_domain_join_uid": "joiner ",
        "guest_domain_join_pw": " J0in!pw",
        "guest_domain_join_ou": "OU=Servers,DC=corp,DC=example",
    }
    problems = upstream_agent_problems(values, "windows")
    assert set(problems) == {"guest_la_pw", "guest_net_dns_suffix", "guest_domain_join_uid", "guest_domain_join_pw"}
    assert "non-ASCII" in problems["guest_la_pw"]
    assert "does not apply a DNS suffix" in problems["guest_net_dns_suffix"]
    assert "trims" in problems["guest_domain_join_pw"]
    assert "Pässwört" not in " ".join(problems.values())


def test_upstream_windows_accepts_quotes_and_inner_spaces() -> None:
    values = {"guest_la_pw": "P'a\"s s\\w0rd!", "guest_domain_join_pw": "J0 in!'\"", "guest_domain_join_target": "c.ex"}
    values |= {"guest_domain_join_uid": "joiner", "guest_domain_join_ou": "OU=S,DC=c,DC=ex"}
    assert upstream_agent_problems(values, "windows") == {}


def test_upstream_windows_chunking_ansible_and_missing_ou() -> None:
    values = {
        "guest_la_pw": "x" * 101,
        "ansible_ssh_user": "ansible",
        "guest_domain_join_target": "corp.example",
        "guest_domain_join_uid": "joiner",
        "guest_domain_join_pw": "pw",
    }
    problems = upstream_agent_problems(values, "windows")
    assert "chunked" in problems["guest_la_pw"]
    assert "Ansible" in problems["ansible_ssh_user"]
    assert "silently skips" in problems["guest_domain_join_ou"]


def test_every_data_key_has_an_api_field() -> None:
    assert set(API_FIELDS) == set(names.DATA_KEYS)


# -- current agents ---------------------------------------------------------------------------------------------


def test_current_agent_gets_no_mangling_rules() -> None:
    mark = parse_agent_mark(_mark())
    values = {"guest_la_pw": " Pa'ss\"\\ -e  ", "ansible_ssh_key": "ssh-ed25519 AAAA bob's key", "guest_la_uid": "a"}
    assert agent_problems(values, "linux", mark) == {}


def test_current_agent_needs_the_capability() -> None:
    mark = parse_agent_mark(
        format_agent_mark("aetherv-linux", "1.0.0", ["exact-values", "hostname", "admin"], network="none")
    )
    values = {"guest_la_pw": "x" * 150, "guest_v4_ip_addr": "10.0.0.5", "guest_domain_join_target": "corp.example"}
    problems = agent_problems(values, "linux", mark)
    assert set(problems) == set(values)
    assert "neither netplan nor NetworkManager" in problems["guest_v4_ip_addr"]
    assert "guest.domain_join.domain" in problems["guest_domain_join_target"]
    assert "longer than 100" in problems["guest_la_pw"]


def test_unmarked_or_inexact_agents_get_upstream_rules() -> None:
    values = {"guest_la_pw": "Pa'ss"}
    assert set(agent_problems(values, "linux", None)) == {"guest_la_pw"}
    inexact = parse_agent_mark("aetherv-linux/0.9;caps=hostname,admin")
    assert set(agent_problems(values, "linux", inexact)) == {"guest_la_pw"}


# -- generations -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "hlvmm"),
    [
        ("1.5.400", True),
        ("1.1.019", True),
        ("1.5.401\n", True),
        ("v1.2.3", True),
        ("2.4.000", False),
        ("2.5.0", False),
        ("10.0", False),
        ("", False),
        (None, False),
        ("unknown", False),
    ],
)
def test_hlvmm_era_version(version: str | None, hlvmm: bool) -> None:
    assert is_hlvmm_era_version(version) is hlvmm


def test_assess_current_agent() -> None:
    items = _pool(_mark(), **{names.GUEST_STATE_KEY: "waitingforaeskey", names.GUEST_ERROR_KEY: ""})
    result = assess_guest_agent(items, os_family="linux", host_version="2.5.0", nonce=NONCE)
    assert result.generation is AgentGeneration.CURRENT
    assert result.reports_completion
    assert result.mark is not None


def test_assess_hlvmm_by_version_even_with_a_mark_of_another_run() -> None:
    items = _pool(_mark(nonce="old-run-nonce-00000000000"), **{names.GUEST_STATE_KEY: "waitingforaeskey"})
    result = assess_guest_agent(items, os_family="windows", host_version="1.5.400", nonce=NONCE)
    assert result.generation is AgentGeneration.HLVMM
    assert not result.reports_completion
    assert "never wait 30 minutes" in result.host_action


def test_assess_hlvmm_linux_by_missing_error_item_on_two_polls() -> None:
    items = _pool(None, **{names.GUEST_STATE_KEY: "waitingforaeskey"})
    first = assess_guest_agent(items, os_family="linux", host_version="2.4.000", nonce=NONCE)
    assert first.generation is AgentGeneration.UNKNOWN
    second = assess_guest_agent(items, os_family="linux", host_version="2.4.000", nonce=NONCE, state_seen_before=True)
    assert second.generation is AgentGeneration.HLVMM
    with_error = items | {names.GUEST_ERROR_KEY: ""}
    upstream = assess_guest_agent(with_error, os_family="linux", host_version="2.4.000", nonce=NONCE)
    assert upstream.generation is AgentGeneration.UPSTREAM


def test_assess_windows_upstream() -> None:
    items = _pool(None, **{names.GUEST_STATE_KEY: "waitingforaeskey"})
    result = assess_guest_agent(items, os_family="windows", host_version="2.4.000", nonce=None)
    assert result.generation is AgentGeneration.UPSTREAM
    assert "upstream_agent_problems" in result.host_action


def test_completion_overdue() -> None:
    assert not completion_overdue("waitingforaeskey", APPLYING_GRACE_SECONDS - 1)
    assert completion_overdue("waitingforaeskey", APPLYING_GRACE_SECONDS)
    assert not completion_overdue("applying", APPLYING_GRACE_SECONDS * 10)
    assert not completion_overdue(None, APPLYING_GRACE_SECONDS * 10)


def test_intrinsic_evidence() -> None:
    items = {"FullyQualifiedDomainName": "WEB01.corp.example", "NetworkAddressIPv4": "10.0.0.5;169.254.1.2"}
    assert intrinsic_evidence(items, hostname="web01", domain="corp.example", ipv4="10.0.0.5") == {
        "hostname": True,
        "domain": True,
        "ipv4": True,
    }
    assert intrinsic_evidence({"FullyQualifiedDomainName": "WIN-TEMPLATE"}, hostname="web01", domain="c.ex") == {
        "hostname": False,
        "domain": False,
    }
    assert intrinsic_evidence(items) == {}
