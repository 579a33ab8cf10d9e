"""The task hub's working set: instance cache, message inbox, ready queue and pending work.

Every other engine room changes the task hub through a :class:`Step`: the rows to write (a
:class:`~tools.devhost.store.Batch`) and the in-memory changes to make once they are written.
:meth:`TaskHub.commit` writes the batch in one transaction and only then applies the in-memory
changes, so a killed devhost resumes from what was committed.

Messages are what an orchestration instance receives (its start, completions, timer firings,
external events); one becomes visible at ``visible_at`` (durable timers), and an instance with a
visible message is *ready*. Work items are activity invocations and entity operations; the
rooms that run them register themselves with :meth:`TaskHub.set_runners`.

A committed work item always runs, even when its instance has ended (completed, failed,
terminated, continued as new, purged) in the meantime: with the Azure Storage provider the
activity message is already in the work-item queue, and only its result, delivered to the
control queue, is discarded (see :mod:`tools.devhost.orchestration`).

Everything here runs on the devhost's event loop thread.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import history as h
from .history import Event
from .store import Batch, InstanceRow, MessageRow, Store, WorkRow

ACTIVE = frozenset({"Pending", "Running", "ContinuedAsNew", "Suspended"})
TERMINAL = frozenset({"Completed", "Failed", "Terminated", "Canceled"})


def new_state() -> dict[str, Any]:
    """Fresh engine bookkeeping for an execution (position, task ids, signatures, retries, timers)."""
    return {"pos": 0, "seq": 0, "sigs": [], "tasks": {}, "retries": {}, "timers": {}}


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


WorkRunner = Callable[[WorkRow], None]


class TaskHub:
    """In-memory queues over one :class:`~tools.devhost.store.Store`."""

    def __init__(self, store: Store) -> None:
        """Wrap ``store``; call :meth:`attach` on the event loop before use."""
        self.store = store
        self.cache: dict[str, Runtime] = {}
        self.inbox: dict[str, list[MessageRow]] = {}
        self.ready: deque[str] = deque()
        self.ready_set: set[str] = set()
        self.entity_queues: dict[str, list[WorkRow]] = {}
        self.timer_handles: dict[int, asyncio.TimerHandle] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.wakeup: asyncio.Event | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._run_activity: WorkRunner | None = None
        self._run_entity: WorkRunner | None = None

    def set_runners(self, activity: WorkRunner, entity: WorkRunner) -> None:
        """Who is told about committed activity work items and entity operations."""
        self._run_activity = activity
        self._run_entity = entity

    # -- lifecycle -----------------------------------------------------------------------------

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Bind to the running loop and load queued messages and unfinished work from the store."""
        self.loop = loop
        self.wakeup = asyncio.Event()
        for message in self.store.messages():
            self.push_message(message)
        for work in self.store.work():
            self.push_work(work)

    async def detach(self) -> None:
        """Cancel due-time handles and running work (unfinished work re-runs after a restart)."""
        for handle in self.timer_handles.values():
            handle.cancel()
        self.timer_handles.clear()
        running = list(self.tasks)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    # -- commit --------------------------------------------------------------------------------

    def commit(self, step: Step) -> None:
        """Write the step's batch, then apply its in-memory changes."""
        try:
            self.store.commit(step.batch)
        except Exception:
            self.cache.clear()
            raise
        for action in step.after:
            action()

    # -- messages ------------------------------------------------------------------------------

    def mark_ready(self, instance_id: str) -> None:
        """Queue an instance for processing (once)."""
        if instance_id not in self.ready_set:
            self.ready_set.add(instance_id)
            self.ready.append(instance_id)
            if self.wakeup is not None:
                self.wakeup.set()

    def push_message(self, message: MessageRow) -> None:
        """Deliver a committed message; a future one makes its instance ready when it is due."""
        self.inbox.setdefault(message.instance_id, []).append(message)
        delay = message.visible_at - time.time()
        if delay > 0 and self.loop is not None:
            self.timer_handles[message.id] = self.loop.call_later(
                delay, self._message_due, message.id, message.instance_id
            )
        else:
            self.mark_ready(message.instance_id)

    def _message_due(self, message_id: int, instance_id: str) -> None:
        self.timer_handles.pop(message_id, None)
        self.mark_ready(instance_id)

    def next_message(self, instance_id: str) -> MessageRow | None:
        """The instance's first visible message."""
        now = time.time()
        for message in self.inbox.get(instance_id, []):
            if message.visible_at <= now:
                return message
        return None

    def drop_messages(self, instance_id: str, keep_after: int | None = None) -> None:
        """Forget an instance's messages (those with ids above ``keep_after`` stay)."""
        for message in self.inbox.pop(instance_id, []):
            if keep_after is not None and message.id > keep_after:
                self.inbox.setdefault(instance_id, []).append(message)
                continue
            handle = self.timer_handles.pop(message.id, None)
            if handle is not None:
                handle.cancel()

    def drop_message(self, instance_id: str, message_id: int) -> None:
        """Forget one message."""
        queue = self.inbox.get(instance_id, [])
        self.inbox[instance_id] = [m for m in queue if m.id != message_id]
        handle = self.timer_handles.pop(message_id, None)
        if handle is not None:
            handle.cancel()

    def message(self, step: Step, instance_id: str, payload: dict[str, Any], visible_at: float = 0.0) -> MessageRow:
        """Add a message for an instance to the step."""
        message = MessageRow(self.store.new_message_id(), instance_id, visible_at, payload)
        step.batch.messages.append(message)
        step.after.append(lambda: self.push_message(message))
        return message

    # -- work ----------------------------------------------------------------------------------

    def push_work(self, work: WorkRow) -> None:
        """Hand a committed work item to its runner."""
        if work.kind == "activity":
            if self._run_activity is not None:
                self._run_activity(work)
        else:
            self.entity_queues.setdefault(work.target, []).append(work)
            if self._run_entity is not None:
                self._run_entity(work)

    def work(self, step: Step, kind: str, target: str, payload: dict[str, Any]) -> WorkRow:
        """Add a work item (``activity`` for an instance, ``entity`` for an entity id) to the step."""
        work = WorkRow(self.store.new_work_id(), kind, target, payload)
        step.batch.work.append(work)
        step.after.append(lambda: self.push_work(work))
        return work

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run a coroutine on the loop, cancelled by :meth:`detach`."""
        if self.loop is None:
            coroutine.close()
            return
        task = self.loop.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

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

    def save(self, step: Step, runtime: Runtime, now: datetime) -> None:
        """Add the instance row (and its bookkeeping) to the step."""
        runtime.row.updated = h.iso(now)
        runtime.row.state = json.dumps(runtime.state)
        step.batch.instances.append(runtime.row)

    def append(self, step: Step, runtime: Runtime, events: list[Event]) -> None:
        """Append events to the instance's history (marked played) in the step."""
        base = len(runtime.history)
        texts = []
        for event in events:
            event["IsPlayed"] = True
            texts.append(json.dumps(event))
        iid = runtime.row.instance_id
        step.batch.history.extend((iid, base + n, text) for n, text in enumerate(texts))
        runtime.history.extend(texts)
