"""A sandboxed Linux guest for running the real ``agents/linux/aetherv-guest-agent``.

Each :class:`GuestSandbox` is a directory tree used as ``AETHERV_GUEST_ROOT`` plus a ``bin`` directory put first
on ``PATH`` with stubs for the system commands the agent may call. Every stub records its argv and stdin (in
call order) and succeeds, with a little state so the agent sees a consistent system: ``useradd`` adds the user to
the sandbox's ``/etc/passwd`` (and creates the home with ``-m``), ``id -u`` and ``getent passwd|group`` answer
from the sandbox's ``/etc/passwd`` and ``/etc/group``. A command can be made to fail by writing its exit status to
``stub-rc/<command>``.

The host side is the project's real code: the announce items use the names from ``functions.guest.names``, the
published items come from ``functions.guest.kvp.build_host_items``, and the pool files are written in the
``hv_kvp_daemon`` format by ``functions.guest.pool_file``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from functions.guest import names
from functions.guest.kvp import build_host_items
from functions.guest.pool_file import decode_pool, encode_pool

REPO = Path(__file__).resolve().parents[2]
AGENT = REPO / "agents" / "linux" / "aetherv-guest-agent"
PROTOCOL_VERSION = "2.5.0"
NONCE = "test-nonce-0123456789abcdefghij"

STUBBED = (
    "useradd",
    "usermod",
    "chpasswd",
    "hostnamectl",
    "netplan",
    "nmcli",
    "systemctl",
    "reboot",
    "id",
    "getent",
    "chown",
)

_STUB = r"""#!/bin/bash
# Test stub: record argv and stdin, keep a little state under the sandbox root, succeed.
set -u
cmd=${0##*/}
seq_file="$STUB_DIR/seq"
exec 9>>"$seq_file.lock"
flock 9
n=$(( $(cat "$seq_file" 2>/dev/null || echo 0) + 1 ))
printf '%s' "$n" >"$seq_file"
flock -u 9
base=$(printf '%s/calls/%06d-%s' "$STUB_DIR" "$n" "$cmd")
if (($#)); then printf '%s\0' "$@" >"$base.argv"; else : >"$base.argv"; fi
if [[ $cmd == chpasswd || $cmd == nmcli || $cmd == netplan ]]; then
    cat >"$base.stdin"
else
    : >"$base.stdin"
fi
root=${AETHERV_GUEST_ROOT%/}
rc=0
if [[ -f "$STUB_DIR/rc/$cmd" ]]; then
    rc=$(cat "$STUB_DIR/rc/$cmd")
fi
case $cmd in
id)
    name=${!#}
    line=$(grep -m1 "^${name}:" "$root/etc/passwd" 2>/dev/null) || exit 1
    IFS=: read -r _ _ uid _ <<<"$line"
    printf '%s\n' "$uid"
    ;;
getent)
    db=$1 name=$2
    grep -m1 "^${name}:" "$root/etc/$db" 2>/dev/null || exit 2
    ;;
useradd)
    name=${!#}
    printf '%s:x:%s:%s::/home/%s:/bin/bash\n' "$name" "$((1500 + n))" "$((1500 + n))" "$name" >>"$root/etc/passwd"
    for arg in "$@"; do
        if [[ $arg == -m ]]; then mkdir -p "$root/home/$name"; fi
    done
    ;;
esac
exit "$rc"
"""


@dataclass(frozen=True, slots=True)
class Call:
    """One recorded stub call."""

    command: str
    argv: tuple[str, ...]
    stdin: bytes


@dataclass(slots=True)
class AgentRun:
    """What one run of the agent did."""

    returncode: int
    guest: dict[str, str]
    calls: list[Call]
    root: Path
    stderr: str
    host_items: dict[str, str] = field(default_factory=dict)

    def calls_to(self, command: str) -> list[Call]:
        return [call for call in self.calls if call.command == command]

    def file(self, path: str) -> bytes:
        return (self.root / path.lstrip("/")).read_bytes()

    @property
    def state(self) -> str | None:
        return self.guest.get(names.GUEST_STATE_KEY)

    @property
    def error(self) -> str | None:
        return self.guest.get(names.GUEST_ERROR_KEY)


class GuestSandbox:
    """A guest root plus stub commands; ``network`` is ``netplan``, ``networkmanager`` or ``none``."""

    def __init__(self, base: Path, *, network: str = "netplan", groups: tuple[str, ...] = ("sudo",)) -> None:
        self.base = base
        self.root = base / "root"
        self.bin = base / "bin"
        self.stub_dir = base / "stub"
        for path in (
            self.root / "var/lib/hyperv",
            self.root / "var/lib/aetherv",
            self.root / "etc/sudoers.d",
            self.root / "etc/cloud/cloud.cfg.d",
            self.root / "home",
            self.root / "sys/class/net/lo",
            self.root / "sys/class/net/eth0/device",
            self.bin,
            self.stub_dir / "calls",
            self.stub_dir / "rc",
        ):
            path.mkdir(parents=True, exist_ok=True)
        (self.root / "sys/class/net/lo/type").write_text("772\n")
        (self.root / "sys/class/net/eth0/type").write_text("1\n")
        (self.root / "var/lib/aetherv/version").write_text(PROTOCOL_VERSION + "\n")
        (self.root / "etc/hosts").write_text("127.0.0.1\tlocalhost\n127.0.1.1\ttemplate\n::1\tip6-localhost\n")
        (self.root / "etc/hostname").write_text("template\n")
        (self.root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
        (self.root / "etc/group").write_text("".join(f"{group}:x:{27 + i}:\n" for i, group in enumerate(groups)))
        if network == "netplan":
            netplan = self.root / "etc/netplan"
            netplan.mkdir(parents=True)
            (netplan / "50-cloud-init.yaml").write_text(
                "network:\n  version: 2\n  ethernets:\n    eth0:\n      dhcp4: true\n"
            )
        elif network == "networkmanager":
            (self.root / "etc/NetworkManager/system-connections").mkdir(parents=True)
        for command in STUBBED:
            if network != "netplan" and command == "netplan":
                continue
            if network != "networkmanager" and command == "nmcli":
                continue
            stub = self.bin / command
            stub.write_text(_STUB)
            stub.chmod(0o755)

    # -- pools -------------------------------------------------------------------------------------------------

    @property
    def host_pool(self) -> Path:
        return self.root / "var/lib/hyperv/.kvp_pool_0"

    @property
    def guest_pool(self) -> Path:
        return self.root / "var/lib/hyperv/.kvp_pool_1"

    def write_host_pool(self, items: Mapping[str, str]) -> None:
        """Replace the host pool atomically (as the daemon's rewrite appears to a reader that retries)."""
        tmp = self.host_pool.with_suffix(".tmp")
        tmp.write_bytes(encode_pool(items))
        tmp.replace(self.host_pool)

    def guest_items(self) -> dict[str, str]:
        try:
            return decode_pool(self.guest_pool.read_bytes())
        except FileNotFoundError:
            return {}

    def fail_command(self, command: str, status: int = 1) -> None:
        (self.stub_dir / "rc" / command).write_text(str(status))

    def calls(self) -> list[Call]:
        calls: list[Call] = []
        for argv_file in sorted((self.stub_dir / "calls").glob("*.argv")):
            command = argv_file.stem.split("-", 1)[1]
            raw = argv_file.read_bytes()
            argv = tuple(part.decode("utf-8", "surrogateescape") for part in raw.split(b"\0")[:-1])
            stdin = argv_file.with_suffix(".stdin").read_bytes()
            calls.append(Call(command, argv, stdin))
        return calls

    # -- running -----------------------------------------------------------------------------------------------

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "PATH": f"{self.bin}:/usr/bin:/bin",
            "AETHERV_GUEST_ROOT": str(self.root),
            "STUB_DIR": str(self.stub_dir),
            "AETHERV_AGENT_POLL_SECONDS": "0.02",
            "AETHERV_AGENT_WAIT_SECONDS": "30",
            "AETHERV_AGENT_CHECKSUM_RETRY_SECONDS": "0.05",
            "HOME": str(self.base),
        }
        env.update(extra)
        return env

    def start(self, **extra_env: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            ["bash", str(AGENT)],
            env=self.env(**extra_env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, so stop() also ends its children
        )

    def wait_for_guest_state(self, state: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.guest_items().get(names.GUEST_STATE_KEY) == state:
                return
            if process.poll() is not None:
                raise AssertionError(f"agent exited ({process.returncode}) before {state}: {_stderr(process)}")
            time.sleep(0.02)
        stop(process)
        raise AssertionError(f"agent did not reach {state} in {timeout} s")

    def announce(self, *, version: str = PROTOCOL_VERSION, nonce: str | None = NONCE) -> dict[str, str]:
        """The host's announce: version first, then the nonce, then the state (D6)."""
        items = {names.VERSION_KEY: version}
        if nonce is not None:
            items[names.HOST_NONCE_KEY] = nonce
        items[names.HOST_STATE_KEY] = names.HostState.WAITING_FOR_PUBLIC_KEY
        return items

    def provision(
        self,
        values: Mapping[str, str | None],
        *,
        version: str = PROTOCOL_VERSION,
        nonce: str | None = NONCE,
        tamper: Mapping[str, str] | None = None,
        timeout: float = 60.0,
    ) -> AgentRun:
        """Run the agent through the whole protocol with the host's real item builder."""
        announce = self.announce(version=version, nonce=nonce)
        self.write_host_pool(announce)
        process = self.start()
        host_items: dict[str, str] = {}
        try:
            self.wait_for_guest_state(names.GuestState.WAITING_FOR_AES_KEY, process)
            public_key = self.guest_items()[names.GUEST_PUBLIC_KEY_KEY]
            host_items = build_host_items(public_key, values)
            published = dict(announce) | host_items | dict(tamper or {})
            published[names.HOST_STATE_KEY] = names.HostState.DATA_PUBLISHED
            self.write_host_pool(published)
            _, stderr = process.communicate(timeout=timeout)
        finally:
            stop(process)
        return AgentRun(
            returncode=process.returncode,
            guest=self.guest_items(),
            calls=self.calls(),
            root=self.root,
            stderr=stderr.decode("utf-8", "replace"),
            host_items=host_items,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    """End the agent and everything it started (its process group), if it still runs."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()


def _stderr(process: subprocess.Popen[bytes]) -> str:
    if process.poll() is None:
        return "(still running)"
    assert process.stderr is not None
    return process.stderr.read().decode("utf-8", "replace")[-2000:]
