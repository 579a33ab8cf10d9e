"""Orchestration episodes: take an instance's next message, replay on the worker, schedule, commit.

The dispatcher takes ready instances in turn and starts an episode for each, at most
``maxConcurrentOrchestratorFunctions`` at once and one at a time per instance. One new event is
delivered per episode (``durable-functions.md`` B11), so task ids of retry timers and
re-scheduled attempts are unambiguous. An episode appends ``OrchestratorStarted`` + the event
(+ what the host drives, like retries) + the scheduling events of new actions +
``OrchestratorCompleted``, then ends the execution if the orchestrator is done, failed or
continued as new.

The orchestrator runs on the app's worker (a pool thread), so the instance may change while it
runs: when it was terminated, purged or restarted meanwhile, the episode's answer is dropped.

Messages for an instance that has ended, or for an earlier execution of it, are discarded, as the
Azure Storage provider discards them ("Instance is Completed", Azure/durabletask
``src/DurableTask.AzureStorage/AzureStorageOrchestrationService.cs``, ``IsExecutableInstance``):
this is where results of activities that outlived their instance end. A suspended instance keeps
its messages.

An episode past ``functionTimeout`` is aborted and its message retried later, as the extension
does for an orchestrator invocation that times out ("An internal error occurred while attempting
to execute this function. The execution will be aborted and retried."; ``SessionAbortedException``
in ``TaskOrchestrationShim``/``DurableTaskExtension``, Azure/azure-functions-durable-extension).
"""

from __future__ import annotations

import asyncio
import json
import logging

from . import history as h
from .durable_timers import DurableTimers
from .history import Event
from .lifecycle import Lifecycle
from .replay import ARGUMENT_EXCEPTION, Replayer, check_determinism, custom_status_error, flatten, signature
from .scheduling import Scheduler
from .store import MessageRow
from .taskhub import TERMINAL, Runtime, Step, TaskHub
from .timeouts import FunctionTimeout

log = logging.getLogger("devhost.engine")
RETRY_ABORTED_EPISODE_AFTER = 1.0


