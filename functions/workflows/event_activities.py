"""The event activity: ``events_deliver``, one delivery pass of the :class:`~functions.services.events.EventService`."""

from __future__ import annotations

from collections.abc import Callable

import azure.durable_functions as df

from functions.provisioning import contracts as c
from functions.services.events import EventService
from functions.workflows.activities import register_activity

__all__ = ["event_activities_blueprint"]


def event_activities_blueprint(service: Callable[[], EventService]) -> df.Blueprint:
    """A blueprint with the event activity; ``service`` gives the process's event service."""
    bp = df.Blueprint()
    register_activity(bp, c.EVENTS_DELIVER, lambda _: service().deliver())
    return bp
