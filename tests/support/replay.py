"""A small history builder that replays an orchestrator with the real Durable SDK, episode by episode.

The harness plays the extension's part: it calls the registered orchestrator handle with a context JSON holding
the whole history (PascalCase events, integer ``EventType``, ``IsPlayed``), reads the returned actions, records
``TaskScheduled``/``TimerCreated`` events for the new ones (ids in order, as the SDK numbers them), and lets the
test deliver one completion per episode: an activity result or failure, a timer firing or an external event.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.functions as func

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

# DTFx EventType numbers (reference: durable-functions.md B4).
EXECUTION_STARTED, TASK_SCHEDULED, TASK_COMPLETED, TASK_FAILED = 0, 4, 5, 6
SUB_CREATED, SUB_COMPLETED, SUB_FAILED = 7, 8, 9
TIMER_CREATED, TIMER_FIRED, ORCHESTRATOR_STARTED, ORCHESTRATOR_COMPLETED = 10, 11, 12, 13
EVENT_SENT, EVENT_RAISED = 14, 15
CALL_ACTIVITY, CALL_ACTIVITY_WITH_RETRY, CALL_SUB_ORCHESTRATOR, CONTINUE_AS_NEW = 0, 1, 2, 4
CREATE_TIMER, WAIT_FOR_EVENT, CALL_ENTITY = 5, 6, 7


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _flatten(actions: list[Any]) -> list[dict[str, Any]]:
    flat: list[dict[str, Any]] = []
    for action in actions:
        if isinstance(action, list):
            flat += _flatten(action)
        elif "compoundActions" in action:
            flat += _flatten(action["compoundActions"])
        else:
            flat.append(action)
    return flat


@dataclass
class Scheduled:
    """One scheduled task: its id, kind, and (for activities) name and decoded input."""

    id: int
    kind: str
    name: str | None = None
    input: Any = None
    fire_at: datetime | None = None
    canceled: bool = False
    done: bool = False
    entity: str | None = None
    request_id: str | None = None
    retry: dict[str, Any] | None = None
    """For ``call_activity_with_retry``: the retry options; ``attempt`` counts from 1."""
    attempt: int = 1
    retry_of: Scheduled | None = None
    """For a retry-interval timer: the attempt that failed."""


@dataclass
class Replay:
    """Replays ``orchestrator`` (a decorated orchestration function) with the real SDK."""

    orchestrator: Any
    input: Any
    instance_id: str = "job-1"
    now: datetime = T0
    history: list[dict[str, Any]] = field(default_factory=list)
    scheduled: list[Scheduled] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    _by_position: list[Scheduled | None] = field(default_factory=list)
    _host_work: list[Scheduled] = field(default_factory=list)  # retry bookkeeping the extension does (B11)
    continued_with: Any = None
    """The input a ``continue_as_new`` asked for (the harness does not start the next generation itself)."""

    def __post_init__(self) -> None:
        self.history = [
            self._event(ORCHESTRATOR_STARTED),
            self._event(
                EXECUTION_STARTED,
                Name="orchestrator",
                Version="",
                Input=json.dumps(self.input),
                OrchestrationInstance={"InstanceId": self.instance_id, "ExecutionId": "e1"},
            ),
        ]

    def _event(self, kind: int, event_id: int = -1, **fields: Any) -> dict[str, Any]:
        return {"EventType": kind, "EventId": event_id, "IsPlayed": False, "Timestamp": _ts(self.now), **fields}

    @property
    def _handle(self) -> Any:
        return self.orchestrator._function._func

    def run(self) -> dict[str, Any]:
        """Run one episode over the current history; returns the OrchestratorState."""
        context = {
            "history": self.history,
            "input": json.dumps(self.input),
            "instanceId": self.instance_id,
            "isReplaying": False,
            "parentInstanceId": None,
            "upperSchemaVersion": 1,
            "upperSchemaVersionNew": 2,
        }
        try:
            self.state = json.loads(self._handle(func.OrchestrationContext(json.dumps(context))))
        except Exception as exc:
            text = str(exc)
            label = "\n\n$OutOfProcData$:"
            if label not in text:
                raise
            self.state = json.loads(text.split(label, 1)[1])
            self.state.setdefault("error", text.split(label, 1)[0])
        flat = _flatten(self.state.get("actions", []))
        next_id = max((s.id for s in self.scheduled), default=-1) + 1
        next_id = self._retry_bookkeeping(next_id)
        for position, action in enumerate(flat):
            kind = action["actionType"]
            if position < len(self._by_position):
                known = self._by_position[position]
                if known is not None and kind == CREATE_TIMER and action.get("isCanceled"):
                    known.canceled = True
                continue
            task: Scheduled | None = None
            if kind in (CALL_ACTIVITY, CALL_ACTIVITY_WITH_RETRY):
                task = Scheduled(next_id, "activity", action["functionName"], json.loads(action["input"]))
                if kind == CALL_ACTIVITY_WITH_RETRY:
                    task.retry = dict(action["retryOptions"])
                self.history.append(self._event(TASK_SCHEDULED, next_id, Name=task.name, Input=action["input"]))
            elif kind == CALL_SUB_ORCHESTRATOR:
                task = Scheduled(next_id, "suborchestration", action["functionName"], json.loads(action["input"]))
                task.entity = action.get("instanceId")
                self.history.append(
                    self._event(SUB_CREATED, next_id, Name=task.name, InstanceId=task.entity, Input=action["input"])
                )
            elif kind == CONTINUE_AS_NEW:
                self.continued_with = json.loads(action["input"])
            elif kind == CREATE_TIMER:
                fire_at = datetime.fromisoformat(action["fireAt"].replace("Z", "+00:00"))
                task = Scheduled(next_id, "timer", fire_at=fire_at, canceled=bool(action.get("isCanceled")))
                self.history.append(self._event(TIMER_CREATED, next_id, FireAt=action["fireAt"]))
            elif kind == CALL_ENTITY:
                request_id = f"req-{next_id}"
                task = Scheduled(next_id, "entity", action["operation"], json.loads(action["input"]))
                task.entity = action["instanceId"]
                task.request_id = request_id
                self.history.append(
                    self._event(
                        EVENT_SENT,
                        next_id,
                        InstanceId=action["instanceId"],
                        Name="op",
                        Input=json.dumps({"id": request_id, "op": action["operation"]}),
                    )
                )
            elif kind != WAIT_FOR_EVENT:
                raise AssertionError(f"the harness does not handle action type {kind}")
            self._by_position.append(task)
            if task is not None:
                self.scheduled.append(task)
                next_id += 1
        self.history.append(self._event(ORCHESTRATOR_COMPLETED))
        for event in self.history:
            event["IsPlayed"] = True
        return self.state

    def _retry_bookkeeping(self, next_id: int) -> int:
        """The extension's part of ``call_activity_with_retry`` (reference B11), numbered before any new action.

        After a failed attempt it creates the retry-interval timer (even after the last attempt); when that timer
        fires it schedules the next attempt, unless the attempts are used up.
        """
        for done in self._host_work:
            if done.kind == "activity":  # an attempt failed: the interval timer
                assert done.retry is not None
                interval = timedelta(milliseconds=int(done.retry["firstRetryIntervalInMilliseconds"]))
                timer = Scheduled(next_id, "timer", fire_at=self.now + interval, retry_of=done)
                self.history.append(self._event(TIMER_CREATED, next_id, FireAt=_ts(timer.fire_at or self.now)))
                self.scheduled.append(timer)
                next_id += 1
            elif done.retry_of is not None:  # the interval elapsed: the next attempt, if there is one
                failed = done.retry_of
                assert failed.retry is not None
                if failed.attempt < int(failed.retry["maxNumberOfAttempts"]):
                    again = Scheduled(next_id, "activity", failed.name, failed.input, retry=failed.retry)
                    again.attempt = failed.attempt + 1
                    text = json.dumps(failed.input)
                    self.history.append(self._event(TASK_SCHEDULED, next_id, Name=failed.name, Input=text))
                    self.scheduled.append(again)
                    next_id += 1
        self._host_work.clear()
        return next_id

    # -- what the test sees ---------------------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        """Whether the orchestration finished (returned, failed or continued as new)."""
        return bool(self.state.get("isDone")) or bool(self.state.get("error"))

    @property
    def output(self) -> Any:
        """The orchestration's output."""
        return self.state.get("output")

    @property
    def custom_status(self) -> Any:
        """The last custom status."""
        return self.state.get("customStatus")

    def pending(self, kind: str | None = None) -> list[Scheduled]:
        """Scheduled tasks without a completion yet (optionally of one kind)."""
        return [t for t in self.scheduled if not t.done and not t.canceled and (kind is None or t.kind == kind)]

    def activity(self, name: str | None = None) -> Scheduled:
        """The single pending activity (optionally with this name)."""
        found = [t for t in self.pending("activity") if name is None or t.name == name]
        assert len(found) == 1, f"expected one pending activity {name or ''}, found {[t.name for t in found]}"
        return found[0]

    # -- delivering completions -----------------------------------------------------------------------------------

    def _deliver(self, event: dict[str, Any]) -> dict[str, Any]:
        self.history.append(self._event(ORCHESTRATOR_STARTED))
        self.history.append(event)
        return self.run()

    def complete(self, task: Scheduled, result: Any = None, *, after: float = 1.0) -> dict[str, Any]:
        """The activity ``task`` succeeded with ``result``."""
        self.now += timedelta(seconds=after)
        task.done = True
        kind = SUB_COMPLETED if task.kind == "suborchestration" else TASK_COMPLETED
        return self._deliver(self._event(kind, TaskScheduledId=task.id, Result=json.dumps(result)))

    def fail(self, task: Scheduled, message: str, *, after: float = 1.0) -> dict[str, Any]:
        """The activity ``task`` raised; ``message`` is what the SDK shows the orchestrator."""
        self.now += timedelta(seconds=after)
        task.done = True
        if task.retry is not None:
            self._host_work.append(task)
        kind = SUB_FAILED if task.kind == "suborchestration" else TASK_FAILED
        return self._deliver(self._event(kind, TaskScheduledId=task.id, Reason=message, Details="failed"))

    def fire(self, task: Scheduled | None = None) -> dict[str, Any]:
        """Fire ``task`` (default: the earliest pending timer), advancing the clock to its time."""
        timer = task or min(self.pending("timer"), key=lambda t: t.fire_at or self.now)
        assert timer.fire_at is not None
        self.now = max(self.now, timer.fire_at)
        timer.done = True
        if timer.retry_of is not None:
            self._host_work.append(timer)
        return self._deliver(self._event(TIMER_FIRED, TimerId=timer.id, FireAt=_ts(timer.fire_at)))

    def answer(self, task: Scheduled, result: Any) -> dict[str, Any]:
        """The entity call ``task`` returned ``result``."""
        self.now += timedelta(milliseconds=100)
        task.done = True
        payload = json.dumps({"result": json.dumps(result)})
        return self._deliver(self._event(EVENT_RAISED, Name=task.request_id, Input=payload))

    def raise_event(self, name: str, data: Any = None) -> dict[str, Any]:
        """Raise external event ``name``."""
        self.now += timedelta(seconds=1)
        return self._deliver(self._event(EVENT_RAISED, Name=name, Input=json.dumps(data)))


