"""The Durable engine: a thin façade over the rooms that stand in for the Durable extension + DTFx.

It speaks the out-of-process protocol the Python SDK expects (``durable-functions.md`` Part B)
and wires the rooms together:

- :mod:`~tools.devhost.taskhub` — cache, inbox, ready queue, pending work; every step committed
  to the store before it is acted on;
- :mod:`~tools.devhost.replay` — the orchestration context, the orchestrator's answer,
  non-determinism;
- :mod:`~tools.devhost.orchestration` — one episode per delivered message;
- :mod:`~tools.devhost.scheduling` — actions into history events and work, retries;
- :mod:`~tools.devhost.durable_timers`, :mod:`~tools.devhost.activities`,
  :mod:`~tools.devhost.entities` — the work itself;
- :mod:`~tools.devhost.lifecycle` and :mod:`~tools.devhost.instances` — starting, ending and
  managing instances.

All of it runs on the devhost's event loop; the app's code (orchestrator and entity episodes,
activities) runs on the app's worker (:mod:`tools.devhost.worker`) through the invoker.
"""

from __future__ import annotations

import asyncio

from .activities import Activities
from .discovery import AppSpec
from .durable_timers import DurableTimers
from .entities import Entities
from .instances import Instances
from .invoke import Invoker
from .lifecycle import Lifecycle
from .orchestration import Orchestrations
from .replay import Replayer
from .scheduling import Scheduler
from .store import MessageRow, Store
from .taskhub import TaskHub


class Engine:
    """Durable task hub engine for one app and one store."""

    def __init__(
        self,
        spec: AppSpec,
        store: Store,
        invoker: Invoker,
    ) -> None:
        """Create the engine; call :meth:`start` on the event loop."""
        self.spec = spec
        self.store = store
        config = spec.config
        self.hub = TaskHub(store)
        self.lifecycle = Lifecycle(self.hub)
        self.timers = DurableTimers(self.hub)
        self.replayer = Replayer(spec, invoker)
        self.scheduler = Scheduler(spec, self.hub, self.lifecycle, self.timers)
        self.orchestrations = Orchestrations(
            self.hub,
            replayer=self.replayer,
            scheduler=self.scheduler,
            lifecycle=self.lifecycle,
            timers=self.timers,
            limit=config.max_orchestrators,
        )
        self.activities = Activities(spec, self.hub, invoker, config.max_activities)
        self.entities = Entities(spec, self.hub, invoker)
        self.instances = Instances(spec, self.hub, self.lifecycle)
        self.hub.set_runners(self.activities.submit, self.entities.submit)
        self._dispatcher: asyncio.Task[None] | None = None

    @property
    def inbox(self) -> dict[str, list[MessageRow]]:
        """Queued messages per instance (tests check that nothing stays queued)."""
        return self.hub.inbox

    @property
    def episodes(self) -> int:
        """How many orchestrator episodes have run."""
        return self.replayer.episodes

    async def start(self) -> None:
        """Load queued messages and unfinished work from the store and start dispatching."""
        self.activities.start()
        self.hub.attach(asyncio.get_running_loop())
        self._dispatcher = asyncio.get_running_loop().create_task(self.orchestrations.dispatch())

    async def stop(self) -> None:
        """Stop dispatching; running activities are abandoned (they re-run after a restart)."""
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            await asyncio.gather(self._dispatcher, return_exceptions=True)
        await self.hub.detach()

    # -- management operations (the management API's view of the engine) ------------------------

    def start_instance(
        self, name: str, instance_id: str | None, input_text: str | None, version: str
    ) -> tuple[int, str]:
        """Start an orchestration; returns (HTTP status, instance id or error message)."""
        return self.instances.start(name, instance_id, input_text, version)

    def raise_event(self, instance_id: str, name: str, input_text: str) -> int:
        """Queue an external event; returns the HTTP status."""
        return self.instances.raise_event(instance_id, name, input_text)

    def terminate(self, instance_id: str, reason: str) -> int:
        """Terminate a running instance; returns the HTTP status."""
        return self.instances.terminate(instance_id, reason)

    def suspend(self, instance_id: str, reason: str) -> int:
        """Suspend a running instance."""
        return self.instances.suspend(instance_id, reason)

    def resume(self, instance_id: str, reason: str) -> int:
        """Resume a suspended instance."""
        return self.instances.resume(instance_id, reason)

    def purge(self, instance_ids: list[str]) -> int:
        """Delete instances and their history; returns how many existed."""
        return self.instances.purge(instance_ids)

    def signal_entity(self, entity_id: str, operation: str, input_text: str | None) -> None:
        """Queue a one-way entity operation."""
        self.entities.signal(entity_id, operation, input_text)
