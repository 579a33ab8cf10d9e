"""The processes of a ``make run`` stack: started in their own process groups, recorded, stopped in dependency order.

- :class:`Stopper` turns SIGINT, SIGTERM and SIGHUP into one stop request. Its handler only records the signal: it
  never raises, so a signal cannot interrupt a start half-way (a child started but not recorded) or a stop (GNU make
  forwards a TERM it receives to its child, so a TERM to make's process group arrives twice).
- :class:`Child` is one started process: its id and start time (``/proc``), so it is never confused with a later
  process that reuses the id, and the ``Popen`` when this process is its parent.
- :class:`StackFile` is the pid file (JSON) of a running stack: the ``make run`` process and its children. It is
  rewritten after every start, removed after a complete stop, and read by ``make stop`` and by the next ``make run``.
- :func:`stop_in_order` stops children app first, then the lab, then storage: each one's process group gets TERM,
  is waited for, and is killed (KILL) when it outlives its grace period; nothing is ever stopped by name.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from tools import procinfo

__all__ = ["GRACE", "STOP_ORDER", "Child", "StackFile", "Stopper", "stop_child", "stop_in_order"]

STOP_ORDER = ("app", "lab", "storage")
"""The order children stop in: what depends on the others first."""
GRACE = {"app": 20.0, "lab": 10.0, "storage": 10.0}
"""Seconds each role may take to stop after TERM before it is killed (the app lets running functions finish)."""
KILL_WAIT = 5.0

Say = Callable[[str], None]


class Stopper:
    """SIGINT, SIGTERM and SIGHUP as one stop request: the first asks to stop, later ones are only counted.

    The handler appends to a list and nothing else: no lock (a ``threading.Event`` would deadlock when the signal
    lands while the main thread holds the event's own lock), no I/O. Waiting polls a pipe that Python's C-level handler
    writes to (``signal.set_wakeup_fd``), so a signal ends a wait at once — and the controlling terminal, when there
    is one: its hang-up is a stop request too, because when make itself leads the terminal's session (``ssh -t host
    make run``, a tmux or ``script`` command) only make gets the SIGHUP, and make does not pass it on.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    HANG_UP = "terminal hang-up"

    def __init__(self) -> None:
        self.received: list[str] = []
        self._wakeup_read, self._wakeup_write = os.pipe()
        for fd in (self._wakeup_read, self._wakeup_write):
            os.set_blocking(fd, False)
        self._poll = select.poll()
        self._poll.register(self._wakeup_read, select.POLLIN)
        self._terminal = next((fd for fd in (0, 1, 2) if os.isatty(fd)), None)
        if self._terminal is not None:
            self._poll.register(self._terminal, 0)  # nothing is read: only hang-up and errors are reported

    def install(self) -> None:
        """Handle the stop signals in this (main) thread from now on."""
        signal.set_wakeup_fd(self._wakeup_write, warn_on_full_buffer=False)
        for signum in self.SIGNALS:
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.received.append(signal.Signals(signum).name)

    @property
    def requested(self) -> bool:
        """Whether a stop signal arrived (or the terminal hung up)."""
        return bool(self.received)

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``, returning early (``True``) when a stop is requested."""
        if not self.received:
            for fd, events in self._poll.poll(seconds * 1000):
                if fd == self._wakeup_read:
                    with contextlib.suppress(BlockingIOError):
                        os.read(self._wakeup_read, 512)
                elif events & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
                    self._poll.unregister(fd)
                    self.received.append(self.HANG_UP)
        return self.requested


@dataclass
class Child:
    """A process of the stack, leader of its own process group (``pgid == pid``)."""

    name: str
    role: str
    pid: int
    start: int | None
    process: subprocess.Popen[bytes] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def spawn(cls, name: str, role: str, args: list[str], cwd: Path, env: dict[str, str], **kwargs: Any) -> Child:
        """Start ``args`` in a new session (its own process group, out of reach of the terminal's signals)."""
        process = subprocess.Popen(args, cwd=cwd, env=env, start_new_session=True, **kwargs)
        found = procinfo.facts(process.pid)
        return cls(name, role, process.pid, found.start if found else None, process)

    def exited(self) -> bool:
        """Whether the process itself has exited (reaping it when this process is its parent)."""
        if self.process is not None:
            return self.process.poll() is not None
        return not procinfo.is_running(self.pid, self.start)

    def group(self) -> list[int]:
        """Live processes of its group: the leader while it runs, else what is left of the group (often nothing).

        While any member lives the group's id cannot be reused, so a process now holding the id with another start
        time means the recorded group is gone.
        """
        if not self.exited():  # reaps the leader when it has exited: a zombie leader is gone
            return [self.pid]
        found = procinfo.facts(self.pid)
        if found is not None and self.start is not None and found.start != self.start:
            return []
        return procinfo.group_members(self.pid)

    def signal(self, signum: signal.Signals) -> None:
        """Send ``signum`` to its whole process group."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)

    def to_json(self) -> dict[str, Any]:
        """The record in the pid file."""
        return {"name": self.name, "role": self.role, "pid": self.pid, "start": self.start}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Child:
        """A recorded child (no ``Popen``: another process started it)."""
        start = data.get("start")
        return cls(str(data["name"]), str(data["role"]), int(data["pid"]), None if start is None else int(start))


def _wait_gone(child: Child, seconds: float, tick: Callable[[], None]) -> bool:
    deadline = time.monotonic() + seconds
    while child.group():
        if time.monotonic() >= deadline:
            return False
        tick()
        time.sleep(0.05)
    return True


def stop_child(child: Child, say: Say, tick: Callable[[], None] = lambda: None) -> None:
    """TERM the child's process group, wait for it (its role's grace period), then KILL what is left."""
    if not child.group():
        say(f"  {child.name} (pid {child.pid}) had already exited")
        return
    began = time.monotonic()
    say(f"  stopping {child.name} (pid {child.pid})")
    child.signal(signal.SIGTERM)
    grace = GRACE.get(child.role, 10.0)
    if not _wait_gone(child, grace, tick):
        say(f"  {child.name} did not stop within {grace:.0f} s: killing its process group")
        child.signal(signal.SIGKILL)
        if not _wait_gone(child, KILL_WAIT, tick):
            say(f"  {child.name}: processes {child.group()} survived KILL")
            return
    say(f"  {child.name} stopped ({time.monotonic() - began:.1f} s)")


def stop_in_order(children: Iterable[Child], say: Say, tick: Callable[[], None] = lambda: None) -> None:
    """Stop ``children`` app first, then the lab, then storage (others last, newest first), one after another."""
    ordered = sorted(
        reversed(list(children)), key=lambda c: STOP_ORDER.index(c.role) if c.role in STOP_ORDER else len(STOP_ORDER)
    )
    for child in ordered:
        stop_child(child, say, tick)


@dataclass
class StackFile:
    """The pid file of a running stack: the ``make run`` process, its children and the ports it holds."""

    path: Path
    runner: Child
    ports: dict[str, int]
    children: list[Child] = field(default_factory=list)

    def save(self) -> None:
        """Write the file atomically (a reader never sees half of it)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "runner": self.runner.to_json(),
            "ports": self.ports,
            "children": [child.to_json() for child in self.children],
        }
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        temporary.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        temporary.replace(self.path)

    def remove(self) -> None:
        """Delete the file if it still describes this stack (a newer run may have replaced it)."""
        current = StackFile.load(self.path)
        if current is not None and current.runner.to_json() == self.runner.to_json():
            self.path.unlink(missing_ok=True)

    def alive(self) -> list[Child]:
        """The recorded processes (runner included) of which something still runs."""
        return [child for child in [self.runner, *self.children] if child.group()]

    @classmethod
    def load(cls, path: Path) -> StackFile | None:
        """The stack recorded at ``path`` (``None`` when there is no readable file)."""
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                path,
                Child.from_json(document["runner"]),
                {str(k): int(v) for k, v in document.get("ports", {}).items()},
                [Child.from_json(item) for item in document.get("children", [])],
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None