# -- driving a replay ------------------------------------------------------------------------------------------


@dataclass
class Fail:
    """An activity (or child orchestration) failure carrying the app's error marker."""

    message: str
    category: str = "ScriptFailed"
    transient: bool = False

    def text(self) -> str:
        marker = json.dumps({"category": self.category, "transient": self.transient, "message": self.message})
        return f"{self.category}: {self.message} AETHERV-ERROR{marker}END"


def drive(
    replay: Replay,
    results: dict[str, Any],
    *,
    until: Callable[[Replay], bool] | None = None,
    entity: Callable[[Scheduled], Any] = lambda _: True,
    max_turns: int = 400,
) -> list[str]:
    """Answer activities from ``results`` (value, callable or Fail), entity calls and timers until done."""
    calls: list[str] = []
    if not replay.state:
        replay.run()
    for _ in range(max_turns):
        if replay.done or (until is not None and until(replay)):
            return calls
        activities = replay.pending("activity") + replay.pending("suborchestration")
        entities = replay.pending("entity")
        timers = replay.pending("timer")
        if activities:
            task = min(activities, key=lambda t: t.id)
            calls.append(str(task.name))
            answer = results[str(task.name)]
            answer = answer(task) if callable(answer) else answer
            if isinstance(answer, Fail):
                replay.fail(task, answer.text())
            else:
                replay.complete(task, answer)
        elif entities:
            task = min(entities, key=lambda t: t.id)
            calls.append(f"entity:{task.name}")
            replay.answer(task, entity(task))
        elif timers:
            replay.fire()
        else:
            return calls
    raise AssertionError("the orchestration did not finish")
