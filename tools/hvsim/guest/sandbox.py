"""A Linux guest's file system for the real agent: its root directory, stub system commands and KVP pool files.

The real ``agents/linux/aetherv-guest-agent`` keeps every file under ``AETHERV_GUEST_ROOT`` and calls system
commands by name through ``PATH`` (its testability contract, ``docs/guest-agents.md``). A :class:`LinuxSandbox` is
one guest's copy of that world, in a directory ``base``:

========  =========================================================================================================
``root``  ``AETHERV_GUEST_ROOT``: ``/etc`` (``hostname``, ``hosts``, ``passwd``, ``group``, ``netplan`` or
          ``NetworkManager``, ``sudoers.d``, ``cloud/cloud.cfg.d``), ``/home``, ``/sys/class/net/{lo,eth0}``,
          ``/var/lib/aetherv/version`` (the ISO's version, as cloud-init writes it) and the KVP pool files
          ``/var/lib/hyperv/.kvp_pool_0`` (host → guest) and ``.kvp_pool_1`` (guest → host)
``bin``   a stub for every command of the contract, first on ``PATH``
``stub``  what the stubs record and obey: ``calls/<seq>-<cmd>.argv`` (NUL-separated) and ``.stdin``,
          ``fail/<cmd>`` (the exit status it must return), ``kvp-daemon`` (present while the KVP daemon runs)
========  =========================================================================================================

Every stub records its argv and stdin and succeeds, keeping a little state so the agent sees a consistent
system: ``useradd`` adds the user to ``/etc/passwd`` (with ``-m`` its home), ``usermod -aG`` adds it to the group
in ``/etc/group``, ``id -u`` and ``getent passwd|group`` answer from those files, ``systemctl is-active`` reports
the KVP daemon units active while ``stub/kvp-daemon`` exists. ``reboot`` only records the call: the simulated
host turns it into a guest reboot. The pool files use ``hv_kvp_daemon``'s record format
(:mod:`functions.guest.pool_file`); the files are replaced atomically (temporary file + rename).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from functions.guest.pool_file import decode_pool, encode_pool
from tools.hvsim.guest.config import FAILABLE_COMMANDS

__all__ = ["LinuxSandbox", "StubCall"]

TEMPLATE_HOSTNAME: Final = "localhost"
"""The host name of a freshly cloned image, before the agent sets one."""

_STUB: Final = r"""#!/bin/bash
# hvsim stub of a Linux system command: records argv and stdin, keeps a little state under the guest root.
set -u
cmd=${0##*/}
dir=$HVSIM_STUB_DIR
root=${AETHERV_GUEST_ROOT%/}
exec 9>>"$dir/lock"
flock 9
n=$(($(cat "$dir/seq" 2>/dev/null || printf 0) + 1))
printf '%s' "$n" >"$dir/seq"
base=$(printf '%s/calls/%06d-%s' "$dir" "$n" "$cmd")
cat >"$base.stdin"
if (($#)); then printf '%s\0' "$@" >"$base.tmp"; else : >"$base.tmp"; fi
mv -f "$base.tmp" "$base.argv"
if [[ -f $dir/fail/$cmd ]]; then
    exit "$(<"$dir/fail/$cmd")"
fi

lookup() { # lookup FILE NAME: print the line whose first field is NAME
    local line
    while IFS= read -r line || [[ -n $line ]]; do
        if [[ ${line%%:*} == "$2" ]]; then
            printf '%s\n' "$line"
            return 0
        fi
    done <"$1"
    return 1
}

case $cmd in
systemctl)
    case ${1-} in
    is-active | start)
        unit=${!#}
        [[ $unit == *kvp* && -f $dir/kvp-daemon ]] || exit 3
        ;;
    esac
    ;;
id)
    line=$(lookup "$root/etc/passwd" "${!#}") || exit 1
    IFS=: read -r _ _ uid _ <<<"$line"
    printf '%s\n' "$uid"
    ;;
getent)
    lookup "$root/etc/${1-}" "${2-}" || exit 2
    ;;
