"""Scheduling: turning an orchestrator's new actions into history events and work.

Each new action gets the SDK's next task id (``durable-functions.md`` B5) and its scheduling
event: ``TaskScheduled`` plus an activity work item, ``SubOrchestrationInstanceCreated`` plus a
child instance, ``TimerCreated`` plus a durable timer, ``EventSent`` plus an entity operation.
Retries (actions 1 and 3) are the host's job (B11): after a failed attempt a retry timer is
created, and when it fires the next attempt is scheduled, until the attempts run out.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from . import history as h
from .discovery import AppSpec
from .durable_timers import DurableTimers
from .history import Event, EventType
from .lifecycle import Lifecycle, validate_instance_id
from .taskhub import ACTIVE, Runtime, Step, TaskHub


class Scheduler:
    """Schedules the actions of orchestration episodes."""

    def __init__(self, spec: AppSpec, hub: TaskHub, lifecycle: Lifecycle, timers: DurableTimers) -> None:
        """Schedule against the functions of ``spec`` in ``hub``."""
        self.spec = spec
        self.hub = hub
        self.lifecycle = lifecycle
        self.timers = timers

    def schedule(
        self,
        runtime: Runtime,
        action: dict[str, Any],
        *,
        position: int,
        now: datetime,
        events: list[Event],
        step: Step,
    ) -> str | None:
        """Turn one new action into history events and work; returns a fatal error, if any."""
        kind = int(action.get("actionType", -1))
        st = runtime.state
        if kind == 6:
            return None
        task_id = int(st["seq"])
        st["seq"] = task_id + 1
        if kind == 4:
            return None
        if kind in (0, 1):
            name = str(action.get("functionName"))
            if name not in self.spec.activities:
                known = ", ".join(sorted(self.spec.activities)) or "none"
                return (
                    f"The function '{name}' doesn't exist, is disabled, or is not an activity function. "
                    f"Known activity functions: {known}."
                )
            input_text = action.get("input")
            events.append(h.event(EventType.TASK_SCHEDULED, now, task_id, Name=name, Version="", Input=input_text))
            self.activity(runtime, task_id, name, input_text, step)
            if kind == 1:
                self._track_retry(st, task_id, position, action, "activity")
            return None
        if kind in (2, 3):
            name = str(action.get("functionName"))
            if name not in self.spec.orchestrators:
                return f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function."
            child = action.get("instanceId") or f"{runtime.row.instance_id}:{task_id}"
            self.sub_orchestration(
                runtime,
                task_id=task_id,
                name=name,
                child_id=str(child),
                action=action,
                now=now,
                events=events,
                step=step,
            )
            if kind == 3:
                self._track_retry(st, task_id, position, action, "sub-orchestration")
            return None
        if kind == 5:
            fire_at = str(action.get("fireAt"))
            events.append(h.event(EventType.TIMER_CREATED, now, task_id, FireAt=fire_at))
            if not action.get("isCanceled"):
                message = self.timers.create(runtime, task_id, fire_at, step)
                st["timers"][str(position)] = {"task": task_id, "msg": message.id}
            return None
        if kind in (7, 9):
            signal = kind == 9
            self._entity_operation(runtime, action, signal=signal, task_id=task_id, now=now, events=events, step=step)
            return None
        if kind == 8:
            return "call_http is not supported by the devhost: make HTTP calls inside an activity."
        return f"Unsupported orchestrator action type {kind}."

    def _entity_operation(
        self,
        runtime: Runtime,
        action: dict[str, Any],
        *,
        signal: bool,
        task_id: int,
        now: datetime,
        events: list[Event],
        step: Step,
    ) -> None:
        target = str(action.get("instanceId"))
        operation = str(action.get("operation"))
        request_id = str(uuid.uuid4())
        sent = {"id": request_id, "op": operation, "signal": signal}
        events.append(h.event(EventType.EVENT_SENT, now, task_id, InstanceId=target, Name="op", Input=json.dumps(sent)))
        caller = None if signal else {"instance": runtime.row.instance_id, "exec": runtime.row.execution_id}
        payload = {"op": operation, "input": action.get("input"), "signal": signal, "caller": caller, "rid": request_id}
        self.hub.work(step, "entity", target, payload)

    def _track_retry(self, st: dict[str, Any], task_id: int, position: int, action: dict[str, Any], kind: str) -> None:
        options = action.get("retryOptions") or {}
        key = str(position)
        st["retries"][key] = {
            "kind": kind,
            "max": int(options.get("maxNumberOfAttempts", 1)),
            "interval": int(options.get("firstRetryIntervalInMilliseconds", 1000)),
            "attempt": 1,
            "action": action,
        }
        st["tasks"][str(task_id)] = {"retry": key}

    def activity(self, runtime: Runtime, task_id: int, name: str, input_text: Any, step: Step) -> None:
        """Queue an activity invocation for task ``task_id``."""
        row = runtime.row
        self.hub.work(
            step,
            "activity",
            row.instance_id,
            {"exec": row.execution_id, "task": task_id, "name": name, "input": input_text},
        )

    def sub_orchestration(
        self,
        runtime: Runtime,
        *,
        task_id: int,
        name: str,
        child_id: str,
        action: dict[str, Any],
        now: datetime,
        events: list[Event],
        step: Step,
    ) -> None:
        """Record ``SubOrchestrationInstanceCreated`` and create the child (or fail the task)."""
        row = runtime.row
        input_text = action.get("input")
        version = str(action.get("version") or "")
        events.append(
            h.event(
                EventType.SUB_ORCHESTRATION_INSTANCE_CREATED,
                now,
                task_id,
                Name=name,
                Version=version,
                InstanceId=child_id,
                Input=input_text,
            )
        )
        problem = validate_instance_id(child_id)
        existing = self.hub.runtime(child_id) if problem is None else None
        if problem is None and existing is not None and existing.row.status in ACTIVE:
            problem = f"An orchestration with instance ID '{child_id}' already exists and is {existing.row.status}."
        if problem is not None:
            failed = h.event(
                EventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
                now,
                TaskScheduledId=task_id,
                **h.task_failure_fields(problem, "", "InvalidOperationException"),
            )
            self.hub.message(step, row.instance_id, {"type": "event", "exec": row.execution_id, "event": failed})
            return
        parent = {"instance": row.instance_id, "exec": row.execution_id, "task": task_id, "name": row.name}
        self.lifecycle.create(
            step,
            name=name,
            instance_id=child_id,
            input_text=input_text,
            version=version,
            now=now,
            parent=parent,
        )

    def host_driven(self, runtime: Runtime, event: Event, now: datetime, step: Step) -> list[Event]:
        """Retries (B11): a retry timer after a failed attempt, a new attempt when it fires."""
        st = runtime.state
        kind = event.get("EventType")
        extra: list[Event] = []
        if kind in (EventType.TASK_FAILED, EventType.SUB_ORCHESTRATION_INSTANCE_FAILED):
            entry = st["tasks"].pop(str(event.get("TaskScheduledId")), None)
            if entry and "retry" in entry:
                retry = st["retries"][entry["retry"]]
                timer_id = int(st["seq"])
                st["seq"] = timer_id + 1
                fire_at = h.iso(now + timedelta(milliseconds=retry["interval"]))
                extra.append(h.event(EventType.TIMER_CREATED, now, timer_id, FireAt=fire_at))
                self.timers.create(runtime, timer_id, fire_at, step)
                st["tasks"][str(timer_id)] = {"retry_timer": entry["retry"]}
        elif kind in (EventType.TASK_COMPLETED, EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED):
            entry = st["tasks"].pop(str(event.get("TaskScheduledId")), None)
            if entry and "retry" in entry:
                st["retries"].pop(entry["retry"], None)
        elif kind == EventType.TIMER_FIRED:
            fired_id = event.get("TimerId")
            entry = st["tasks"].pop(str(fired_id), None)
            if entry and "retry_timer" in entry:
                self._next_attempt(runtime, entry["retry_timer"], now, extra, step)
            else:
                self.timers.fired(runtime, fired_id)
        return extra

    def _next_attempt(self, runtime: Runtime, key: str, now: datetime, extra: list[Event], step: Step) -> None:
        st = runtime.state
        retry = st["retries"][key]
        if retry["attempt"] >= retry["max"]:
            st["retries"].pop(key, None)
            return
        retry["attempt"] += 1
        attempt_id = int(st["seq"])
        st["seq"] = attempt_id + 1
        action = retry["action"]
        name = str(action.get("functionName"))
        if retry["kind"] == "activity":
            input_text = action.get("input")
            extra.append(h.event(EventType.TASK_SCHEDULED, now, attempt_id, Name=name, Version="", Input=input_text))
            self.activity(runtime, attempt_id, name, input_text, step)
        else:
            child = action.get("instanceId") or f"{runtime.row.instance_id}:{attempt_id}"
            self.sub_orchestration(
                runtime,
                task_id=attempt_id,
                name=name,
                child_id=str(child),
                action=action,
                now=now,
                events=extra,
                step=step,
            )
        st["tasks"][str(attempt_id)] = {"retry": key}
