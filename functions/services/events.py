"""The event service: the dead letters the API shows and replays, and the delivery pass the pump runs.

``GET /api/v1/events/failed`` lists dead-lettered events (Admin: an event's data is a whole job document);
``POST /api/v1/events/failed/{event_id}/retry`` puts one back into the outbox with the same id, owed to the same
sinks, and is audited. Without any sink configured both still answer: nothing is ever dead-lettered then.
"""

from __future__ import annotations

from functions.errors import NotFound
from functions.events.delivery import EventDelivery
from functions.models.json import JsonObject
from functions.models.paging import Page
from functions.services.audit import AuditTrail, Caller

__all__ = ["EventService"]


class EventService:
    """Dead letters and their replay, over the delivery's outbox."""

    def __init__(self, delivery: EventDelivery, audit: AuditTrail) -> None:
        self.delivery = delivery
        self.audit = audit

    def failed(self, *, page_size: int, continuation: str | None) -> Page[JsonObject]:
        """A page of dead-lettered events, as the API shows them."""
        items, token = self.delivery.outbox.failed(page_size, continuation)
        return Page(items=[item.to_json(self.delivery.label) for item in items], continuation=token)

    def retry(self, event_id: str, caller: Caller) -> JsonObject:
        """Replay one dead-lettered event; what was replayed (``NotFound``: no such dead letter)."""
        with self.audit.write(caller, "retry_event", {"event_id": event_id}, status=202):
            replayed = self.delivery.outbox.retry(event_id)
            if replayed is None:
                raise NotFound(f"no failed event {event_id}")
        return {
            "id": replayed.event.id,
            "type": replayed.event.type,
            "subject": replayed.event.subject,
            "status": "pending",
        }

    def deliver(self) -> float:
        """One delivery pass; seconds until the next is due (negative: no sink is configured)."""
        if not self.delivery.sinks:
            return -1.0
        self.delivery.run()
        return self.delivery.next_in()
