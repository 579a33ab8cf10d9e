"""The event pump: one orchestration (instance :data:`PUMP_INSTANCE`) that delivers the outbox's events for ever.

Each execution runs one delivery pass (``events_deliver``) and sleeps on a durable timer until the next event is
due (at most a few seconds), then continues as new, so its history stays one pass long. A pass that fails (storage
down) is tried again a minute later; a pass that reports no sink configured ends the pump. The keeper timer
(``events_keeper`` in :mod:`functions.app`) starts it when sinks are configured and it is not running.

Delivery is here, apart from every job: a slow or failing receiver holds one activity of this orchestration, never
a workflow step. Pure: no I/O, clock, settings or random ids.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from functions.provisioning import contracts as c

__all__ = ["PUMP_INSTANCE", "bp"]

PUMP_INSTANCE = "aetherv-events-pump"
"""The pump's instance id (one per task hub)."""
_AFTER_FAILURE = 60.0

bp = df.Blueprint()


@bp.function_name(name=c.EVENTS_PUMP.name)
@bp.orchestration_trigger(context_name="context")
def events_pump(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Deliver what is due, sleep until more is, continue as new (see the module docstring)."""
    try:
        wait = c.EVENTS_DELIVER.result.load((yield context.call_activity(c.EVENTS_DELIVER.name, {})))
    except Exception:
        wait = _AFTER_FAILURE
    if wait < 0:
        return {"outcome": "no sink is configured"}
    yield context.create_timer(context.current_utc_datetime + timedelta(seconds=wait))
    context.continue_as_new(None)
    return None
