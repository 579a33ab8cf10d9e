"""Durable entities: run queued operations of one entity as a batch, store its state, answer callers.

Operations on one entity run one batch at a time, in order; the batch is one invocation of the
entity function on the app's worker. It goes to the function as the extension's
``EntityContextToString`` JSON and comes back as state plus one result per operation
(``durable-functions.md`` B18). A ``call_entity`` caller receives the result as an
``EventRaised`` named by the request id (with ``exceptionType`` when the operation raised); a
signal gets no answer. Entity names are matched case-insensitively.

A batch past ``functionTimeout`` leaves the state as it was and fails each operation with the
host's timeout message, as ``TaskEntityShim`` fails an operation that loses the race against
its ``TimeoutTask`` (Azure/azure-functions-durable-extension ``src/WebJobs.Extensions.DurableTask/
Listener/TaskEntityShim.cs``, ``ProcessOperationRequestAsync``; the out-of-process path there is
not spelled out, so treating the whole batch alike is inferred).
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from typing import Any

import azure.functions as func

from . import history as h
from .discovery import AppSpec
from .history import EventType
from .invoke import Invoker
from .store import EntityRow, WorkRow
from .taskhub import Step, TaskHub
from .timeouts import FunctionTimeout

log = logging.getLogger("devhost.engine")


class Entities:
    """Runs entity operations of one task hub."""

    def __init__(self, spec: AppSpec, hub: TaskHub, invoker: Invoker) -> None:
        """Run the entities of ``spec`` in ``hub`` through ``invoker``."""
        self.spec = spec
        self.hub = hub
        self.invoker = invoker
        self._busy: set[str] = set()

    def signal(self, entity_id: str, operation: str, input_text: str | None) -> None:
        """Queue a one-way entity operation (the client's ``signal_entity``)."""
        step = Step()
        payload = {
            "op": operation,
            "input": input_text,
            "signal": True,
            "caller": None,
            "rid": str(uuid.uuid4()),
        }
        self.hub.work(step, "entity", entity_id, payload)
        self.hub.commit(step)

    def submit(self, work: WorkRow) -> None:
        """An operation was queued for an entity: run its batch unless one is running."""
        if work.target not in self._busy:
            self._busy.add(work.target)
            self.hub.spawn(self.run(work.target))

    async def run(self, entity_id: str) -> None:
        """Run the entity's queued operations, batch after batch, until none are left."""
        try:
            while operations := self.hub.entity_queues.pop(entity_id, []):
                try:
                    await self._batch(entity_id, operations)
                except Exception:
                    log.exception("engine error while running entity '%s'", entity_id)
        finally:
            self._busy.discard(entity_id)

    async def _batch(self, entity_id: str, operations: list[WorkRow]) -> None:
        hub = self.hub
        _, name, key = [*entity_id.split("@", 2), "", ""][:3]
        info = self.spec.entities.get(name.lower())
        stored = hub.store.entity(entity_id)
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
            call = functools.partial(info.handler, func.EntityContext(json.dumps(context)))
            try:
                output = json.loads(await self.invoker.run(info, call, instance_id=entity_id, quiet=True))
                results = list(output.get("results") or [])
                exists = bool(output.get("entityExists"))
                state_text = output.get("entityState")
            except Exception as exc:
                if not isinstance(exc, FunctionTimeout):
                    log.exception("Entity '%s' failed", entity_id)
                results = [{"isError": True, "result": json.dumps(str(exc))} for _ in operations]
        now = h.utc_now()
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
                hub.message(step, caller["instance"], {"type": "event", "exec": caller["exec"], "event": raised})
        hub.commit(step)
