"""Orchestration episodes: take an instance's next message, replay, schedule, commit.

The dispatcher takes ready instances in turn. One new event is delivered per episode
(``durable-functions.md`` B11), so task ids of retry timers and re-scheduled attempts are
unambiguous. An episode appends ``OrchestratorStarted`` + the event (+ what the host drives,
like retries) + the scheduling events of new actions + ``OrchestratorCompleted``, then ends the
execution if the orchestrator is done, failed or continued as new. A message for a finished
instance or an older execution is dropped; a suspended instance keeps its messages.
"""

from __future__ import annotations

import asyncio
import json
import logging

from . import history as h
from .durable_timers import DurableTimers
from .history import Event
from .lifecycle import Lifecycle
from .replay import Replayer, check_determinism, flatten, signature
from .scheduling import Scheduler
from .store import MessageRow
from .taskhub import TERMINAL, Runtime, Step, TaskHub

log = logging.getLogger("devhost.engine")


class Orchestrations:
    """Runs orchestration episodes for ready instances."""

    def __init__(
        self,
        hub: TaskHub,
        replayer: Replayer,
        scheduler: Scheduler,
        lifecycle: Lifecycle,
        timers: DurableTimers,
    ) -> None:
        """Run episodes in ``hub``."""
        self.hub = hub
        self.replayer = replayer
        self.scheduler = scheduler
        self.lifecycle = lifecycle
        self.timers = timers

    async def dispatch(self) -> None:
        """Process ready instances forever (cancelled on stop)."""
        hub = self.hub
        assert hub.wakeup is not None
        while True:
            await hub.wakeup.wait()
            hub.wakeup.clear()
            count = 0
            while hub.ready:
                instance_id = hub.ready.popleft()
                hub.ready_set.discard(instance_id)
                try:
                    self.process(instance_id)
                except Exception:
                    log.exception("engine error while processing instance '%s'", instance_id)
                count += 1
                if count % 8 == 0:
                    await asyncio.sleep(0)

    def process(self, instance_id: str) -> None:
        """Handle the instance's next visible message."""
        hub = self.hub
        message = hub.next_message(instance_id)
        if message is None:
            return
        runtime = hub.runtime(instance_id)
        step = Step()
        if runtime is None or runtime.row.status in TERMINAL:
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
            hub.commit(step)
        else:
            self.episode(runtime, message, step)
        if hub.next_message(instance_id) is not None:
            hub.mark_ready(instance_id)

    def episode(self, runtime: Runtime, message: MessageRow, step: Step) -> None:
        """Deliver one message to the orchestrator and act on its answer."""
        hub = self.hub
        now = h.utc_now()
        row = runtime.row
        payload = message.payload
        event: Event = dict(payload["event"])
        new_events: list[Event] = [h.orchestrator_started(now), event]
        if payload.get("type") == "start":
            row.status = "Running"
        host_events = self.scheduler.host_driven(runtime, event, now, step)
        state, error = self.replayer.invoke(runtime, new_events)
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
            self.lifecycle.finish(runtime, "Failed", f"Orchestrator function '{row.name}' failed: {error}", now, step)
        elif state.get("isDone") and actions and actions[-1].get("actionType") == 4:
            self.lifecycle.continue_as_new(runtime, actions[-1].get("input"), now, step)
        elif state.get("isDone"):
            hub.append(step, runtime, events)
            self.lifecycle.finish(runtime, "Completed", state.get("output"), now, step)
        else:
            hub.append(step, runtime, events)
            hub.save(step, runtime, now)
        hub.commit(step)
