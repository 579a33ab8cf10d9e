r"""Host-side background work: the scheduled tasks Aether-V starts on a host, and the image copies their workers run.

On a real host a background operation is a Task Scheduler task ``\Aether-V\<operation id>`` whose PowerShell
worker (``functions/hyperv/scripts/lib/Invoke-AetherOperationWorker.ps1``) copies the golden image into the VM
folder's ``<vm>.vhdx.partial`` and reports progress and its result in the status file
``<folder>\.aetherv-op.<id>.json``. Here a :class:`FakeTask` is that task and its worker:

- the copy takes ``bytes / rate`` seconds of the backend clock from its start (``rate`` is the host's copy speed
  in bytes per second; ``None`` copies at once). It is evaluated lazily: :meth:`BackgroundWork.settle` runs before
  any operation, control-plane read or guest tick looks at the host, and applies what happened meanwhile at the
  moment it happened. So the work goes on after the WinRM call that started it returned, and it survives a
  restart of the WinRM listener (the model is not the server's).
- while it runs, the worker holds the ``.partial`` file open (it cannot be deleted or moved) and the status file
  shows the bytes copied so far; the worker preallocates the whole file, so the space is taken at the start.
- it ends by itself (the ``.partial`` becomes the disk, grown to the wanted size; state ``succeeded``), by a
  :class:`CopyFault` (state ``failed`` with the fault's category, or — ``crash`` — no result at all, as when the
  host restarts), by :meth:`BackgroundWork.stop` (``Stop-ScheduledTask``: the process ends, the file keeps
  whatever the stopper writes) or past the task's ``ExecutionTimeLimit`` (Task Scheduler ends it: no result).

A task stays registered until the status or stop operation unregisters it; ``last_result`` is what
``Get-ScheduledTaskInfo`` would report (``LastTaskResult``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tools.hvsim.models.core import Clock
from tools.hvsim.models.files import FakeFile, FileSystem

__all__ = [
    "OPERATION_PREFIX",
    "TASK_CRASHED",
    "TASK_TERMINATED",
    "TERMINAL_STATES",
    "BackgroundWork",
    "CopyFault",
    "FakeTask",
    "status_path",
    "worker_path",
]

TASK_TERMINATED = 0x41306
"""``SCHED_S_TASK_TERMINATED``: the task was stopped (``Stop-ScheduledTask``, or its time limit ran out)."""
TASK_CRASHED = 0x8007042B
"""``ERROR_PROCESS_ABORTED``: the worker process ended without finishing (a host restart, a crash)."""
TERMINAL_STATES = frozenset({"succeeded", "failed", "canceled"})
OPERATION_PREFIX = ".aetherv-op."


def status_path(folder: str, operation_id: str) -> str:
    r"""``<folder>\.aetherv-op.<id>.json``: the operation's status file."""
    return folder.rstrip("\\") + "\\" + OPERATION_PREFIX + operation_id + ".json"


def worker_path(folder: str, operation_id: str) -> str:
    r"""``<folder>\.aetherv-op.<id>.ps1``: the worker script its task runs."""
    return folder.rstrip("\\") + "\\" + OPERATION_PREFIX + operation_id + ".ps1"


@dataclass
class CopyFault:
    """A copy that fails when ``at_percent`` of it is done: with ``category``/``message``, or without a result."""

    at_percent: float = 50.0
    category: str = "HostOperationFailed"
    message: str = "The specified network name is no longer available."
    crash: bool = False
    """The worker dies without writing a result (the host restarted, the process was killed)."""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CopyFault:
        """Parse ``{at_percent?, category?, message?, crash?}`` (``ValueError`` for anything else)."""
        unknown = set(data) - {"at_percent", "category", "message", "crash"}
        if unknown:
            raise ValueError(f"unknown copy fault field(s): {', '.join(sorted(unknown))}")
        fault = cls(**data)
        if not 0 <= float(fault.at_percent) <= 100:
            raise ValueError("at_percent must be between 0 and 100")
        return fault

    def to_json(self) -> dict[str, Any]:
        """The fault as JSON."""
        return {"at_percent": self.at_percent, "category": self.category, "message": self.message, "crash": self.crash}


@dataclass
class FakeTask:
    r"""A scheduled task ``\Aether-V\<id>`` and its worker: one background operation of a job."""

    id: str
    kind: str
    folder: str
    spec: dict[str, Any]
    """What the worker does: ``source``, ``partial``, ``path``, ``desired`` (bytes), ``image_name``."""
    total: int
    started: float
    rate: float | None
    time_limit: float
    fault: CopyFault | None = None
    running: bool = True
    last_result: int = 0x41301  # SCHED_S_TASK_RUNNING until it ends
    ended: float | None = None

    @property
    def status_path(self) -> str:
        """Its status file."""
        return status_path(self.folder, self.id)

    def seconds_for(self, size: float) -> float:
        """How long the worker takes to copy ``size`` bytes."""
        return 0.0 if not self.rate else size / self.rate


