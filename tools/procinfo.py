"""What ``/proc`` says about processes and listening ports, for ``make run`` and ``make stop`` (Linux only).

A process is named by its id *and* its start time (``/proc/<pid>/stat`` field 22, in clock ticks since boot), so a
recorded process is never confused with a later one that reuses its id. Listening TCP sockets come from
``/proc/net/tcp`` and ``/proc/net/tcp6``; their owners from the ``socket:[inode]`` links under ``/proc/<pid>/fd``.
Processes of other users cannot be inspected: they are reported without an owner rather than guessed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ProcessFacts",
    "Taken",
    "describe",
    "facts",
    "group_members",
    "is_running",
    "taken_ports",
]

PROC = Path("/proc")
_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's "st" column


@dataclass(frozen=True)
class ProcessFacts:
    """One process as ``/proc/<pid>/stat`` describes it."""

    pid: int
    state: str
    ppid: int
    pgid: int
    sid: int
    start: int

    @property
    def zombie(self) -> bool:
        """Whether the process has exited and only waits to be reaped."""
        return self.state in ("Z", "X")


def facts(pid: int) -> ProcessFacts | None:
    """The process ``pid`` (``None`` when there is none)."""
    try:
        raw = (PROC / str(pid) / "stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    # "pid (comm) state ppid pgrp session ...": comm may hold spaces and parentheses, so split after the last ")".
    fields = raw[raw.rfind(")") + 2 :].split()
    try:
        return ProcessFacts(pid, fields[0], int(fields[1]), int(fields[2]), int(fields[3]), int(fields[19]))
    except (IndexError, ValueError):
        return None


def is_running(pid: int, start: int | None) -> bool:
    """Whether ``pid`` is still the process that started at ``start`` and has not exited."""
    found = facts(pid)
    return found is not None and not found.zombie and (start is None or found.start == start)


def _pids() -> list[int]:
    return [int(entry.name) for entry in PROC.iterdir() if entry.name.isdigit()]


def group_members(pgid: int) -> list[int]:
    """Live processes whose process group is ``pgid``."""
    members = []
    for pid in _pids():
        found = facts(pid)
        if found is not None and found.pgid == pgid and not found.zombie:
            members.append(pid)
    return members


def cmdline(pid: int) -> str:
    """The command line of ``pid`` ("" when it cannot be read)."""
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    return " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)


def cwd(pid: int) -> str | None:
    """The working directory of ``pid`` (``None`` when it cannot be read)."""
    try:
        return os.readlink(PROC / str(pid) / "cwd")
    except OSError:
        return None


def describe(pid: int, limit: int = 240) -> str:
    """``process <pid>: <command line> (in <cwd>)``, the command line shortened to ``limit`` characters."""
    line = cmdline(pid) or "(command line not readable)"
    if len(line) > limit:
        line = line[: limit - 1] + "…"
    where = cwd(pid)
    return f"process {pid}: {line}" + (f" (in {where})" if where else "")


@dataclass(frozen=True)
class Taken:
    """A port ``make run`` needs that cannot be bound, and the processes listening on it (when visible)."""

    port: int
    purpose: str
    owners: tuple[int, ...]
    reason: str


def _bind_error(port: int) -> str | None:
    """Why 127.0.0.1:``port`` cannot be bound right now (``None`` when it can)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do: TIME_WAIT does not count
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            return "in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
    return None


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in (PROC / "net" / table).read_text(encoding="ascii", errors="replace").splitlines()[1:]:
                columns = line.split()
                if len(columns) > 9 and columns[3] == _LISTEN and int(columns[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(columns[9])
    return inodes


def _socket_owners(inodes: set[str]) -> tuple[int, ...]:
    if not inodes:
        return ()
    wanted = {f"socket:[{inode}]" for inode in inodes}
    owners = []
    for pid in _pids():
        with contextlib.suppress(OSError):
            for fd in (PROC / str(pid) / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in wanted:
                        owners.append(pid)
                        break
    return tuple(sorted(owners))


def taken_ports(wanted: dict[int, str]) -> list[Taken]:
    """The ports of ``wanted`` (port → what it is for) that cannot be bound on loopback, with their owners."""
    taken = []
    for port, purpose in wanted.items():
        reason = _bind_error(port)
        if reason is not None:
            taken.append(Taken(port, purpose, _socket_owners(_listening_inodes(port)), reason))
    return taken
