"""The Durable engine: runs orchestration episodes, activities, entities and durable timers.

It stands in for the Durable extension + DTFx with the out-of-process protocol the Python SDK
speaks (see ``durable-functions.md`` Part B): an episode builds the orchestration context JSON
(full history, ``IsPlayed`` on past events, schema V3), calls the registered orchestrator
handle, checks the cumulative action list against what was recorded (non-determinism), and
turns the actions past the recorded position into history events and work. Exactly one new
event is delivered per episode, so task ids (including retry timers and re-scheduled
attempts) are unambiguous. Every step is committed to the store before it is acted on.

Everything here runs on the event loop thread; only sync activity bodies run in a pool.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import azure.functions as func
from azure.functions._durable_functions import df_dumps, df_loads

from . import history as h
from .discovery import AppSpec
from .history import Event, EventType
from .invoke import Invoker, log_invocation
from .store import Batch, EntityRow, InstanceRow, MessageRow, Store, WorkRow

log = logging.getLogger("devhost.engine")

OOP_LABEL = "\n\n$OutOfProcData$:"
ACTIVE = frozenset({"Pending", "Running", "ContinuedAsNew", "Suspended"})
TERMINAL = frozenset({"Completed", "Failed", "Terminated", "Canceled"})
LONG_TIMER_INTERVAL = "3.00:00:00"
MAX_SHORT_TIMER = "6.00:00:00"

_ACTION_KIND = {
    0: "activity",
    1: "activity",
    2: "sub-orchestration",
    3: "sub-orchestration",
    4: "continue-as-new",
    5: "timer",
    6: "external event wait",
    7: "entity call",
    8: "HTTP call",
    9: "entity signal",
}


def validate_instance_id(instance_id: str) -> str | None:
    """The extension's instance-id rules; returns the error message or ``None``."""
    if not instance_id:
        return "Instance ID must not be empty."
    if len(instance_id) > 256:
        return f"Instance ID '{instance_id[:40]}...' exceeds 256 characters."
    if instance_id.startswith("@"):
        return f"Instance ID '{instance_id}' must not start with '@' (reserved for entities)."
    for char in instance_id:
        if char in "/\\#?" or ord(char) < 32 or 127 <= ord(char) < 160:
            return f"Instance ID '{instance_id}' contains the invalid character {char!r}."
    return None


def flatten(actions: Any) -> Iterator[dict[str, Any]]:
    """Depth-first flattening of the (possibly nested compound) action list."""
    for item in actions or []:
        if isinstance(item, list):
            yield from flatten(item)
        elif isinstance(item, dict):
            if item.get("actionType") in (11, 12):
                yield from flatten(item.get("compoundActions"))
            else:
                yield item


def signature(action: dict[str, Any]) -> str:
    """What DTFx compares on replay: the kind of action and its target name."""
    kind = int(action.get("actionType", -1))
    target = {
        0: action.get("functionName"),
        1: action.get("functionName"),
        2: action.get("functionName"),
        3: action.get("functionName"),
        6: action.get("externalEventName"),
        7: f"{action.get('instanceId')}:{action.get('operation')}",
        9: f"{action.get('instanceId')}:{action.get('operation')}",
    }.get(kind)
    label = _ACTION_KIND.get(kind, f"action {kind}")
    return f"{label} '{target}'" if target is not None else label


def _new_state() -> dict[str, Any]:
    return {"pos": 0, "seq": 0, "sigs": [], "tasks": {}, "retries": {}, "timers": {}}


def _json_or_none(text: str | None) -> Any:
    return None if text is None else json.loads(text)


@dataclass
class Runtime:
    """A cached active instance: its row, played history (JSON text) and bookkeeping."""

    row: InstanceRow
    history: list[str]
    state: dict[str, Any]


@dataclass
class Step:
    """Changes of one engine step: what to commit, then what to do in memory."""

    batch: Batch = field(default_factory=Batch)
    after: list[Callable[[], None]] = field(default_factory=list)


