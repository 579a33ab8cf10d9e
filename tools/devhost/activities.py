"""Activities: run a scheduled activity work item and report ``TaskCompleted`` or ``TaskFailed``.

At most ``maxConcurrentActivityFunctions`` activities run at once (host.json
``extensions.durableTask``). The input is decoded with ``df_loads`` (a raw string if it is not
JSON) and the result encoded with ``df_dumps`` (``durable-functions.md`` B15). The completion is
committed as a message for the orchestration together with the removal of the work item, so an
activity that was running when the devhost was killed runs again after a restart (at least once).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor

from azure.functions._durable_functions import df_dumps, df_loads

from . import history as h
from .discovery import AppSpec
from .history import EventType
from .invoke import Invoker
from .store import WorkRow
from .taskhub import Step, TaskHub


class Activities:
    """Runs activity work items of one task hub."""

    def __init__(self, spec: AppSpec, hub: TaskHub, invoker: Invoker, executor: Executor, limit: int) -> None:
        """Run the activities of ``spec`` through ``invoker``, at most ``limit`` at a time."""
        self.spec = spec
        self.hub = hub
        self.invoker = invoker
        self.executor = executor
        self.limit = limit
        self._semaphore: asyncio.Semaphore | None = None

    def start(self) -> None:
        """Create the concurrency limit on the running loop."""
        self._semaphore = asyncio.Semaphore(self.limit)

    async def run(self, work: WorkRow) -> None:
        """Run one activity and queue its completion for the orchestration."""
        assert self._semaphore is not None
        hub = self.hub
        async with self._semaphore:
            if work.id not in hub.pending_work:
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
                result = await self.invoker.call(info, value, executor=self.executor, instance_id=work.target)
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
        if work.id not in hub.pending_work:
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
        step.after.append(lambda: hub.forget_work(work.id))
        hub.message(step, work.target, {"type": "event", "exec": payload["exec"], "event": event})
        hub.commit(step)
