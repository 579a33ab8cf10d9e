"""Emitting events: the one :class:`EventEmitter` the app shares, and its hook on the job store.

An emitter stores events in the outbox, owed to every configured sink, and returns; delivery happens later, in the
``events_pump`` orchestration. With no sink configured it stores nothing. A failure to store propagates, so the
activity that emitted (and is retried) emits again: events are at least once, and the same event keeps its id.

:class:`JobEvents` is the job store's observer: a job's creation and every status it reaches that an event stands
for. Jobs of the scheduled inventory sync are not announced (one every two minutes says nothing); a sync someone
asked for is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from functions.events.catalog import OutgoingEvent, job_events
from functions.events.outbox import EventOutbox
from functions.models.jobs import Job

__all__ = ["QUIET_REQUESTERS", "EventEmitter", "JobEvents"]

QUIET_REQUESTERS = frozenset({"system:inventory-schedule"})
"""Requesters whose jobs emit no events."""


class EventEmitter:
    """Stores events in the outbox for the configured sinks."""

    def __init__(self, outbox: EventOutbox | None, sinks: Callable[[], Sequence[str]]) -> None:
        self._outbox = outbox
        self._sinks = sinks

    @property
    def enabled(self) -> bool:
        """Whether any sink is configured."""
        return self._outbox is not None and bool(self._sinks())

    def emit(self, events: Iterable[OutgoingEvent]) -> int:
        """Store ``events`` (those already stored are kept as they are); returns how many were new."""
        batch = list(events)
        if not batch or self._outbox is None:
            return 0
        sinks = self._sinks()
        return self._outbox.add(batch, sinks) if sinks else 0


class JobEvents:
    """The job store's observer that emits job and VM events."""

    def __init__(self, emitter: EventEmitter) -> None:
        self._emitter = emitter

    def job_changed(self, job: Job, *, before: Job | None) -> None:
        """``job`` was stored (``before``: what it replaced; ``None`` when it was created)."""
        if job.requested_by.id in QUIET_REQUESTERS or not self._emitter.enabled:
            return
        if before is not None and before is not job and before.status == job.status:
            return  # a step's progress: nothing an event stands for changed
        self._emitter.emit(job_events(job, created=before is None))
