"""Instance management: what the management API asks of the engine.

Start, raise an event, terminate, suspend, resume and purge, with the status codes the
extension's ``HttpApiHandler`` answers (``durable-functions.md`` C2): 400 for an unknown
orchestrator or an invalid instance id, 404 for an unknown instance, 410 for one that has
finished, 409 (shown by the management API as the extension's 500) for a start over an active
instance.
"""

from __future__ import annotations

import json
import uuid

from . import history as h
from .discovery import AppSpec
from .history import EventType
from .lifecycle import Lifecycle, validate_instance_id
from .taskhub import ACTIVE, TERMINAL, Runtime, Step, TaskHub


class Instances:
    """Management operations on the orchestration instances of one task hub."""

    def __init__(self, spec: AppSpec, hub: TaskHub, lifecycle: Lifecycle) -> None:
        """Manage the instances in ``hub`` of the orchestrators of ``spec``."""
        self.spec = spec
        self.hub = hub
        self.lifecycle = lifecycle

    def start(self, name: str, instance_id: str | None, input_text: str | None, version: str) -> tuple[int, str]:
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
        existing = self.hub.runtime(iid)
        if existing is not None and existing.row.status in ACTIVE:
            return 409, f"An Orchestration instance with the status {existing.row.status} already exists."
        step = Step()
        self.lifecycle.create(step, name=name, instance_id=iid, input_text=input_text, version=version, now=h.utc_now())
        self.hub.commit(step)
        return 202, iid

    def _live(self, instance_id: str) -> Runtime | int:
        """The runtime of a non-terminal instance, or the management API's status: 404 unknown, 410 finished."""
        runtime = self.hub.runtime(instance_id)
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
        self.hub.message(step, instance_id, {"type": "event", "exec": None, "event": raised})
        self.hub.commit(step)
        return 202

    def terminate(self, instance_id: str, reason: str) -> int:
        """Terminate a running instance; returns the HTTP status."""
        runtime = self._live(instance_id)
        if isinstance(runtime, int):
            return runtime
        now = h.utc_now()
        step = Step()
        terminated = h.event(EventType.EXECUTION_TERMINATED, now, Input=json.dumps(reason))
        self.hub.append(step, runtime, [h.orchestrator_started(now), terminated])
        self.lifecycle.finish(runtime, "Terminated", reason, now, step)
        self.hub.commit(step)
        return 202

    def suspend(self, instance_id: str, reason: str) -> int:
        """Suspend a running instance (its messages wait until it is resumed)."""
        runtime = self._live(instance_id)
        if isinstance(runtime, int):
            return runtime
        if runtime.row.status != "Suspended":
            now = h.utc_now()
            step = Step()
            self.hub.append(step, runtime, [h.event(EventType.EXECUTION_SUSPENDED, now, Reason=reason)])
            runtime.row.status = "Suspended"
            self.hub.save(step, runtime, now)
            self.hub.commit(step)
        return 202

    def resume(self, instance_id: str, reason: str) -> int:
        """Resume a suspended instance."""
        runtime = self._live(instance_id)
        if isinstance(runtime, int):
            return runtime
        if runtime.row.status == "Suspended":
            now = h.utc_now()
            step = Step()
            self.hub.append(step, runtime, [h.event(EventType.EXECUTION_RESUMED, now, Reason=reason)])
            runtime.row.status = "Running" if runtime.state["pos"] or len(runtime.history) > 1 else "Pending"
            self.hub.save(step, runtime, now)
            step.after.append(lambda: self.hub.mark_ready(instance_id))
            self.hub.commit(step)
        return 202

    def purge(self, instance_ids: list[str]) -> int:
        """Delete instances and their history; returns how many existed."""
        hub = self.hub
        step = Step()
        count = 0
        for iid in instance_ids:
            runtime = hub.runtime(iid)
            if runtime is None:
                continue
            count += 1
            step.batch.purge.append(iid)

            def forget(i: str = iid) -> None:
                hub.drop_messages(i)
                hub.cache.pop(i, None)

            step.after.append(forget)
        if count:
            hub.commit(step)
        return count