useradd)
    name=${!#}
    printf '%s:x:%s:%s::/home/%s:/bin/bash\n' "$name" "$((1000 + n))" "$((1000 + n))" "$name" >>"$root/etc/passwd"
    for arg in "$@"; do
        if [[ $arg == -m ]]; then mkdir -p "$root/home/$name"; fi
    done
    ;;
usermod)
    group=${2-} name=${!#}
    tmp=$root/etc/group.hvsim
    while IFS= read -r line || [[ -n $line ]]; do
        if [[ ${line%%:*} == "$group" ]]; then
            if [[ ${line##*:} ]]; then line+=",$name"; else line+=$name; fi
        fi
        printf '%s\n' "$line"
    done <"$root/etc/group" >"$tmp"
    mv -f "$tmp" "$root/etc/group"
    ;;
esac
exit 0
"""

_CALL_STDIN_LIMIT: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class StubCall:
    """One recorded call of a stub command."""

    command: str
    argv: tuple[str, ...]
    stdin: bytes

    def to_json(self) -> dict[str, object]:
        """The call as JSON (stdin decoded as UTF-8, undecodable bytes replaced)."""
        return {"command": self.command, "argv": list(self.argv), "stdin": self.stdin.decode("utf-8", "replace")}


class LinuxSandbox:
    """One Linux guest's root, stubs and KVP pool files (see the module docstring).

    ``network`` is the image's network stack: ``netplan`` (an ``/etc/netplan`` with a cloud-init DHCP file),
    ``networkmanager`` (an empty ``/etc/NetworkManager/system-connections``) or ``none``.
    """

    def __init__(
        self,
        base: Path,
        *,
        iso_version: str,
        network: str = "netplan",
        admin_groups: tuple[str, ...] = ("sudo",),
    ) -> None:
        if network not in ("netplan", "networkmanager", "none"):
            raise ValueError(f"network must be netplan, networkmanager or none, got {network!r}")
        self.base = base
        self.network = network
        self.root = base / "root"
        self.bin = base / "bin"
        self.stub_dir = base / "stub"
        for path in (
            self.root / "var/lib/hyperv",
            self.root / "var/lib/aetherv",
            self.root / "var/log",
            self.root / "etc/sudoers.d",
            self.root / "etc/cloud/cloud.cfg.d",
            self.root / "home",
            self.root / "sys/class/net/lo",
            self.root / "sys/class/net/eth0/device",
            self.bin,
            self.stub_dir / "calls",
            self.stub_dir / "fail",
        ):
            path.mkdir(parents=True, exist_ok=True)
        (self.root / "sys/class/net/lo/type").write_text("772\n")
        (self.root / "sys/class/net/eth0/type").write_text("1\n")
        (self.root / "var/lib/aetherv/version").write_text(iso_version + "\n", encoding="utf-8")
        (self.root / "etc/hostname").write_text(TEMPLATE_HOSTNAME + "\n")
        (self.root / "etc/hosts").write_text(
            f"127.0.0.1\tlocalhost\n127.0.1.1\t{TEMPLATE_HOSTNAME}\n::1\tip6-localhost ip6-loopback\n"
        )
        (self.root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
        (self.root / "etc/group").write_text(
            "root:x:0:\n" + "".join(f"{group}:x:{27 + i}:\n" for i, group in enumerate(admin_groups))
        )
        if network == "netplan":
            (self.root / "etc/netplan").mkdir(parents=True)
            (self.root / "etc/netplan/50-cloud-init.yaml").write_text(
                "network:\n  version: 2\n  ethernets:\n    eth0:\n      dhcp4: true\n"
            )
        elif network == "networkmanager":
            (self.root / "etc/NetworkManager/system-connections").mkdir(parents=True)
        for command in FAILABLE_COMMANDS:
            stub = self.bin / command
            stub.write_text(_STUB)
            stub.chmod(0o755)
        self.set_kvp_daemon(running=True)

    # -- switches ------------------------------------------------------------------------------------------------

    def set_kvp_daemon(self, *, running: bool) -> None:
        """Whether ``systemctl`` reports a KVP daemon unit active (and lets the agent start one)."""
        marker = self.stub_dir / "kvp-daemon"
        if running:
            marker.touch()
        else:
            marker.unlink(missing_ok=True)

    def fail_command(self, command: str, status: int = 1) -> None:
        """Make the stub of ``command`` record its call and exit with ``status``."""
        if command not in FAILABLE_COMMANDS:
            raise ValueError(f"no stub for {command!r}")
        (self.stub_dir / "fail" / command).write_text(str(status))

    # -- pools -------------------------------------------------------------------------------------------------

    @property
    def host_pool_file(self) -> Path:
        """``/var/lib/hyperv/.kvp_pool_0``: the items the host wrote (the agent reads them)."""
        return self.root / "var/lib/hyperv/.kvp_pool_0"

    @property
    def guest_pool_file(self) -> Path:
        """``/var/lib/hyperv/.kvp_pool_1``: the items the guest wrote (the host reads them)."""
        return self.root / "var/lib/hyperv/.kvp_pool_1"

    def write_pool(self, path: Path, items: Mapping[str, str]) -> None:
        """Replace a pool file atomically with ``items``; an item that does not fit a record is left out."""
        records = bytearray()
        for key, value in items.items():
            try:
                records += encode_pool({key: value})
            except ValueError:
                continue  # the daemon cannot store it either (key ≥ 512 or value ≥ 2048 bytes, or NUL)
        tmp = path.with_name(path.name + ".hvsim")
        tmp.write_bytes(bytes(records))
        os.replace(tmp, path)

    def read_pool(self, path: Path) -> dict[str, str]:
        """The items of a pool file (empty when it does not exist)."""
        try:
            return decode_pool(path.read_bytes())
        except FileNotFoundError:
            return {}

    # -- what the stubs recorded ---------------------------------------------------------------------------------

    def calls(self) -> list[StubCall]:
        """Every completed stub call, in order."""
        calls: list[StubCall] = []
        for argv_file in sorted((self.stub_dir / "calls").glob("*.argv")):
            command = argv_file.stem.split("-", 1)[1]
            raw = argv_file.read_bytes()
            argv = tuple(part.decode("utf-8", "surrogateescape") for part in raw.split(b"\0")[:-1])
            try:
                with argv_file.with_suffix(".stdin").open("rb") as handle:
                    stdin = handle.read(_CALL_STDIN_LIMIT)
            except FileNotFoundError:
                stdin = b""
            calls.append(StubCall(command, argv, stdin))
        return calls

    def call_count(self, command: str | None = None) -> int:
        """How many calls (of ``command``) the stubs recorded."""
        pattern = f"*-{command}.argv" if command else "*.argv"
        return sum(1 for _ in (self.stub_dir / "calls").glob(pattern))

    # -- files -----------------------------------------------------------------------------------------------------

    def path(self, guest_path: str) -> Path:
        """The sandbox path of an absolute guest path (``/etc/hostname`` → ``<root>/etc/hostname``)."""
        return self.root / guest_path.lstrip("/")

    def read_text(self, guest_path: str) -> str | None:
        """A guest file's text (UTF-8, undecodable bytes replaced), or None when it does not exist."""
        try:
            return self.path(guest_path).read_bytes().decode("utf-8", "replace")
        except (FileNotFoundError, IsADirectoryError):
            return None

    def files(self, *, limit: int = 64 * 1024) -> dict[str, str]:
        """Every regular file the guest's configuration consists of, as text (pools and ``/sys`` left out)."""
        found: dict[str, str] = {}
        for path in sorted(self.root.rglob("*")):
            relative = "/" + path.relative_to(self.root).as_posix()
            if not path.is_file() or relative.startswith(("/sys/", "/var/lib/hyperv/", "/run/")):
                continue
            with path.open("rb") as handle:
                found[relative] = handle.read(limit).decode("utf-8", "replace")
        return found

    def remove(self) -> None:
        """Delete the sandbox."""
        shutil.rmtree(self.base, ignore_errors=True)