class Orchestrations:
    """Runs orchestration episodes for ready instances."""

    def __init__(
        self,
        hub: TaskHub,
        *,
        replayer: Replayer,
        scheduler: Scheduler,
        lifecycle: Lifecycle,
        timers: DurableTimers,
        limit: int,
    ) -> None:
        """Run episodes in ``hub``, at most ``limit`` at a time."""
        self.hub = hub
        self.replayer = replayer
        self.scheduler = scheduler
        self.lifecycle = lifecycle
        self.timers = timers
        self.limit = limit
        self._busy: set[str] = set()
        self._semaphore: asyncio.Semaphore | None = None

    async def dispatch(self) -> None:
        """Start episodes for ready instances forever (cancelled on stop)."""
        hub = self.hub
        assert hub.wakeup is not None
        self._semaphore = asyncio.Semaphore(self.limit)
        while True:
            await hub.wakeup.wait()
            hub.wakeup.clear()
            while hub.ready:
                instance_id = hub.ready.popleft()
                hub.ready_set.discard(instance_id)
                if instance_id in self._busy:
                    continue  # marked ready again when its running episode ends
                self._busy.add(instance_id)
                hub.spawn(self._process(instance_id))

    async def _process(self, instance_id: str) -> None:
        assert self._semaphore is not None
        try:
            async with self._semaphore:
                await self.process(instance_id)
        except Exception:
            log.exception("engine error while processing instance '%s'", instance_id)
        finally:
            self._busy.discard(instance_id)
        if self.hub.next_message(instance_id) is not None:
            self.hub.mark_ready(instance_id)

    async def process(self, instance_id: str) -> None:
        """Handle the instance's next visible message."""
        hub = self.hub
        message = hub.next_message(instance_id)
        if message is None:
            return
        runtime = hub.runtime(instance_id)
        step = Step()
        if runtime is None or runtime.row.status in TERMINAL:
            state = "does not exist" if runtime is None else runtime.row.status
            log.warning("%s: Discarding %d message(s): Instance is %s", instance_id, len(hub.inbox[instance_id]), state)
            step.batch.drop_messages_for.append(instance_id)
            step.after.append(lambda: hub.drop_messages(instance_id))
            hub.commit(step)
            return
        if runtime.row.status == "Suspended":
            return
        step.batch.drop_messages.append(message.id)
        step.after.append(lambda: hub.drop_message(instance_id, message.id))
        execution = message.payload.get("exec")
        if execution is not None and execution != runtime.row.execution_id:
            current = runtime.row.execution_id
            log.warning("%s: Discarding a message for execution %s (current: %s)", instance_id, execution, current)
            hub.commit(step)
        else:
            await self.episode(runtime, message, step)

    def _still_current(self, runtime: Runtime, execution_id: str, message: MessageRow) -> bool:
        """Whether nothing ended or replaced the execution while its orchestrator ran."""
        row = runtime.row
        iid = row.instance_id
        return (
            self.hub.cache.get(iid) is runtime
            and row.status not in TERMINAL
            and row.execution_id == execution_id
            and any(m.id == message.id for m in self.hub.inbox.get(iid, []))
        )

    async def episode(self, runtime: Runtime, message: MessageRow, step: Step) -> None:
        """Deliver one message to the orchestrator and act on its answer."""
        hub = self.hub
        now = h.utc_now()
        row = runtime.row
        execution_id = row.execution_id
        payload = message.payload
        event: Event = dict(payload["event"])
        new_events: list[Event] = [h.orchestrator_started(now), event]
        try:
            state, error = await self.replayer.invoke(runtime, new_events)
        except FunctionTimeout as exc:
            log.error(
                "%s: An internal error occurred while attempting to execute this function. The execution will be "
                "aborted and retried. Details: %s",
                row.instance_id,
                exc,
            )
            if hub.loop is not None:
                hub.loop.call_later(RETRY_ABORTED_EPISODE_AFTER, hub.mark_ready, row.instance_id)
            return
        if not self._still_current(runtime, execution_id, message):
            log.info(
                "%s: ended or restarted while its orchestrator ran; the episode's answer is dropped", row.instance_id
            )
            return
        if payload.get("type") == "start" and row.status != "Suspended":
            row.status = "Running"
        host_events = self.scheduler.host_driven(runtime, event, now, step)
        error_type = "Exception"
        status_error = custom_status_error(state["customStatus"]) if "customStatus" in state else None
        if status_error is not None:
            # SetCustomStatus throws before the episode's actions are replayed; nothing is scheduled.
            state, error, error_type = {}, status_error, ARGUMENT_EXCEPTION
        actions = list(flatten(state.get("actions")))
        st = runtime.state
        if error is None:
            error = check_determinism(st["sigs"], actions)
        if error is None:
            self.timers.cancel_obsolete(runtime, actions, step)
        events = new_events + host_events
        # An orchestrator failure still carries out the actions it produced (B14); a scheduling
        # problem (an unknown function, call_http) fails the instance at that action.
        if error is None or (state.get("actions") is not None and not error.startswith("Non-Deterministic")):
            for position in range(st["pos"], len(actions)):
                problem = self.scheduler.schedule(
                    runtime, actions[position], position=position, now=now, events=events, step=step
                )
                st["sigs"].append(signature(actions[position]))
                if problem is not None and error is None:
                    error = problem
                    break
            st["pos"] = max(st["pos"], len(actions))
        if "customStatus" in state:
            row.custom_status = json.dumps(state["customStatus"])
        events.append(h.orchestrator_completed(now))
        if error is not None:
            hub.append(step, runtime, events)
            reason = f"Orchestrator function '{row.name}' failed: {error}"
            self.lifecycle.finish(runtime, "Failed", reason, now, step, error_type=error_type)
        elif state.get("isDone") and actions and actions[-1].get("actionType") == 4:
            self.lifecycle.continue_as_new(runtime, actions[-1].get("input"), now, step)
        elif state.get("isDone"):
            hub.append(step, runtime, events)
            self.lifecycle.finish(runtime, "Completed", state.get("output"), now, step)
        else:
            hub.append(step, runtime, events)
            hub.save(step, runtime, now)
        hub.commit(step)