@dataclass
class BackgroundWork:
    """One host's background operations: its registered tasks, copy speed and the copy faults still to happen."""

    fs: FileSystem
    clock: Clock
    now: Callable[[], datetime]
    default_rate: Callable[[], float | None]
    rate: float | None = None
    """This host's copy speed in bytes per second (None: the lab's default, :attr:`default_rate`)."""
    tasks: dict[str, FakeTask] = field(default_factory=dict)
    faults: list[CopyFault] = field(default_factory=list)
    """Faults for the next copies, one each, in order."""
    started: list[str] = field(default_factory=list)
    """Every operation whose worker was started, in order (a second start of the same id never adds one)."""
    _anchor: tuple[datetime, float] | None = field(default=None, repr=False)

    # -- the status file ---------------------------------------------------------------------------------------

    def read(self, path: str) -> dict[str, Any] | None:
        """The status document at ``path`` (None without one)."""
        file = self.fs.get(path)
        if file is None or file.text is None:
            return None
        document: dict[str, Any] = json.loads(file.text)
        return document

    def write(self, path: str, document: dict[str, Any]) -> None:
        """Replace the status document (the worker's ``File.Replace``: readers see all of it or none)."""
        text = json.dumps(document, separators=(",", ":"))
        self.fs.write(FakeFile(path, len(text), kind="text", text=text))

    def stamp(self, at: float | None = None) -> str:
        """Wall-clock time of backend-clock moment ``at`` (default now), ISO 8601 UTC, as the worker writes it.

        Reckoned from the backend clock (anchored once to the wall clock), so times follow a manual clock too.
        """
        if self._anchor is None:
            self._anchor = (self.now(), self.clock())
        wall, mark = self._anchor
        moment = wall + timedelta(seconds=(self.clock() if at is None else at) - mark)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    # -- tasks -------------------------------------------------------------------------------------------------

    def current_rate(self) -> float | None:
        """The copy speed in effect (bytes per second; None: at once)."""
        return self.rate if self.rate is not None else self.default_rate()

    def task(self, operation_id: str) -> FakeTask | None:
        """The registered task of ``operation_id`` (Task Scheduler names are case-insensitive)."""
        return self.tasks.get(operation_id.lower())

    def launch(self, task: FakeTask) -> None:
        """``Register-ScheduledTask`` + ``Start-ScheduledTask``: the worker starts now and holds its ``.partial``."""
        if task.id.lower() in self.tasks:
            raise ValueError(f"task \\Aether-V\\{task.id} already exists")  # Register-ScheduledTask without -Force
        if self.faults:
            task.fault = self.faults.pop(0)
        self.tasks[task.id.lower()] = task
        self.fs.hold(task.spec["partial"])
        self.started.append(task.id)

    def unregister(self, operation_id: str) -> None:
        """``Unregister-ScheduledTask`` of a task that is not running."""
        task = self.task(operation_id)
        if task is not None and not task.running:
            del self.tasks[operation_id.lower()]

    def stop(self, operation_id: str) -> bool:
        """``Stop-ScheduledTask``: its worker process ends where it is. True when one was running."""
        self.settle()
        task = self.task(operation_id)
        if task is None or not task.running:
            return False
        self._end(task, self.clock(), TASK_TERMINATED)
        return True

    def _end(self, task: FakeTask, at: float, result: int) -> None:
        task.running = False
        task.ended = at
        task.last_result = result
        self.fs.release(task.spec["partial"])

    # -- time passing ------------------------------------------------------------------------------------------

    def settle(self) -> None:
        """Apply what every running worker did up to now: progress, and its end if it came."""
        now = self.clock()
        for task in list(self.tasks.values()):
            if task.running:
                self._advance(task, now)

    def _advance(self, task: FakeTask, now: float) -> None:
        document = self.read(task.status_path)
        if document is None:  # its status file was deleted under it: the worker fails writing
            self._end(task, now, TASK_CRASHED)
            return
        finish = task.started + task.seconds_for(task.total)
        limit = task.started + task.time_limit
        fault_at = None
        if task.fault is not None:
            fault_at = task.started + task.seconds_for(task.total * task.fault.at_percent / 100)
        first = min(t for t in (finish, limit, fault_at) if t is not None)
        if first > now:
            self._progress(task, document, now)
            return
        if fault_at is not None and first == fault_at and task.fault is not None:
            self._progress(task, document, fault_at)
            if not task.fault.crash:
                document.update(state="failed", error={"category": task.fault.category, "message": task.fault.message})
                self.write(task.status_path, document)
            self._end(task, fault_at, TASK_CRASHED if task.fault.crash else 0)
        elif first == finish:
            self._finish(task, document, finish)
        else:  # ExecutionTimeLimit: Task Scheduler ends the process; the file keeps the last progress
            self._progress(task, document, limit)
            self._end(task, limit, TASK_TERMINATED)

    def _progress(self, task: FakeTask, document: dict[str, Any], at: float) -> None:
        done = task.total if not task.rate else min(task.total, int((at - task.started) * task.rate))
        document.update(state="running", bytes_done=done, updated=self.stamp(at))
        self.write(task.status_path, document)

    def _finish(self, task: FakeTask, document: dict[str, Any], at: float) -> None:
        spec = task.spec
        self._end(task, at, 0)
        source = self.fs.get(spec["source"])
        assert source is not None, "the golden image vanished while the worker read it"
        self.fs.remove(spec["partial"])
        self.fs.write(source.copy_to(spec["path"]))  # Move-Item of the finished copy
        disk = self.fs.get(spec["path"])
        assert disk is not None
        size = disk.virtual_size or disk.size
        if size < int(spec["desired"]):  # Resize-VHD
            disk.virtual_size = size = int(spec["desired"])
        result = {
            "folder": task.folder,
            "path": spec["path"],
            "size_gb": round(size / 1024**3, 2),
            "image_name": spec.get("image_name"),
            "created": True,
        }
        document.update(state="succeeded", bytes_done=task.total, updated=self.stamp(at), result=result)
        self.write(task.status_path, document)
