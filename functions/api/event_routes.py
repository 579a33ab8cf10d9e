"""Event routes: the dead-lettered events (``GET /api/v1/events/failed``) and their replay (``POST …/{id}/retry``).

Both are Admin only: an event's data holds whole job documents. The list is ``{"items": [...], "continuation"}``;
a replay answers ``202`` (delivery follows in the background, with the same event id) and is audited.
See ``docs/events.md``.
"""

from __future__ import annotations

import uuid

import azure.durable_functions as df
import azure.functions as func

from functions.api.http import Api, json_response, page_size
from functions.auth import Permission
from functions.errors import NotFound, Unavailable
from functions.services.audit import Caller
from functions.services.bundle import Services

__all__ = ["blueprint"]


def _event_id(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise NotFound(f"no failed event {text[:80]}") from None


def blueprint(api: Api) -> df.Blueprint:
    """The event routes."""
    bp = df.Blueprint()

    @bp.route(route="api/v1/events/failed", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    def api_list_failed_events(req: func.HttpRequest) -> func.HttpResponse:
        """Dead-lettered events, a page at a time (``limit``, ``continuation``)."""

        def body(s: Services, _: Caller) -> func.HttpResponse:
            if s.events is None:
                raise Unavailable("events are not configured")
            found = s.events.failed(page_size=page_size(req), continuation=req.params.get("continuation"))
            return json_response({"items": found.items, "continuation": found.continuation})

        return api.read(req, Permission.ADMIN, body)

    @bp.route(route="api/v1/events/failed/{event_id}/retry", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
    def api_retry_failed_event(req: func.HttpRequest) -> func.HttpResponse:
        """Put a dead-lettered event back into the outbox (same id); 202."""
        raw_id = req.route_params["event_id"]

        def body(s: Services, caller: Caller) -> func.HttpResponse:
            if s.events is None:
                raise Unavailable("events are not configured")
            return json_response(s.events.retry(_event_id(raw_id), caller), status=202)

        target = {"event_id": raw_id}
        return api.act(req, action="retry_event", target=target, required=Permission.ADMIN, body=body)

    return bp
