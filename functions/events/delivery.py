"""One delivery pass: every due event to every sink still owed it, at once, with backoff and a horizon.

The ``events_pump`` orchestration calls :meth:`EventDelivery.run` in an activity, then sleeps on a durable timer until
:meth:`EventDelivery.next_in` says the next event is due. A pass delivers up to ``batch`` events, each to its owed
sinks in parallel threads (a slow receiver costs its own thread up to the sinks' timeouts, never a job's activity).
A sink that fails keeps the event owed to it: the next attempt comes ``2**(attempts-1)`` seconds later (at most
:data:`MAX_BACKOFF`); once the next attempt would fall past ``horizon`` seconds after the event was stored, the event
is dead-lettered with the sinks that still lack it. Sinks no longer configured are dropped from what is owed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from functions.events.outbox import EventOutbox, PendingEvent
from functions.events.sinks import DeliveryError, Sink

__all__ = ["MAX_BACKOFF", "DeliveryReport", "EventDelivery"]

log = logging.getLogger(__name__)

MAX_BACKOFF = 300.0
"""Longest wait between two attempts at one event, in seconds."""
IDLE = 3.0
"""Seconds the pump sleeps when nothing is due (new events wait at most this long)."""


@dataclass(frozen=True)
class DeliveryReport:
    """What one pass did."""

    delivered: int = 0
    retrying: int = 0
    dead_lettered: int = 0


class EventDelivery:
    """Delivers the outbox's due events to the configured sinks."""

    def __init__(
        self,
        outbox: EventOutbox,
        sinks: Sequence[Sink],
        *,
        horizon: float,
        threads: int = 16,
        batch: int = 100,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.outbox = outbox
        self.sinks = {sink.id: sink for sink in sinks}
        self.horizon = timedelta(seconds=horizon)
        self.threads = threads
        self.batch = batch
        self._clock = clock

    def close(self) -> None:
        """Let go of every sink's connections."""
        for sink in self.sinks.values():
            sink.close()

    def sink_ids(self) -> list[str]:
        """The ids of the configured sinks (what a new event is owed to)."""
        return list(self.sinks)

    def label(self, sink_id: str) -> str:
        """A safe name of ``sink_id`` (one no longer configured is named by its kind only)."""
        sink = self.sinks.get(sink_id)
        return sink.label if sink is not None else sink_id.split(":", 1)[0] + " (no longer configured)"

    def run(self) -> DeliveryReport:
        """One pass over the due events."""
        items = self.outbox.due(self.batch)
        if not items:
            return DeliveryReport()
        jobs = [(item, sink_id) for item in items for sink_id in item.sinks if sink_id in self.sinks]
        with ThreadPoolExecutor(max_workers=max(1, min(self.threads, len(jobs) or 1))) as pool:
            outcomes = list(pool.map(lambda job: self._attempt(job[1], job[0]), jobs))
        failures: dict[str, list[tuple[str, str]]] = {}
        for (item, sink_id), error in zip(jobs, outcomes, strict=True):
            if error is not None:
                failures.setdefault(item.event.id, []).append((sink_id, error))
        report = DeliveryReport()
        for item in items:
            failed = failures.get(item.event.id, [])
            report = self._settle(item, failed, report)
        return report

    def _attempt(self, sink_id: str, item: PendingEvent) -> str | None:
        try:
            self.sinks[sink_id].deliver(item.event)
        except DeliveryError as exc:
            log.info("event %s (%s) not delivered to %s: %s", item.event.id, item.event.type, self.label(sink_id), exc)
            return str(exc)
        except Exception as exc:  # a sink's own bug must not stop the pass
            log.exception("event %s: delivery to %s failed unexpectedly", item.event.id, self.label(sink_id))
            return type(exc).__name__
        return None

    def _settle(self, item: PendingEvent, failed: list[tuple[str, str]], report: DeliveryReport) -> DeliveryReport:
        if not failed:
            self.outbox.delivered(item)
            return DeliveryReport(report.delivered + 1, report.retrying, report.dead_lettered)
        owed = [sink_id for sink_id, _ in failed]
        error = "; ".join(f"{self.label(sink_id)}: {reason}" for sink_id, reason in failed)
        now = self._clock()
        wait = min(MAX_BACKOFF, 2.0**item.attempts)
        due = now + timedelta(seconds=wait)
        if due > item.created + self.horizon:
            log.warning(
                "event %s (%s) dead-lettered after %d attempts", item.event.id, item.event.type, item.attempts + 1
            )
            self.outbox.dead_letter(item, owed, error)
            return DeliveryReport(report.delivered, report.retrying, report.dead_lettered + 1)
        self.outbox.reschedule(item, owed, due, error)
        return DeliveryReport(report.delivered, report.retrying + 1, report.dead_lettered)

    def next_in(self) -> float:
        """Seconds until the next event is due (at most :data:`IDLE`, at least 0.5)."""
        due = self.outbox.next_due()
        if due is None:
            return IDLE
        return max(0.5, min(IDLE, (due - self._clock()).total_seconds()))
