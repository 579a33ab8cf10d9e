"""The event part of the OpenAPI document: the dead-letter routes (``/v1/events/failed``) and their schema.

:class:`FailedEventView` mirrors :meth:`functions.events.outbox.FailedEvent.to_json`. The events themselves are
described in ``docs/events.md`` (they are sent, not served).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from functions.models.json import JsonObject

__all__ = ["event_paths", "event_schemas"]

_PROBLEM = {"$ref": "#/components/responses/Problem"}
_ERRORS = {"401": _PROBLEM, "403": _PROBLEM, "500": _PROBLEM, "503": _PROBLEM}


class FailedEventView(BaseModel):
    """An event that no retry delivered before the horizon: what was owed, the last error, the event itself."""

    id: str = Field(description="The event's id (the CloudEvents `id` and the `webhook-id` header).")
    type: str = Field(description="The CloudEvents `type`, e.g. `io.aetherv.job.failed`.")
    subject: str = Field(description="The resource path, e.g. `/jobs/{job_id}`.")
    sinks: list[str] = Field(description="The sinks that still lack it, by a safe label (a receiver's host).")
    attempts: int
    created: str
    failed_at: str
    last_error: str = Field(description="Per sink: a status code or an error class; never a URL or a response.")
    event: dict[str, Any] = Field(description="The structured-mode CloudEvent as it is delivered.")


class EventRetryView(BaseModel):
    """A dead-lettered event put back into the outbox (delivery follows, with the same id)."""

    id: str
    type: str
    subject: str
    status: str = Field(description="`pending`.")


def _json(schema: JsonObject, description: str) -> JsonObject:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def event_paths() -> JsonObject:
    """The paths of the event routes."""
    page = {
        "type": "object",
        "required": ["items", "continuation"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/FailedEventView"}},
            "continuation": {"type": ["string", "null"]},
        },
    }
    listing = [
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
        {"name": "continuation", "in": "query", "schema": {"type": "string"}},
    ]
    event_id = {"name": "event_id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "/v1/events/failed": {
            "get": {
                "summary": "Dead-lettered events (Admin)",
                "parameters": listing,
                "responses": {"200": _json(page, "A page of failed events"), "400": _PROBLEM, **_ERRORS},
            }
        },
        "/v1/events/failed/{event_id}/retry": {
            "post": {
                "summary": "Deliver a dead-lettered event again, with the same id (Admin)",
                "parameters": [event_id],
                "responses": {
                    "202": _json({"$ref": "#/components/schemas/EventRetryView"}, "Back in the outbox"),
                    "404": _PROBLEM,
                    **_ERRORS,
                },
            }
        },
    }


def event_schemas() -> JsonObject:
    """The schemas the event paths refer to."""
    return {
        model.__name__: model.model_json_schema(ref_template="#/components/schemas/{model}")
        for model in (FailedEventView, EventRetryView)
    }
