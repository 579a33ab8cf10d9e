"""Following a job to its end: a live step-by-step progress bar, its steps and log lines, the outcome as exit code.

Each step is printed as it finishes, and the job's log lines as they arrive (when the server has
``GET /api/v1/jobs/{id}/log``), but for the log's own "step … started/succeeded" lines, which the step lines show.

The job document names its ``plan`` (every step it will run), its ``steps`` (name, status, started, finished) and its
``current_step`` and ``status``; the follower polls ``GET /api/v1/jobs/{id}`` until the status is final.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from aetherv_cli.client import ApiClient
from aetherv_cli.errors import EXIT_CANCELED, EXIT_FAILED, EXIT_OK

__all__ = ["FINAL", "JobFollower", "exit_code_of"]

FINAL = {"Succeeded": EXIT_OK, "Failed": EXIT_FAILED, "Canceled": EXIT_CANCELED}
_STEP_PROGRESS = re.compile(r"step \S+ (started|succeeded)")
_DONE_STEPS = {"Succeeded", "Failed", "Skipped", "Canceled", "Compensated"}


def exit_code_of(job: dict[str, Any]) -> int:
    """0 for a ``Succeeded`` job, 1 ``Failed``, 2 ``Canceled``."""
    return FINAL.get(str(job.get("status")), EXIT_FAILED)


@dataclass
class JobFollower:
    """Polls one job and shows its progress on ``console`` (stderr: stdout keeps the final document)."""

    client: ApiClient
    console: Console
    interval: float = 1.0
    timeout: float | None = None
    sleep: Callable[[float], None] = time.sleep
    _reported: set[str] = field(default_factory=set)
    _log_after: str | None = None
    _log_route: bool = True

    def follow(self, job_id: str) -> dict[str, Any]:
        """Poll until the job is final; return its last document."""
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        job = self.client.job(job_id).job
        columns = (
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=self.console, transient=True) as progress:
            task = progress.add_task(job_id, total=max(len(_plan(job)), 1))
            while True:
                self._show(job, progress, task)
                if job.get("status") in FINAL:
                    break
                if deadline is not None and time.monotonic() > deadline:
                    self.console.print(f"still {job.get('status')} after {self.timeout:g} s; stopped following")
                    break
                self.sleep(self.interval)
                job = self.client.job(job_id).job
        self._tail_log(job_id)
        return job

    def _show(self, job: dict[str, Any], progress: Progress, task: Any) -> None:
        plan = _plan(job)
        steps = {str(step.get("name")): step for step in job.get("steps") or [] if isinstance(step, dict)}
        for name in [*plan, *(n for n in steps if n not in plan)]:
            step = steps.get(name)
            if step is None or step.get("status") not in _DONE_STEPS or name in self._reported:
                continue
            self._reported.add(name)
            mark = {"Succeeded": "✓", "Failed": "✗", "Skipped": "-"}.get(str(step.get("status")), "•")
            self.console.print(f"{mark} {name} {step.get('status')}{_took(step)}", markup=False, highlight=False)
        self._tail_log(str(job.get("id")))
        done = sum(1 for name in plan if name in self._reported)
        current = job.get("current_step") or ""
        description = f"{job.get('status')}" + (f": {current}" if current else "")
        progress.update(task, total=max(len(plan), 1), completed=done, description=description)

    def _tail_log(self, job_id: str) -> None:
        """Print the log entries that arrived since the last look (nothing when the server has no log route)."""
        while self._log_route:
            page = self.client.job_log(job_id, self._log_after)
            if page is None:
                self._log_route = False
                return
            for entry in page.get("entries") or []:
                if entry.get("source") == "workflow" and _STEP_PROGRESS.match(str(entry.get("message", ""))):
                    continue  # the progress lines above show each step already
                where = " ".join(str(entry[k]) for k in ("step", "host") if entry.get(k))
                level = str(entry.get("level", "info"))
                line = f"  {entry.get('at', '')} {level:<7} {where + ': ' if where else ''}{entry.get('message', '')}"
                self.console.print(line, markup=False, highlight=False)
            following = page.get("next")
            if not following or following == self._log_after:
                return
            self._log_after = str(following)
            if not page.get("entries"):
                return


def _plan(job: dict[str, Any]) -> list[str]:
    plan = job.get("plan") or [step.get("name") for step in job.get("steps") or [] if isinstance(step, dict)]
    return [str(name) for name in plan]


def _took(step: dict[str, Any]) -> str:
    from datetime import datetime

    try:
        started = datetime.fromisoformat(str(step["started"]))
        finished = datetime.fromisoformat(str(step["finished"]))
    except (KeyError, TypeError, ValueError):
        return ""
    return f" ({(finished - started).total_seconds():.1f} s)"
