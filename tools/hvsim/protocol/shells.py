"""Remote shells and their commands on one simulated host (the WinRS side of [MS-WSMV]).

A :class:`Shell` belongs to the authenticated user that created it; :class:`ShellTable` enforces the per-user
shell quota (``MaxShellsPerUser``, default 30) and deletes shells idle longer than the idle timeout (default
7200 s, as WinRM's ``IdleTimeout``). A :class:`Command` buffers stdin until the client closes it, runs its program
on a worker thread, and buffers stdout/stderr for Receive, which waits on a condition for output or completion.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from tools.hvsim.protocol.dispatch import CommandOutcome
from tools.hvsim.protocol.errors import WSManFault

__all__ = ["Command", "OutputChunk", "Shell", "ShellTable"]

Program = Callable[[bytes], CommandOutcome]


@dataclass(frozen=True)
class OutputChunk:
    """What one Receive returns: output bytes, whether the command is done, and its exit code when done."""

    stdout: bytes
    stderr: bytes
    done: bool
    exit_code: int | None


class Command:
    """One command of a shell: stdin buffer, program run on stdin end, and output buffers."""

    def __init__(self, command_line: str, program: Program, *, wants_stdin: bool) -> None:
        self.id = str(uuid.uuid4()).upper()
        self.command_line = command_line
        self._program = program
        self._condition = threading.Condition()
        self._stdin = bytearray()
        self._stdin_closed = False
        self._stdout = bytearray()
        self._stderr = bytearray()
        self._exit_code: int | None = None
        self._started = False
        self._terminated = False
        if not wants_stdin:
            self._start()

    def feed(self, data: bytes, *, end: bool) -> None:
        """Append stdin; on ``end`` the program starts (a worker thread) with all of stdin."""
        with self._condition:
            if self._stdin_closed:
                return  # real WinRS ignores input after the stream was closed
            self._stdin.extend(data)
            if end:
                self._stdin_closed = True
        if end:
            self._start()

    def _start(self) -> None:
        with self._condition:
            if self._started:
                return
            self._started = True
        thread = threading.Thread(target=self._run, name=f"hvsim-command-{self.id[:8]}", daemon=True)
        thread.start()

    def _run(self) -> None:
        try:
            outcome = self._program(bytes(self._stdin))
        except Exception as exc:  # a bug in the simulator: surface it like a crashed process
            outcome = CommandOutcome(b"", f"hvsim internal error: {type(exc).__name__}: {exc}\r\n".encode(), 1)
        with self._condition:
            if not self._terminated:
                self._stdout.extend(outcome.stdout)
                self._stderr.extend(outcome.stderr)
                self._exit_code = outcome.exit_code
            self._condition.notify_all()

    def receive(self, timeout: float, max_bytes: int) -> OutputChunk | None:
        """Wait up to ``timeout`` for output or completion; ``None`` if there was none (an operation timeout)."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while not self._stdout and not self._stderr and self._exit_code is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._condition.wait(remaining)
            stdout = bytes(self._stdout[:max_bytes])
            del self._stdout[: len(stdout)]
            stderr = bytes(self._stderr[: max(0, max_bytes - len(stdout))])
            del self._stderr[: len(stderr)]
            done = self._exit_code is not None and not self._stdout and not self._stderr
            return OutputChunk(stdout, stderr, done, self._exit_code if done else None)

    def terminate(self) -> None:
        """Signal terminate: the command ends (its late output is dropped)."""
        with self._condition:
            self._terminated = True
            if self._exit_code is None:
                self._exit_code = -1073741510  # STATUS_CONTROL_C_EXIT, what a terminated process reports
            self._condition.notify_all()


@dataclass
class Shell:
    """A remote shell: its id, owner and commands."""

    owner: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()).upper())
    created: float = field(default_factory=time.monotonic)
    last_used: float = field(default_factory=time.monotonic)
    commands: dict[str, Command] = field(default_factory=dict)


class ShellTable:
    """The shells of one host, with the per-user quota and idle expiry."""

    def __init__(self, *, max_shells_per_user: int = 30, idle_timeout: float = 7200.0) -> None:
        self.max_shells_per_user = max_shells_per_user
        self.idle_timeout = idle_timeout
        self._lock = threading.Lock()
        self._shells: dict[str, Shell] = {}

    def _expire(self, now: float) -> None:
        for shell_id, shell in list(self._shells.items()):
            if now - shell.last_used > self.idle_timeout:
                for command in shell.commands.values():
                    command.terminate()
                del self._shells[shell_id]

    def create(self, owner: str) -> Shell:
        """A new shell for ``owner`` (``w:QuotaLimit`` fault beyond the per-user maximum)."""
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            owned = sum(1 for shell in self._shells.values() if shell.owner.lower() == owner.lower())
            if owned >= self.max_shells_per_user:
                raise WSManFault.shell_quota(self.max_shells_per_user)
            shell = Shell(owner=owner)
            self._shells[shell.id] = shell
            return shell

    def get(self, shell_id: str | None, owner: str) -> Shell:
        """The live shell ``shell_id`` of ``owner``, marked as used (``w:InvalidSelectors`` fault otherwise)."""
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            shell = self._shells.get((shell_id or "").upper())
            if shell is None or shell.owner.lower() != owner.lower():
                raise WSManFault.shell_not_found(shell_id or "")
            shell.last_used = now
            return shell

    def delete(self, shell_id: str | None, owner: str) -> None:
        """Delete a shell, terminating its commands."""
        shell = self.get(shell_id, owner)
        with self._lock:
            self._shells.pop(shell.id, None)
        for command in shell.commands.values():
            command.terminate()

    def clear(self) -> None:
        """Delete every shell."""
        with self._lock:
            shells = list(self._shells.values())
            self._shells.clear()
        for shell in shells:
            for command in shell.commands.values():
                command.terminate()

    def __len__(self) -> int:
        with self._lock:
            return len(self._shells)
