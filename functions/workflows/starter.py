"""Starting and asking about workflows through the Durable client of one invocation, by their typed contracts.

:class:`DurableWorkflows` is the :class:`~functions.jobs.submission.WorkflowClient` the services use: it starts an
:class:`~functions.provisioning.contracts.Orchestration` by its name with its input encoded by its codec, and
reports an instance's status.

The SDK's client binding only exists in ``async def`` functions, and its calls are coroutines on the worker's event
loop; the services, like the Table SDK they use, are synchronous. So a trigger runs its service call in a thread
(:func:`in_thread`: the event loop stays free for every other invocation, as the Functions Python worker needs),
and this client hands each Durable call back to the trigger's event loop and waits for it there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import azure.durable_functions as df

from functions.jobs.submission import WorkflowStatus
from functions.models.durable import Orchestration

__all__ = ["DurableWorkflows", "in_thread"]

T = TypeVar("T")
_CALL_TIMEOUT = 60.0


class DurableWorkflows:
    """The workflow client over one ``DurableOrchestrationClient`` whose calls run on ``loop``."""

    def __init__(self, client: df.DurableOrchestrationClient, loop: asyncio.AbstractEventLoop) -> None:
        self._client = client
        self._loop = loop

    def _wait(self, call: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(call, self._loop).result(timeout=_CALL_TIMEOUT)

    def start(self, orchestration: Orchestration[Any], instance_id: str, payload: Any) -> None:
        """Start ``orchestration`` as ``instance_id``."""
        self._wait(self._client.start_new(orchestration.name, instance_id, orchestration.input.dump(payload)))

    def status(self, instance_id: str) -> WorkflowStatus | None:
        """The instance's runtime status, custom status and output (``None``: no such instance)."""
        status = self._wait(self._client.get_status(instance_id))
        if not status or status.runtime_status is None:
            return None
        return WorkflowStatus(status.runtime_status.value, status.custom_status, status.output)

    def raise_event(self, instance_id: str, name: str, data: Any) -> None:
        """Send external event ``name`` to the instance."""
        self._wait(self._client.raise_event(instance_id, name, data))


async def in_thread(client: df.DurableOrchestrationClient, work: Callable[[DurableWorkflows], T]) -> T:
    """Run ``work`` in a worker thread with a workflow client bound to this event loop; returns its result."""
    workflows = DurableWorkflows(client, asyncio.get_running_loop())
    return await asyncio.to_thread(work, workflows)
