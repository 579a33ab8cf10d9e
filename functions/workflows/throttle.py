"""Per-host clone throttle: a durable entity that hands out at most N image-clone slots per host, in order.

Python entities have no lock API and cannot signal orchestrations, so the entity answers ``acquire`` with granted
or not; a caller that is not granted joins a FIFO queue and retries after a durable timer, and only the head of the
queue can take a free slot, so callers are served in arrival order instead of failing. ``release`` frees the slot
(or leaves the queue). Slots held longer than a generous lease are reclaimed, so a crashed workflow cannot block a
host for ever; a holder whose work outlasts the lease (an image copy polled in the background) renews it by asking
again. Entity operations on one host run one at a time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df

from functions.models.json import JsonObject

__all__ = ["CLONE_SLOTS_ENTITY", "LEASE", "RENEW_AFTER", "SlotRequest", "Slots", "bp", "decide"]

bp = df.Blueprint()

CLONE_SLOTS_ENTITY = "clone_slots"
LEASE = timedelta(hours=2)
RENEW_AFTER = LEASE / 4
"""How often a holder renews its slot while its work runs on (well inside :data:`LEASE`)."""
# A queued caller that stops asking (its workflow died) loses its place after this long.
QUEUE_TIMEOUT = timedelta(minutes=10)


def _at(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        return None


@dataclass(frozen=True)
class Slots:
    """The semaphore's state: who holds a slot since when, and who waits (in order) since when."""

    holders: dict[str, str] = field(default_factory=dict)
    queue: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> JsonObject:
        """The entity's stored state: ``{"holders": {owner: at}, "queue": [[owner, at], …]}``."""
        return {"holders": dict(self.holders), "queue": [list(item) for item in self.queue]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Slots:
        """Parse the stored state."""
        data = data or {}
        holders = {str(owner): str(at) for owner, at in dict(data.get("holders", {})).items()}
        return cls(holders, tuple((str(item[0]), str(item[1])) for item in data.get("queue", [])))


@dataclass(frozen=True)
class SlotRequest:
    """One operation's input: who asks, when (orchestration time, ISO 8601), and the host's limit."""

    owner: str
    at: str | None = None
    limit: int = 1

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> SlotRequest:
        """Parse the operation's input."""
        data = data or {}
        at = data.get("at")
        return cls(str(data.get("owner")), None if at is None else str(at), max(1, int(data.get("limit", 1))))


def decide(state: Slots, operation: str, request: SlotRequest) -> tuple[Slots, Any]:
    """Pure transition of the semaphore: returns the new state and the operation's result."""
    holders = dict(state.holders)
    queue = list(state.queue)
    owner, stamp = request.owner, str(request.at)
    moment = _at(request.at)
    if moment is not None:
        holders = {o: t for o, t in holders.items() if (_at(t) or moment) + LEASE > moment}
        queue = [(o, t) for o, t in queue if (_at(t) or moment) + QUEUE_TIMEOUT > moment]
    result: Any = None
    if operation == "acquire":
        waiting = [o for o, _ in queue]
        if owner in holders:
            if request.at is not None:
                holders[owner] = stamp  # a holder asking again renews its lease (a long background copy)
            result = True
        elif len(holders) < request.limit and (waiting[0] if waiting else owner) == owner:
            holders[owner] = stamp
            queue = [item for item in queue if item[0] != owner]
            result = True
        else:
            queue = (
                [(o, stamp if o == owner else t) for o, t in queue] if owner in waiting else [*queue, (owner, stamp)]
            )
            result = False
    elif operation == "release":
        holders.pop(owner, None)
        queue = [item for item in queue if item[0] != owner]
        result = True
    elif operation == "get":
        result = {"holders": sorted(holders), "queue": [o for o, _ in queue]}
    else:
        raise ValueError(f"unknown operation {operation!r}")
    return Slots(holders, tuple(queue)), result


@bp.entity_trigger(context_name="context", entity_name=CLONE_SLOTS_ENTITY)
def clone_slots(context: df.DurableEntityContext) -> None:
    """The clone-slot semaphore of one host (entity key = host name)."""
    state = Slots.from_json(context.get_state(lambda: {"holders": {}, "queue": []}))
    new_state, result = decide(state, context.operation_name, SlotRequest.from_json(context.get_input()))
    context.set_state(new_state.to_json())
    context.set_result(result)
