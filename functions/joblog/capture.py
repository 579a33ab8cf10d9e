"""What one activity run collects for its job's log, and the secrets it must never show.

An activity trigger opens a :func:`capturing` block for its job (``functions/workflows/activities.py``); code below
it adds entries without knowing the job: the PowerShell runner adds what a host's script reported
(:func:`host_output`), the guest poll adds a change of the guest's state (:func:`note`). Values the run unsealed
(passwords) are registered with :func:`redact` and replaced by ``***`` in every entry it collects. Outside a block
these calls do nothing. The block's entries are stored once, when it ends — whether the run succeeded or not.

The capture lives in a context variable: it follows the activity's thread, not threads it starts (which add nothing).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from functions.joblog.entries import Level, LogEntry, Source

__all__ = ["MAX_HOST_LINES", "Capture", "capturing", "host_output", "note", "redact"]

MAX_HOST_LINES = 100
"""Most lines one activity run keeps from its hosts' scripts (one more says how many were dropped)."""
_REDACTED = "***"
_LEVELS: Mapping[str, Level] = {"warning": "warning", "error": "error", "info": "info", "verbose": "info"}


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Capture:
    """The entries one activity run collected, for ``job_id``, and the values to redact."""

    job_id: str
    step: str | None
    host: str | None
    entries: list[LogEntry] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)
    host_lines: int = 0
    dropped: int = 0

    def add(self, level: Level, source: Source, message: str, *, host: str | None = None) -> None:
        """Collect one entry (redacted)."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            message = message.replace(secret, _REDACTED)
        self.entries.append(LogEntry(_now(), level, source, message, self.step, host or self.host))

    def collected(self) -> list[LogEntry]:
        """The entries, with a last one saying how many host lines were dropped."""
        if not self.dropped:
            return list(self.entries)
        tail = LogEntry(_now(), "warning", "host", f"{self.dropped} more line(s) from the host were dropped", self.step)
        return [*self.entries, tail]


_current: ContextVar[Capture | None] = ContextVar("aetherv_job_log_capture", default=None)


@contextmanager
def capturing(job_id: str, *, step: str | None, host: str | None) -> Iterator[Capture]:
    """Collect entries for ``job_id`` inside the block."""
    capture = Capture(job_id, step, host)
    token = _current.set(capture)
    try:
        yield capture
    finally:
        _current.reset(token)


def redact(*values: str) -> None:
    """Never show ``values`` (4+ characters) in what the current run collects."""
    capture = _current.get()
    if capture is not None:
        capture.secrets.update(value for value in values if isinstance(value, str) and len(value) >= 4)


def note(level: Level, source: Source, message: str, *, host: str | None = None) -> None:
    """Add one entry to the current run's log."""
    capture = _current.get()
    if capture is not None:
        capture.add(level, source, message, host=host)


def host_output(host: str | None, operation: str, lines: Sequence[Any]) -> None:
    """Add what a host's script reported (``[{"level", "message"}]``), up to :data:`MAX_HOST_LINES` per run."""
    capture = _current.get()
    if capture is None:
        return
    for line in lines:
        if not isinstance(line, Mapping) or not isinstance(line.get("message"), str):
            continue
        if capture.host_lines >= MAX_HOST_LINES:
            capture.dropped += 1
            continue
        capture.host_lines += 1
        level = _LEVELS.get(str(line.get("level", "info")).lower(), "info")
        capture.add(level, "host", f"{operation}: {line['message']}", host=host)
