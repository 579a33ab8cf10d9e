"""Durable timers: a ``TimerFired`` message that becomes visible at the timer's ``FireAt``.

A timer is committed as a message for its instance with ``visible_at`` set to the due time, so
it survives a restart and fires once the devhost is back (late, as on Azure Storage). A timer
the orchestrator cancels (``isCanceled`` in a later episode, ``durable-functions.md`` B12) has
its message dropped so it neither fires nor keeps anything queued. Retry timers (B11) use the
same mechanism. (Timer *triggers*, NCRONTAB schedules, are in :mod:`tools.devhost.timers`.)
"""

from __future__ import annotations

import functools
from typing import Any

from . import history as h
from .history import EventType
from .store import MessageRow
from .taskhub import Runtime, Step, TaskHub


class DurableTimers:
    """Creates and cancels durable timers of orchestration instances."""

    def __init__(self, hub: TaskHub) -> None:
        """Work on ``hub``."""
        self.hub = hub

    def create(self, runtime: Runtime, task_id: int, fire_at: str, step: Step) -> MessageRow:
        """Queue the ``TimerFired`` event of timer ``task_id``, visible at ``fire_at``."""
        due = h.parse_iso(fire_at)
        fired = h.event(EventType.TIMER_FIRED, due, TimerId=task_id, FireAt=fire_at)
        payload = {"type": "event", "exec": runtime.row.execution_id, "event": fired}
        return self.hub.message(step, runtime.row.instance_id, payload, due.timestamp())

    def cancel_obsolete(self, runtime: Runtime, actions: list[dict[str, Any]], step: Step) -> None:
        """Drop the messages of timers the replay now reports as cancelled."""
        timers: dict[str, Any] = runtime.state["timers"]
        for key, entry in list(timers.items()):
            position = int(key)
            if position < len(actions) and actions[position].get("isCanceled"):
                del timers[key]
                message_id = int(entry["msg"])
                step.batch.drop_messages.append(message_id)
                step.after.append(functools.partial(self.hub.drop_message, runtime.row.instance_id, message_id))

    @staticmethod
    def fired(runtime: Runtime, timer_id: Any) -> None:
        """Forget the bookkeeping of a timer that has fired."""
        timers: dict[str, Any] = runtime.state["timers"]
        for position, timer in list(timers.items()):
            if timer["task"] == timer_id:
                del timers[position]
