"""The real Linux agent's sandbox on its own: stub commands and their records, pool files, reading back files."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from functions.guest.pool_file import RECORD_BYTES, decode_pool
from tools.hvsim.guest import LinuxSandbox, StaticIPv4
from tools.hvsim.guest.readback import parse_netplan, parse_nm_keyfile

# What agents/linux/aetherv-guest-agent writes (apply_netplan / apply_networkmanager), for one address.
NETPLAN = """# Static IPv4 written by aetherv-guest-agent
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
KEYFILE = """# Static IPv4 written by aetherv-guest-agent
[connection]
id=aetherv-eth0
uuid=0f5e3c1a-1111-4222-a333-444455556666
type=ethernet
interface-name=eth0
autoconnect=true
autoconnect-priority=100

[ethernet]

[ipv4]
method=manual
address1=10.0.0.5/24,10.0.0.1
dns=10.0.0.2;10.0.0.3;
ignore-auto-dns=true
dns-search=corp.example;
may-fail=false

[ipv6]
method=auto
"""
EXPECTED = StaticIPv4("eth0", "10.0.0.5", "24", "10.0.0.1", ("10.0.0.2", "10.0.0.3"), "corp.example")


def test_the_netplan_and_keyfile_readers_understand_the_agents_files() -> None:
    assert parse_netplan(NETPLAN) == EXPECTED
    assert parse_nm_keyfile(KEYFILE) == EXPECTED
    dhcp = "network:\n  version: 2\n  ethernets:\n    eth0:\n      dhcp4: true\n"
    assert parse_netplan(dhcp) is None
    assert parse_netplan("network: [unbalanced\n  - x") is None
    assert parse_nm_keyfile("[ipv4]\nmethod=auto\n") is None


def run(sandbox: LinuxSandbox, *argv: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    env = {
        "PATH": f"{sandbox.bin}:/usr/bin:/bin",
        "AETHERV_GUEST_ROOT": str(sandbox.root),
        "HVSIM_STUB_DIR": str(sandbox.stub_dir),
    }
    return subprocess.run(list(argv), input=stdin, env=env, capture_output=True, check=False, timeout=10)


def test_stubs_record_every_call_and_keep_the_users_and_groups(tmp_path: Path) -> None:
    sandbox = LinuxSandbox(tmp_path / "guest", iso_version="2.5.0")
    assert run(sandbox, "id", "-u", "ops").returncode == 1
    assert run(sandbox, "useradd", "-m", "-s", "/bin/bash", "ops").returncode == 0
    assert run(sandbox, "id", "-u", "ops").stdout.strip().isdigit()
    assert (sandbox.root / "home/ops").is_dir()
    assert run(sandbox, "usermod", "-aG", "sudo", "ops").returncode == 0
    assert run(sandbox, "getent", "group", "sudo").stdout == b"sudo:x:27:ops\n"
    assert run(sandbox, "getent", "passwd", "nobody").returncode == 2
    assert run(sandbox, "chpasswd", stdin=b'ops:it\'s a "pass"  \n').returncode == 0
    assert run(sandbox, "systemctl", "is-active", "--quiet", "hv-kvp-daemon.service").returncode == 0
    sandbox.set_kvp_daemon(running=False)
    assert run(sandbox, "systemctl", "is-active", "--quiet", "hv-kvp-daemon.service").returncode == 3
    sandbox.fail_command("netplan", 78)
    assert run(sandbox, "netplan", "apply").returncode == 78
    calls = sandbox.calls()
    assert [call.command for call in calls] == [
        "id",
        "useradd",
        "id",
        "usermod",
        "getent",
        "getent",
        "chpasswd",
        "systemctl",
        "systemctl",
        "netplan",
    ]
    assert calls[1].argv == ("-m", "-s", "/bin/bash", "ops")
    assert calls[6].stdin == b'ops:it\'s a "pass"  \n'
    assert sandbox.call_count("systemctl") == 2
    with pytest.raises(ValueError, match="no stub"):
        sandbox.fail_command("rm")


def test_pool_files_use_the_daemon_record_format(tmp_path: Path) -> None:
    sandbox = LinuxSandbox(tmp_path / "guest", iso_version="2.5.0", network="networkmanager")
    sandbox.write_pool(sandbox.host_pool_file, {"hlvmm.meta.version": "2.5.0", "k": "v" * 3000, "ümlaut": "ä"})
    data = sandbox.host_pool_file.read_bytes()
    assert len(data) == 2 * RECORD_BYTES  # the value that does not fit a record is left out
    assert decode_pool(data) == {"hlvmm.meta.version": "2.5.0", "ümlaut": "ä"}
    assert sandbox.read_pool(sandbox.guest_pool_file) == {}
    assert (sandbox.root / "etc/NetworkManager/system-connections").is_dir()
    assert not (sandbox.root / "etc/netplan").exists()
    assert sandbox.read_text("/var/lib/aetherv/version") == "2.5.0\n"
    assert "/etc/hostname" in sandbox.files()
    sandbox.remove()
    assert not (tmp_path / "guest").exists()