class Engine:
    """Durable task hub engine for one app and one store."""

    def __init__(
        self,
        spec: AppSpec,
        store: Store,
        invoker: Invoker,
        activity_executor: Executor,
        max_activities: int,
    ) -> None:
        """Create the engine; call :meth:`start` on the event loop."""
        self.spec = spec
        self.store = store
        self.invoker = invoker
        self.activity_executor = activity_executor
        self.max_activities = max_activities
        self.cache: dict[str, Runtime] = {}
        self.inbox: dict[str, list[MessageRow]] = {}
        self.ready: deque[str] = deque()
        self.ready_set: set[str] = set()
        self.pending_work: dict[int, WorkRow] = {}
        self.entity_queues: dict[str, list[WorkRow]] = {}
        self.timer_handles: dict[int, asyncio.TimerHandle] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self._wakeup: asyncio.Event | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.episodes = 0

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Load queued messages and unfinished work from the store and start dispatching."""
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        self._semaphore = asyncio.Semaphore(self.max_activities)
        for message in self.store.messages():
            self._push_message(message)
        for work in self.store.work():
            self._push_work(work)
        self._dispatcher = self._loop.create_task(self._dispatch())

    async def stop(self) -> None:
        """Stop dispatching; running activities are abandoned (they re-run after a restart)."""
        for handle in self.timer_handles.values():
            handle.cancel()
        self.timer_handles.clear()
        running = [t for t in (self._dispatcher, *self.tasks) if t is not None]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    # -- in-memory queues ----------------------------------------------------------------------

    def _commit(self, step: Step) -> None:
        try:
            self.store.commit(step.batch)
        except Exception:
            self.cache.clear()
            raise
        for action in step.after:
            action()

    def _mark_ready(self, instance_id: str) -> None:
        if instance_id not in self.ready_set:
            self.ready_set.add(instance_id)
            self.ready.append(instance_id)
            if self._wakeup is not None:
                self._wakeup.set()

    def _push_message(self, message: MessageRow) -> None:
        self.inbox.setdefault(message.instance_id, []).append(message)
        delay = message.visible_at - time.time()
        if delay > 0 and self._loop is not None:
            self.timer_handles[message.id] = self._loop.call_later(
                delay, self._timer_due, message.id, message.instance_id
            )
        else:
            self._mark_ready(message.instance_id)

    def _timer_due(self, message_id: int, instance_id: str) -> None:
        self.timer_handles.pop(message_id, None)
        self._mark_ready(instance_id)

    def _drop_messages(self, instance_id: str, keep_after: int | None = None) -> None:
        for message in self.inbox.pop(instance_id, []):
            if keep_after is not None and message.id > keep_after:
                self.inbox.setdefault(instance_id, []).append(message)
                continue
            handle = self.timer_handles.pop(message.id, None)
            if handle is not None:
                handle.cancel()

    def _drop_message(self, instance_id: str, message_id: int) -> None:
        queue = self.inbox.get(instance_id, [])
        self.inbox[instance_id] = [m for m in queue if m.id != message_id]
        handle = self.timer_handles.pop(message_id, None)
        if handle is not None:
            handle.cancel()

    def _drop_work(self, instance_id: str) -> None:
        for work_id in [w.id for w in self.pending_work.values() if w.kind == "activity" and w.target == instance_id]:
            del self.pending_work[work_id]

    def _push_work(self, work: WorkRow) -> None:
        if work.kind == "activity":
            self.pending_work[work.id] = work
            self._spawn(self._run_activity(work))
        else:
            queue = self.entity_queues.setdefault(work.target, [])
            queue.append(work)
            if len(queue) == 1 and self._loop is not None:
                self._loop.call_soon(self._run_entity, work.target)

    def _spawn(self, coroutine: Any) -> None:
        if self._loop is None:
            coroutine.close()
            return
        task = self._loop.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _message(self, step: Step, instance_id: str, payload: dict[str, Any], visible_at: float = 0.0) -> MessageRow:
        message = MessageRow(self.store.new_message_id(), instance_id, visible_at, payload)
        step.batch.messages.append(message)
        step.after.append(lambda: self._push_message(message))
        return message

    def _work(self, step: Step, kind: str, target: str, payload: dict[str, Any]) -> WorkRow:
        work = WorkRow(self.store.new_work_id(), kind, target, payload)
        step.batch.work.append(work)
        step.after.append(lambda: self._push_work(work))
        return work

    # -- instances -----------------------------------------------------------------------------

    def runtime(self, instance_id: str) -> Runtime | None:
        """The cached runtime of an instance (loaded from the store if needed)."""
        cached = self.cache.get(instance_id)
        if cached is not None:
            return cached
        row = self.store.instance(instance_id)
        if row is None:
            return None
        runtime = Runtime(row, self.store.history(instance_id), json.loads(row.state))
        if row.status in ACTIVE:
            self.cache[instance_id] = runtime
        return runtime

    def _save(self, step: Step, runtime: Runtime, now: datetime) -> None:
        runtime.row.updated = h.iso(now)
        runtime.row.state = json.dumps(runtime.state)
        step.batch.instances.append(runtime.row)

    def _append(self, step: Step, runtime: Runtime, events: list[Event]) -> None:
        base = len(runtime.history)
        texts = []
        for event in events:
            event["IsPlayed"] = True
            texts.append(json.dumps(event))
        iid = runtime.row.instance_id
        step.batch.history.extend((iid, base + n, text) for n, text in enumerate(texts))
        runtime.history.extend(texts)

    def create_instance(
        self,
        step: Step,
        *,
        name: str,
        instance_id: str,
        input_text: str | None,
        version: str,
        now: datetime,
        parent: dict[str, Any] | None = None,
    ) -> InstanceRow:
        """Create (or overwrite a finished) instance and queue its ``ExecutionStarted``."""
        execution_id = uuid.uuid4().hex
        row = InstanceRow(
            instance_id=instance_id,
            name=name,
            version=version,
            execution_id=execution_id,
            status="Pending",
            input=input_text,
            output=None,
            custom_status=None,
            created=h.iso(now),
            updated=h.iso(now),
            parent=json.dumps(parent) if parent else None,
            state=json.dumps(_new_state()),
        )
        batch = step.batch
        batch.reset_history.append(instance_id)
        batch.drop_messages_for.append(instance_id)
        batch.drop_work_for.append(instance_id)
        batch.instances.append(row)
        parent_instance = None
        if parent:
            parent_instance = {
                "Name": parent["name"],
                "Version": "",
                "TaskScheduleId": parent["task"],
                "OrchestrationInstance": {"InstanceId": parent["instance"], "ExecutionId": parent["exec"]},
            }
        started = h.execution_started(
            now,
            name=name,
            version=version,
            input_text=input_text,
            instance_id=instance_id,
            execution_id=execution_id,
            parent=parent_instance,
        )

        def install() -> None:
            self._drop_messages(instance_id)
            self._drop_work(instance_id)
            self.cache[instance_id] = Runtime(row, [], _new_state())

        step.after.append(install)
        self._message(step, instance_id, {"type": "start", "exec": execution_id, "event": started})
        return row

    # -- dispatch ------------------------------------------------------------------------------

    async def _dispatch(self) -> None:
        assert self._wakeup is not None
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            count = 0
            while self.ready:
                instance_id = self.ready.popleft()
                self.ready_set.discard(instance_id)
                try:
                    self._process(instance_id)
                except Exception:
                    log.exception("engine error while processing instance '%s'", instance_id)
                count += 1
                if count % 8 == 0:
                    await asyncio.sleep(0)

    def _next_message(self, instance_id: str) -> MessageRow | None:
        now = time.time()
        for message in self.inbox.get(instance_id, []):
            if message.visible_at <= now:
                return message
        return None

    def _process(self, instance_id: str) -> None:
        message = self._next_message(instance_id)
        if message is None:
            return
        runtime = self.runtime(instance_id)
        step = Step()
        if runtime is None or runtime.row.status in TERMINAL:
            step.batch.drop_messages_for.append(instance_id)
            step.after.append(lambda: self._drop_messages(instance_id))
            self._commit(step)
            return
        if runtime.row.status == "Suspended":
            return
        step.batch.drop_messages.append(message.id)
        step.after.append(lambda: self._drop_message(instance_id, message.id))
        execution = message.payload.get("exec")
        if execution is not None and execution != runtime.row.execution_id:
            self._commit(step)
        else:
            self._episode(runtime, message, step)
        if self._next_message(instance_id) is not None:
            self._mark_ready(instance_id)

    # -- episodes ------------------------------------------------------------------------------

    def _context_json(self, runtime: Runtime, new_events: list[Event]) -> str:
        row = runtime.row
        parent = json.loads(row.parent)["instance"] if row.parent else None
        history = ",".join([*runtime.history, *(json.dumps(e) for e in new_events)])
        fields = {
            "input": row.input,
            "instanceId": row.instance_id,
            "isReplaying": bool(runtime.history),
            "parentInstanceId": parent,
            "upperSchemaVersion": 1,
            "upperSchemaVersionNew": 2,
            "longRunningTimerIntervalDuration": LONG_TIMER_INTERVAL,
            "maximumShortTimerDuration": MAX_SHORT_TIMER,
            "defaultHttpAsyncRequestSleepTimeMillseconds": 30000,
        }
        return '{"history":[' + history + "]," + json.dumps(fields)[1:]

    def _invoke_orchestrator(self, runtime: Runtime, new_events: list[Event]) -> tuple[dict[str, Any], str | None]:
        info = self.spec.orchestrators.get(runtime.row.name)
        if info is None:
            known = ", ".join(sorted(self.spec.orchestrators)) or "none"
            return {}, (
                f"The function '{runtime.row.name}' doesn't exist, is disabled, or is not an orchestrator "
                f"function. Known orchestrator functions: {known}."
            )
        context = self._context_json(runtime, new_events)
        started = time.perf_counter()
        invocation_id = str(uuid.uuid4())
        self.episodes += 1
        try:
            output = info.handler(func.OrchestrationContext(context))
            state = json.loads(output)
        except Exception as exc:
            text = str(exc)
            head, label, tail = text.partition(OOP_LABEL)
            state = {}
            if label:
                try:
                    state = json.loads(tail)
                except ValueError:
                    state = {}
            error = (
                str(state.get("error") or head or f"{type(exc).__name__}: {exc}")
                if label
                else (f"{type(exc).__name__}: {exc}")
            )
            log_invocation(info.name, invocation_id, started, False, runtime.row.instance_id)
            return state, error
        log_invocation(info.name, invocation_id, started, True, runtime.row.instance_id)
        return state, None

    def _episode(self, runtime: Runtime, message: MessageRow, step: Step) -> None:
        now = h.utc_now()
        row = runtime.row
        payload = message.payload
        event: Event = dict(payload["event"])
        new_events: list[Event] = [h.orchestrator_started(now), event]
        if payload.get("type") == "start":
            row.status = "Running"
        host_events = self._host_driven(runtime, event, now, step)
        state, error = self._invoke_orchestrator(runtime, new_events)
        actions = list(flatten(state.get("actions")))
        st = runtime.state
        if error is None:
            error = self._check_determinism(runtime, actions)
        if error is None:
            self._cancel_timers(runtime, actions, step)
        events = new_events + host_events
        if error is None:
            for position in range(st["pos"], len(actions)):
                error = self._schedule(runtime, actions[position], position=position, now=now, events=events, step=step)
                st["sigs"].append(signature(actions[position]))
                if error is not None:
                    break
            st["pos"] = max(st["pos"], len(actions))
        elif state.get("actions") is not None and not error.startswith("Non-Deterministic"):
            # An orchestrator failure still carries out the actions it produced (B14).
            for position in range(st["pos"], len(actions)):
                self._schedule(runtime, actions[position], position=position, now=now, events=events, step=step)
                st["sigs"].append(signature(actions[position]))
            st["pos"] = max(st["pos"], len(actions))
        if "customStatus" in state:
            row.custom_status = json.dumps(state["customStatus"])
        events.append(h.orchestrator_completed(now))
        if error is not None:
            self._append(step, runtime, events)
            self._finish(runtime, "Failed", f"Orchestrator function '{row.name}' failed: {error}", now, step)
        elif state.get("isDone") and actions and actions[-1].get("actionType") == 4:
            self._continue_as_new(runtime, actions[-1].get("input"), now, step)
        elif state.get("isDone"):
            self._append(step, runtime, events)
            self._finish(runtime, "Completed", state.get("output"), now, step)
        else:
            self._append(step, runtime, events)
            self._save(step, runtime, now)
        self._commit(step)

    def _check_determinism(self, runtime: Runtime, actions: list[dict[str, Any]]) -> str | None:
        recorded: list[str] = runtime.state["sigs"]
        for position, previous in enumerate(recorded):
            current = signature(actions[position]) if position < len(actions) else None
            if current != previous:
                now_text = f"scheduled {current}" if current else "did not schedule anything"
                return (
                    "Non-Deterministic workflow detected: a previous execution of this orchestration "
                    f"scheduled {previous} at position {position}, but the current replay execution "
                    f"{now_text} there. Was a change made to the orchestrator code after this instance "
                    "had already started running?"
                )
        return None

    def _cancel_timers(self, runtime: Runtime, actions: list[dict[str, Any]], step: Step) -> None:
        timers: dict[str, Any] = runtime.state["timers"]
        for key, entry in list(timers.items()):
            position = int(key)
            if position < len(actions) and actions[position].get("isCanceled"):
                del timers[key]
                message_id = int(entry["msg"])
                step.batch.drop_messages.append(message_id)
                step.after.append(functools.partial(self._drop_message, runtime.row.instance_id, message_id))

    # -- scheduling ----------------------------------------------------------------------------

    def _schedule(
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
            self._activity(runtime, task_id, name, input_text, step)
            if kind == 1:
                self._track_retry(st, task_id, position, action, "activity")
            return None
        if kind in (2, 3):
            name = str(action.get("functionName"))
            if name not in self.spec.orchestrators:
                return f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function."
            child = action.get("instanceId") or f"{runtime.row.instance_id}:{task_id}"
            self._sub_orchestration(
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
                message = self._timer(runtime, task_id, fire_at, step)
                st["timers"][str(position)] = {"task": task_id, "msg": message.id}
            return None
        if kind in (7, 9):
            target = str(action.get("instanceId"))
            operation = str(action.get("operation"))
            request_id = str(uuid.uuid4())
            sent = {"id": request_id, "op": operation, "signal": kind == 9}
            events.append(
                h.event(EventType.EVENT_SENT, now, task_id, InstanceId=target, Name="op", Input=json.dumps(sent))
            )
            caller = None if kind == 9 else {"instance": runtime.row.instance_id, "exec": runtime.row.execution_id}
            self._work(
                step,
                "entity",
                target,
                {
                    "op": operation,
                    "input": action.get("input"),
                    "signal": kind == 9,
                    "caller": caller,
                    "rid": request_id,
                },
            )
            return None
        if kind == 8:
            return "call_http is not supported by the devhost: make HTTP calls inside an activity."
        return f"Unsupported orchestrator action type {kind}."

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

    def _activity(self, runtime: Runtime, task_id: int, name: str, input_text: Any, step: Step) -> None:
        row = runtime.row
        self._work(
            step,
            "activity",
            row.instance_id,
            {"exec": row.execution_id, "task": task_id, "name": name, "input": input_text},
        )

    def _timer(self, runtime: Runtime, task_id: int, fire_at: str, step: Step) -> MessageRow:
        due = h.parse_iso(fire_at)
        fired = h.event(EventType.TIMER_FIRED, due, TimerId=task_id, FireAt=fire_at)
        payload = {"type": "event", "exec": runtime.row.execution_id, "event": fired}
        return self._message(step, runtime.row.instance_id, payload, due.timestamp())

    def _sub_orchestration(
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
        existing = self.runtime(child_id) if problem is None else None
        if problem is None and existing is not None and existing.row.status in ACTIVE:
            problem = f"An orchestration with instance ID '{child_id}' already exists and is {existing.row.status}."
        if problem is not None:
            failed = h.event(
                EventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
                now,
                TaskScheduledId=task_id,
                **h.task_failure_fields(problem, "", "InvalidOperationException"),
            )
            self._message(step, row.instance_id, {"type": "event", "exec": row.execution_id, "event": failed})
            return
        parent = {"instance": row.instance_id, "exec": row.execution_id, "task": task_id, "name": row.name}
        self.create_instance(
            step,
            name=name,
            instance_id=child_id,
            input_text=input_text,
            version=version,
            now=now,
            parent=parent,
        )

    def _host_driven(self, runtime: Runtime, event: Event, now: datetime, step: Step) -> list[Event]:
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
                self._timer(runtime, timer_id, fire_at, step)
                st["tasks"][str(timer_id)] = {"retry_timer": entry["retry"]}
        elif kind in (EventType.TASK_COMPLETED, EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED):
            entry = st["tasks"].pop(str(event.get("TaskScheduledId")), None)
            if entry and "retry" in entry:
                st["retries"].pop(entry["retry"], None)
        elif kind == EventType.TIMER_FIRED:
            fired_id = event.get("TimerId")
            entry = st["tasks"].pop(str(fired_id), None)
            if entry and "retry_timer" in entry:
                key = entry["retry_timer"]
                retry = st["retries"][key]
                if retry["attempt"] < retry["max"]:
                    retry["attempt"] += 1
                    attempt_id = int(st["seq"])
                    st["seq"] = attempt_id + 1
                    action = retry["action"]
                    if retry["kind"] == "activity":
                        name = str(action.get("functionName"))
                        extra.append(
                            h.event(
                                EventType.TASK_SCHEDULED,
                                now,
                                attempt_id,
                                Name=name,
                                Version="",
                                Input=action.get("input"),
                            )
                        )
                        self._activity(runtime, attempt_id, name, action.get("input"), step)
                    else:
                        child = action.get("instanceId") or f"{runtime.row.instance_id}:{attempt_id}"
                        self._sub_orchestration(
                            runtime,
                            task_id=attempt_id,
                            name=str(action.get("functionName")),
                            child_id=str(child),
                            action=action,
                            now=now,
                            events=extra,
                            step=step,
                        )
                    st["tasks"][str(attempt_id)] = {"retry": key}
                else:
                    st["retries"].pop(key, None)
            else:
                for position, timer in list(st["timers"].items()):
                    if timer["task"] == fired_id:
                        del st["timers"][position]
        return extra

    # -- endings -------------------------------------------------------------------------------

    def _finish(self, runtime: Runtime, status: str, output: Any, now: datetime, step: Step) -> None:
        row = runtime.row
        iid = row.instance_id
        code = {
            "Completed": h.OrchestrationStatus.COMPLETED,
            "Failed": h.OrchestrationStatus.FAILED,
            "Terminated": h.OrchestrationStatus.TERMINATED,
        }[status]
        try:
            output_text = json.dumps(output)
        except (TypeError, ValueError) as exc:
            status, code = "Failed", h.OrchestrationStatus.FAILED
            output_text = json.dumps(f"Orchestrator function '{row.name}' failed: {exc}")
        failure = None
        if status == "Failed":
            failure = {"ErrorType": "Exception", "ErrorMessage": str(output), "StackTrace": None}
        completed = h.event(
            EventType.EXECUTION_COMPLETED,
            now,
            OrchestrationStatus=int(code),
            Result=output_text,
            FailureDetails=failure,
        )
        self._append(step, runtime, [completed])
        row.status = status
        row.output = output_text
        self._save(step, runtime, now)
        step.batch.drop_messages_for.append(iid)
        step.batch.drop_work_for.append(iid)

        def forget() -> None:
            self._drop_messages(iid)
            self._drop_work(iid)
            self.cache.pop(iid, None)

        step.after.append(forget)
        if row.parent:
            parent = json.loads(row.parent)
            if status == "Completed":
                reply = h.event(
                    EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
                    now,
                    TaskScheduledId=parent["task"],
                    Result=output_text,
                )
            else:
                reason = output if isinstance(output, str) else output_text
                reply = h.event(
                    EventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
                    now,
                    TaskScheduledId=parent["task"],
                    **h.task_failure_fields(str(reason), f"Sub-orchestration '{iid}' {status.lower()}.", "Exception"),
                )
            self._message(step, parent["instance"], {"type": "event", "exec": parent["exec"], "event": reply})

    def _continue_as_new(self, runtime: Runtime, input_text: Any, now: datetime, step: Step) -> None:
        row = runtime.row
        iid = row.instance_id
        row.execution_id = uuid.uuid4().hex
        row.input = input_text
        row.status = "ContinuedAsNew"
        runtime.history = []
        runtime.state = _new_state()
        step.batch.reset_history.append(iid)
        step.batch.drop_messages_for.append(iid)
        step.batch.drop_work_for.append(iid)
        self._save(step, runtime, now)
        parent_instance = None
        if row.parent:
            parent = json.loads(row.parent)
            parent_instance = {
                "Name": parent["name"],
                "Version": "",
                "TaskScheduleId": parent["task"],
                "OrchestrationInstance": {"InstanceId": parent["instance"], "ExecutionId": parent["exec"]},
            }
        started = h.execution_started(
            now,
            name=row.name,
            version=row.version,
            input_text=input_text,
            instance_id=iid,
            execution_id=row.execution_id,
            parent=parent_instance,
        )

        def reset() -> None:
            self._drop_messages(iid)
            self._drop_work(iid)

        step.after.append(reset)
        self._message(step, iid, {"type": "start", "exec": row.execution_id, "event": started})

    # -- activities ----------------------------------------------------------------------------

    async def _run_activity(self, work: WorkRow) -> None:
        assert self._semaphore is not None
        async with self._semaphore:
            if work.id not in self.pending_work:
                return
            payload = work.payload
            name = str(payload["name"])
            info = self.spec.activities.get(name)
            ok = False
            result_text = ""
            failure: tuple[str, str, str] = ("", "", "")
            try:
                if info is None:
                    raise LookupError(f"The function '{name}' doesn't exist or is not an activity function.")
                input_text = payload.get("input")
                try:
                    value = df_loads(input_text) if input_text is not None else None
                except ValueError:
                    value = input_text
                result = await self.invoker.call(info, value, executor=self.activity_executor, instance_id=work.target)
                result_text = df_dumps(result)
                ok = True
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failure = (
                    f"{type(exc).__name__}: {exc}",
                    f"{type(exc).__module__}.{type(exc).__qualname__} raised by activity '{name}'",
                    type(exc).__name__,
                )
        if work.id not in self.pending_work:
            return
        now = h.utc_now()
        if ok:
            event = h.event(EventType.TASK_COMPLETED, now, TaskScheduledId=payload["task"], Result=result_text)
        else:
            event = h.event(
                EventType.TASK_FAILED, now, TaskScheduledId=payload["task"], **h.task_failure_fields(*failure)
            )
        step = Step()
        step.batch.drop_work.append(work.id)
        step.after.append(functools.partial(self._forget_work, work.id))
        self._message(step, work.target, {"type": "event", "exec": payload["exec"], "event": event})
        self._commit(step)

    def _forget_work(self, work_id: int) -> None:
        self.pending_work.pop(work_id, None)

    # -- entities ------------------------------------------------------------------------------

    def _run_entity(self, entity_id: str) -> None:
        operations = self.entity_queues.pop(entity_id, [])
        if not operations:
            return
        try:
            self._entity_batch(entity_id, operations)
        except Exception:
            log.exception("engine error while running entity '%s'", entity_id)

    def _entity_batch(self, entity_id: str, operations: list[WorkRow]) -> None:
        _, name, key = [*entity_id.split("@", 2), "", ""][:3]
        info = self.spec.entities.get(name.lower())
        stored = self.store.entity(entity_id)
        now = h.utc_now()
        results: list[dict[str, Any]]
        exists = stored is not None
        state_text = stored.state if stored else None
        if info is None:
            message = json.dumps(f"The function '{name}' doesn't exist or is not an entity function.")
            results = [{"isError": True, "result": message} for _ in operations]
        else:
            context = {
                "self": {"name": name, "key": key},
                "exists": exists,
                "state": state_text,
                "batch": [
                    {
                        "name": w.payload["op"],
                        # The SDK's get_input() runs json.loads and then df_loads: the operation
                        # input travels as a JSON string holding the JSON text.
                        "input": json.dumps(w.payload.get("input")),
                        "isSignal": bool(w.payload["signal"]),
                    }
                    for w in operations
                ],
            }
            started = time.perf_counter()
            try:
                output = json.loads(info.handler(func.EntityContext(json.dumps(context))))
                results = list(output.get("results") or [])
                exists = bool(output.get("entityExists"))
                state_text = output.get("entityState")
                log_invocation(info.name, str(uuid.uuid4()), started, True, entity_id)
            except Exception as exc:
                log_invocation(info.name, str(uuid.uuid4()), started, False, entity_id)
                log.exception("Entity '%s' failed", entity_id)
                results = [{"isError": True, "result": json.dumps(str(exc))} for _ in operations]
        step = Step()
        if exists:
            step.batch.entities.append(EntityRow(entity_id, name.lower(), key, state_text, h.iso(now)))
        else:
            step.batch.drop_entities.append(entity_id)
        for work, result in zip(operations, results + [{}] * (len(operations) - len(results)), strict=True):
            step.batch.drop_work.append(work.id)
            caller = work.payload.get("caller")
            if caller:
                response: dict[str, Any] = {"result": result.get("result") or "null"}
                if result.get("isError"):
                    response["exceptionType"] = "Exception"
                raised = h.event(EventType.EVENT_RAISED, now, Name=work.payload["rid"], Input=json.dumps(response))
                self._message(step, caller["instance"], {"type": "event", "exec": caller["exec"], "event": raised})
        self._commit(step)

    # -- management operations -----------------------------------------------------------------

    def start_instance(
        self, name: str, instance_id: str | None, input_text: str | None, version: str
    ) -> tuple[int, str]:
        """Start an orchestration; returns (HTTP status, instance id or error message)."""
        if name not in self.spec.orchestrators:
            return (
                400,
                f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function.",
            )
        iid = instance_id if instance_id is not None else uuid.uuid4().hex
        problem = validate_instance_id(iid)
        if problem is not None:
            return 400, problem
        existing = self.runtime(iid)
        if existing is not None and existing.row.status in ACTIVE:
            return 409, f"An Orchestration instance with the status {existing.row.status} already exists."
        step = Step()
        self.create_instance(step, name=name, instance_id=iid, input_text=input_text, version=version, now=h.utc_now())
        self._commit(step)
        return 202, iid

    def _live(self, instance_id: str) -> Runtime | int:
        """The runtime of a non-terminal instance, or the management API's status: 404 unknown, 410 finished."""
        runtime = self.runtime(instance_id)
        if runtime is None:
            return 404
        return 410 if runtime.row.status in TERMINAL else runtime

    def raise_event(self, instance_id: str, name: str, input_text: str) -> int:
        """Queue an external event; returns the HTTP status."""
        runtime = self._live(instance_id)
        if isinstance(runtime, int):
            return runtime
        step = Step()
        raised = h.event(EventType.EVENT_RAISED, h.utc_now(), Name=name, Input=input_text)
        self._message(step, instance_id, {"type": "event", "exec": None, "event": raised})
        self._commit(step)
        return 202

    def terminate(self, instance_id: str, reason: str) -> int:
        """Terminate a running instance; returns the HTTP status."""
        runtime = self._live(instance_id)
        if isinstance(runtime, int):
            return runtime
        now = h.utc_now()
        step = Step()
        terminated = h.event(EventType.EXECUTION_TERMINATED, now, Input=json.dumps(reason))
        self._append(step, runtime, [h.orchestrator_started(now), terminated])
        self._finish(runtime, "Terminated", reason, now, step)
        self._commit(step)
        return 202

    def suspend(self, instance_id: str, reason: str) -> int:
        """Suspend a running instance (its messages wait until it is resumed)."""
        runtime = self._live(instance_id)
        if isinstance(runtime, int):
            return runtime
        if runtime.row.status != "Suspended":
            now = h.utc_now()
            step = Step()
            self._append(step, runtime, [h.event(EventType.EXECUTION_SUSPENDED, now, Reason=reason)])
            runtime.row.status = "Suspended"
            self._save(step, runtime, now)
            self._commit(step)
        return 202

    def resume(self, instance_id: str, reason: str) -> int:
        """Resume a suspended instance."""
        runtime = self._live(instance_id)
        if isinstance(runtime, int):
            return runtime
        if runtime.row.status == "Suspended":
            now = h.utc_now()
            step = Step()
            self._append(step, runtime, [h.event(EventType.EXECUTION_RESUMED, now, Reason=reason)])
            runtime.row.status = "Running" if runtime.state["pos"] or len(runtime.history) > 1 else "Pending"
            self._save(step, runtime, now)
            step.after.append(lambda: self._mark_ready(instance_id))
            self._commit(step)
        return 202

    def purge(self, instance_ids: list[str]) -> int:
        """Delete instances and their history; returns how many existed."""
        step = Step()
        count = 0
        for iid in instance_ids:
            runtime = self.runtime(iid)
            if runtime is None:
                continue
            count += 1
            step.batch.purge.append(iid)

            def forget(i: str = iid) -> None:
                self._drop_messages(i)
                self._drop_work(i)
                self.cache.pop(i, None)

            step.after.append(forget)
        if count:
            self._commit(step)
        return count

    def signal_entity(self, entity_id: str, operation: str, input_text: str | None) -> None:
        """Queue a one-way entity operation."""
        step = Step()
        payload = {
            "op": operation,
            "input": input_text,
            "signal": True,
            "caller": None,
            "rid": str(uuid.uuid4()),
        }
        self._work(step, "entity", entity_id, payload)
        self._commit(step)
