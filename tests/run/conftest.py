"""``make run`` for real: started in its own session with private ports and data directory, and always cleaned up.

Every stack a test starts gets ports of its own (outside the ephemeral range, so the lab's servers never take them),
a data directory under the test's ``tmp_path`` and a marker variable in its environment that every process of the
stack inherits. The checks look at the processes themselves: the pids the stack recorded (with their start times)
and a scan of ``/proc`` for the marker and the data directory. Whatever a test does, the fixture kills every process
of its stacks afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import select
import signal
import socket
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

READY = "Aether-V is running"
PORT_NAMES = ("PORT", "AZURITE_BLOB_PORT", "AZURITE_QUEUE_PORT", "AZURITE_TABLE_PORT")


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def private_ports(count: int = 4) -> list[int]:
    """Free ports below the ephemeral range (the lab's own servers bind ephemeral ones)."""
    ports: list[int] = []
    while len(ports) < count:
        port = random.randrange(20000, 32000)
        if port not in ports and port_is_free(port):
            ports.append(port)
    return ports


def start_time(pid: int) -> int | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()
    return None if fields[0] in ("Z", "X") else int(fields[19])


def alive(pid: int, start: int | None) -> bool:
    """Whether ``pid`` is still that process (same start time) and not a zombie."""
    now = start_time(pid)
    return now is not None and (start is None or now == start)


def parent(pid: int) -> int | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(raw[raw.rfind(")") + 2 :].split()[1])


def descendants(root: int) -> dict[int, tuple[int | None, str]]:
    """Every live process below ``root`` (whatever its session or environment): pid → (start time, command line)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            ppid = parent(int(entry.name))
            if ppid is not None:
                children.setdefault(ppid, []).append(int(entry.name))
    found: dict[int, tuple[int | None, str]] = {}
    queue = list(children.get(root, []))
    while queue:
        pid = queue.pop()
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found[pid] = (start_time(pid), command.strip())
        queue.extend(children.get(pid, []))
    return found


class ExitWatch:
    """Samples the recorded children every 5 ms from a thread: when each one was last seen alive."""

    def __init__(self, children: list[dict[str, Any]]) -> None:
        self.children = children
        self.gone: dict[str, float] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.is_set() and len(self.gone) < len(self.children):
            now = time.monotonic()
            for child in self.children:
                if child["name"] not in self.gone and not alive(child["pid"], child["start"]):
                    self.gone[child["name"]] = now
            time.sleep(0.005)

    def order(self) -> list[str]:
        """The children's names in the order they disappeared."""
        self._done.set()
        self._thread.join()
        return sorted(self.gone, key=self.gone.__getitem__)


@dataclass
class Run:
    """One ``make run`` (or ``make stop``) environment and, once started, its make process."""

    env: dict[str, str]
    data_dir: Path
    log: Path
    marker: str
    make: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    extra: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def ports(self) -> dict[str, int]:
        return {name: int(self.env[name]) for name in PORT_NAMES}

    @property
    def stack_file(self) -> Path:
        return self.data_dir / ".devhost" / "stack.json"

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def start(self, wait_ready: bool = True, timeout: float = 120) -> None:
        """``make run`` in a new session (its own process group, like a script or supervisor starts it)."""
        with self.log.open("ab") as log:
            self.make = subprocess.Popen(
                ["make", "--no-print-directory", "-C", str(ROOT), "run"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.started_at = time.monotonic()
        if wait_ready:
            deadline = time.monotonic() + timeout
            while READY not in self.output():
                assert self.make.poll() is None, f"make run exited early:\n{self.output()[-4000:]}"
                assert time.monotonic() < deadline, f"make run did not become ready:\n{self.output()[-4000:]}"
                time.sleep(0.2)
            while not self.idle():  # the start-up inventory sync has finished: no function runs now
                assert time.monotonic() < deadline, f"the start-up sync did not finish:\n{self.output()[-4000:]}"
                time.sleep(0.2)

    def start_in_terminal(self, timeout: float = 120) -> Callable[[], None]:
        """``make run`` as the leader of a new session on a pseudo-terminal (as ``ssh -t host make run`` or a tmux
        command runs it); returns what closes the terminal (its master side), which hangs it up."""
        master, slave = os.openpty()
        self.make = subprocess.Popen(
            ["setsid", "--ctty", "make", "--no-print-directory", "-C", str(ROOT), "run"],
            env=self.env,
            stdin=slave,
            stdout=slave,
            stderr=slave,
        )
        os.close(slave)
        self.started_at = time.monotonic()
        closing = threading.Event()

        def copy() -> None:  # the terminal's output, into the log the checks read
            with self.log.open("ab") as log:
                while not closing.is_set():
                    if not select.select([master], [], [], 0.05)[0]:
                        continue
                    try:
                        chunk = os.read(master, 65536)
                    except OSError:
                        return
                    if not chunk:
                        return
                    log.write(chunk)
                    log.flush()

        reader = threading.Thread(target=copy, daemon=True)
        reader.start()

        def close() -> None:  # a read in progress would keep the terminal open: stop reading first
            closing.set()
            reader.join()
            os.close(master)

        deadline = time.monotonic() + timeout
        while READY not in self.output() or not self.idle():
            if self.make.poll() is not None or time.monotonic() > deadline:
                close()
                pytest.fail(f"make run did not become ready:\n{self.output()[-4000:]}")
            time.sleep(0.2)
        return close

    def idle(self) -> bool:
        """Whether the app has run its start-up inventory sync and no job is under way."""
        url = f"http://127.0.0.1:{self.ports['PORT']}/api/v1/jobs"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                jobs = json.load(response)["items"]
        except OSError:
            return False
        return bool(jobs) and all(job["status"] in ("Succeeded", "Failed", "Canceled") for job in jobs)

    def make_command(self, target: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        """Run another make target (``stop``, or ``run`` expected to fail) with this stack's environment."""
        return subprocess.run(
            ["make", "--no-print-directory", "-C", str(ROOT), target],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    def recorded(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.stack_file.read_text())
        return document

    def wait_make(self, timeout: float = 90) -> float:
        """Seconds until make exited (fails the test when it does not)."""
        assert self.make is not None
        began = time.monotonic()
        try:
            self.make.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"make run still runs {timeout} s later:\n{self.output()[-4000:]}")
        return time.monotonic() - began

    def processes(self) -> dict[int, str]:
        """Every process of this stack: the marker in its environment or the data directory on its command line."""
        found: dict[int, str] = {}
        marker = f"RUN_TEST_ID={self.marker}".encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                environ = (entry / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if start_time(int(entry.name)) is None:
                continue  # a zombie: already dead
            if marker in environ or str(self.data_dir) in command:
                found[int(entry.name)] = command.strip()
        return found

    def tree(self) -> dict[int, tuple[int | None, str]]:
        """Every process below make right now (the guests' agents in sessions of their own included)."""
        assert self.make is not None
        return descendants(self.make.pid)

    def assert_all_gone(self, recorded: dict[str, Any], tree: dict[int, tuple[int | None, str]]) -> None:
        """Nothing of the stack is left (recorded pids, the process tree seen before the stop, a /proc scan for its
        marker and data directory), every port is free again and the pid file is gone."""
        for item in [recorded["runner"], *recorded["children"]]:
            assert not alive(item["pid"], item["start"]), f"{item['name']} (pid {item['pid']}) still runs"
        survivors = {pid: command for pid, (start, command) in tree.items() if alive(pid, start)}
        assert not survivors, f"processes of the stack's tree survived: {survivors}"
        left = self.processes()
        assert not left, f"processes of the stack are left: {left}"
        taken = [f"{name}={port}" for name, port in self.ports.items() if not port_is_free(port)]
        assert not taken, f"ports still taken: {taken}"
        assert not self.stack_file.exists(), "the pid file outlived the stack"

    def kill_everything(self) -> None:
        """Clean-up: KILL make's group and every process of the stack, whatever state the test left them in."""
        for process in [self.make, *self.extra]:
            if process is not None and process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            if process is not None and process.stdout is not None:
                process.stdout.close()
        for _ in range(3):
            left = self.processes()
            if not left:
                return
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)


@pytest.fixture
def new_run(tmp_path: Path) -> Iterator[Any]:
    """A factory of private ``make run`` environments; everything they started is killed afterwards."""
    runs: list[Run] = []

    def make(**overrides: str) -> Run:
        ports = private_ports()
        data_dir = tmp_path / f"data{len(runs)}"
        marker = uuid.uuid4().hex
        env = {name: value for name, value in os.environ.items() if not name.startswith(("MAKE", "MFLAGS"))}
        env |= dict(zip(PORT_NAMES, map(str, ports), strict=True))
        env |= {
            "RUN_DATA_DIR": str(data_dir),
            "RUN_TEST_ID": marker,
            "LAB_HOSTS": "1",
            "LAB_VMS": "1",
            "AETHERV_HOSTS": "",  # the simulated lab, whatever local.settings.json says
            "AETHERV_AUTH_MODE": "none",
            "AETHERV_USE_FUNC": "0",
            "AETHERV_INVENTORY_SCHEDULE": "0 0 0 1 1 *",  # only the start-up sync: the stack is idle after it
            "PYTHONUNBUFFERED": "1",
        }
        run = Run(env | overrides, data_dir, tmp_path / f"make-run{len(runs)}.log", marker)
        runs.append(run)
        return run

    try:
        yield make
    finally:
        for run in runs:
            run.kill_everything()
