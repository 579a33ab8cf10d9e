"""Durable Task history events as the Durable extension serialises them.

Events are plain dicts with PascalCase keys and an integer ``EventType`` (the DTFx
``[DataContract]`` shape the Python SDK reads). Timestamps are UTC ISO-8601 with ``Z``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

Event = dict[str, Any]


class EventType(IntEnum):
    """DTFx ``EventType`` numbers."""

    EXECUTION_STARTED = 0
    EXECUTION_COMPLETED = 1
    EXECUTION_FAILED = 2
    EXECUTION_TERMINATED = 3
    TASK_SCHEDULED = 4
    TASK_COMPLETED = 5
    TASK_FAILED = 6
    SUB_ORCHESTRATION_INSTANCE_CREATED = 7
    SUB_ORCHESTRATION_INSTANCE_COMPLETED = 8
    SUB_ORCHESTRATION_INSTANCE_FAILED = 9
    TIMER_CREATED = 10
    TIMER_FIRED = 11
    ORCHESTRATOR_STARTED = 12
    ORCHESTRATOR_COMPLETED = 13
    EVENT_SENT = 14
    EVENT_RAISED = 15
    CONTINUE_AS_NEW = 16
    GENERIC_EVENT = 17
    HISTORY_STATE = 18
    EXECUTION_SUSPENDED = 19
    EXECUTION_RESUMED = 20


class OrchestrationStatus(IntEnum):
    """DTFx ``OrchestrationStatus`` numbers (used in ``ExecutionCompleted``)."""

    RUNNING = 0
    COMPLETED = 1
    CONTINUED_AS_NEW = 2
    FAILED = 3
    CANCELED = 4
    TERMINATED = 5
    PENDING = 6
    SUSPENDED = 7


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """Format a datetime as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_seconds(moment: datetime) -> str:
    """Format a datetime as ``YYYY-MM-DDTHH:MM:SSZ`` (the status API's time format)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    """Parse an ISO-8601 timestamp; naive values are taken as UTC."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    head, dot, tail = value.partition(".")
    if dot:
        digits = len(tail) - len(tail.lstrip("0123456789"))
        frac, rest = tail[:digits], tail[digits:]
        value = f"{head}.{(frac + '000000')[:6]}{rest}"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def event(kind: EventType, at: datetime, event_id: int = -1, **fields: Any) -> Event:
    """Build one history event."""
    return {"EventType": int(kind), "EventId": event_id, "IsPlayed": False, "Timestamp": iso(at), **fields}


def orchestrator_started(at: datetime) -> Event:
    """``OrchestratorStarted``: opens an episode and sets ``current_utc_datetime``."""
    return event(EventType.ORCHESTRATOR_STARTED, at)


def orchestrator_completed(at: datetime) -> Event:
    """``OrchestratorCompleted``: closes an episode."""
    return event(EventType.ORCHESTRATOR_COMPLETED, at)


def execution_started(
    at: datetime,
    *,
    name: str,
    version: str,
    input_text: str | None,
    instance_id: str,
    execution_id: str,
    parent: dict[str, Any] | None,
) -> Event:
    """``ExecutionStarted`` (``Version`` is always present: the SDK requires the key)."""
    return event(
        EventType.EXECUTION_STARTED,
        at,
        Name=name,
        Version=version,
        Input=input_text,
        OrchestrationInstance={"InstanceId": instance_id, "ExecutionId": execution_id},
        ParentInstance=parent,
        Tags=None,
        Generation=0,
    )


def task_failure_fields(reason: str, details: str, error_type: str) -> dict[str, Any]:
    """The ``Reason``/``Details``/``FailureDetails`` fields of a failure event."""
    return {
        "Reason": reason,
        "Details": details,
        "FailureDetails": {
            "ErrorType": error_type,
            "ErrorMessage": reason,
            "StackTrace": None,
            "InnerFailure": None,
            "IsNonRetriable": False,
        },
    }
