"""Activities: run a scheduled activity work item and report ``TaskCompleted`` or ``TaskFailed``.

At most ``maxConcurrentActivityFunctions`` activities are dispatched at once (host.json
``extensions.durableTask``); each runs on the app's worker like any other invocation. The input is
decoded with ``df_loads`` (a raw string if it is not JSON) and the result encoded with
``df_dumps`` (``durable-functions.md`` B15). The completion is committed as a message for the
orchestration together with the removal of the work item, so an activity that was running when
the devhost was killed runs again after a restart (at least once).

An activity past ``functionTimeout`` fails the task the way the extension reports it:
``TaskActivityShim`` turns ``FunctionTimeoutError`` into ``TaskFailureException($"Activity function
'{name}' failed: {exception.Message}", Utils.SerializeCause(exception, ErrorDataConverter))``
(Azure/azure-functions-durable-extension ``src/WebJobs.Extensions.DurableTask/Listener/
TaskActivityShim.cs``), so the orchestrator sees ``Activity function '<name>' failed: Timeout value
of … was exceeded by function: Functions.<name>`` followed by the serialised exception. The dispatch slot is
freed at the deadline (the host has finished with the invocation); the worker thread is not.

A work item always runs, also after its instance has ended; its completion is then discarded
when the orchestration dispatcher sees it (:mod:`tools.devhost.orchestration`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from azure.functions._durable_functions import df_dumps, df_loads

from . import history as h
from .discovery import AppSpec
from .history import EventType
from .invoke import Invoker
from .store import WorkRow
from .taskhub import Step, TaskHub
from .timeouts import FunctionTimeout

log = logging.getLogger("devhost.engine")
TIMEOUT_EXCEPTION = "Microsoft.Azure.WebJobs.Host.FunctionTimeoutException"


class Activities:
    """Runs activity work items of one task hub."""

    def __init__(self, spec: AppSpec, hub: TaskHub, invoker: Invoker, limit: int) -> None:
        """Run the activities of ``spec`` through ``invoker``, at most ``limit`` at a time."""
        self.spec = spec
        self.hub = hub
        self.invoker = invoker
        self.limit = limit
        self._semaphore: asyncio.Semaphore | None = None
        self._started: set[int] = set()

    def start(self) -> None:
        """Create the concurrency limit on the running loop."""
        self._semaphore = asyncio.Semaphore(self.limit)

    def submit(self, work: WorkRow) -> None:
        """Run a committed work item (once per devhost run)."""
        if work.id not in self._started:
            self._started.add(work.id)
            self.hub.spawn(self.run(work))

    async def run(self, work: WorkRow) -> None:
        """Run one activity and queue its completion for the orchestration."""
        assert self._semaphore is not None
        payload = work.payload
        name = str(payload["name"])
        async with self._semaphore:
            info = self.spec.activities.get(name)
            try:
                if info is None:
                    raise LookupError(f"The function '{name}' doesn't exist or is not an activity function.")
                input_text = payload.get("input")
                try:
                    value = df_loads(input_text) if input_text is not None else None
                except ValueError:
                    value = input_text
                result = await self.invoker.call(info, value, instance_id=work.target)
                outcome: dict[str, Any] = {"Result": df_dumps(result)}
                kind = EventType.TASK_COMPLETED
            except asyncio.CancelledError:
                raise
            except FunctionTimeout as exc:
                kind = EventType.TASK_FAILED
                outcome = h.task_failure_fields(
                    f"Activity function '{name}' failed: {exc}", exc.details(), TIMEOUT_EXCEPTION
                )
            except Exception as exc:
                kind = EventType.TASK_FAILED
                outcome = h.task_failure_fields(
                    f"{type(exc).__name__}: {exc}",
                    f"{type(exc).__module__}.{type(exc).__qualname__} raised by activity '{name}'",
                    type(exc).__name__,
                )
        event = h.event(kind, h.utc_now(), TaskScheduledId=payload["task"], **outcome)
        step = Step()
        step.batch.drop_work.append(work.id)
        step.after.append(lambda: self._started.discard(work.id))
        self.hub.message(step, work.target, {"type": "event", "exec": payload["exec"], "event": event})
        self.hub.commit(step)
