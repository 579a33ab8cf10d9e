"""Per-host clone throttle: a durable entity that hands out at most N image-clone slots per host, in order.

Python entities have no lock API and cannot signal orchestrations, so the entity answers ``acquire`` with granted
or not; a caller that is not granted joins a FIFO queue and retries after a durable timer, and only the head of the
queue can take a free slot, so callers are served in arrival order instead of failing. ``release`` frees the slot
(or leaves the queue). Slots held longer than a generous lease are reclaimed, so a crashed workflow cannot block a
host for ever. Entity operations on one host run one at a time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df

__all__ = ["CLONE_SLOTS_ENTITY", "LEASE", "bp", "decide"]

bp = df.Blueprint()

CLONE_SLOTS_ENTITY = "clone_slots"
LEASE = timedelta(hours=2)
# A queued caller that stops asking (its workflow died) loses its place after this long.
QUEUE_TIMEOUT = timedelta(minutes=10)


def _at(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        return None


def decide(state: dict[str, Any], operation: str, request: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """Pure transition of the semaphore: returns the new state and the operation's result."""
    holders: dict[str, str] = dict(state.get("holders", {}))
    queue: list[list[str]] = [list(item) for item in state.get("queue", [])]
    owner = str(request.get("owner"))
    moment = _at(request.get("at"))
    if moment is not None:
        holders = {o: t for o, t in holders.items() if (_at(t) or moment) + LEASE > moment}
        queue = [[o, t] for o, t in queue if (_at(t) or moment) + QUEUE_TIMEOUT > moment]
    result: Any = None
    if operation == "acquire":
        limit = max(1, int(request.get("limit", 1)))
        if owner in holders:
            result = True
        else:
            waiting = [o for o, _ in queue]
            head = waiting[0] if waiting else owner
            if len(holders) < limit and head == owner:
                holders[owner] = str(request.get("at"))
                queue = [item for item in queue if item[0] != owner]
                result = True
            else:
                if owner in waiting:
                    queue = [[o, str(request.get("at")) if o == owner else t] for o, t in queue]
                else:
                    queue.append([owner, str(request.get("at"))])
                result = False
    elif operation == "release":
        holders.pop(owner, None)
        queue = [item for item in queue if item[0] != owner]
        result = True
    elif operation == "get":
        result = {"holders": sorted(holders), "queue": [o for o, _ in queue]}
    else:
        raise ValueError(f"unknown operation {operation!r}")
    return {"holders": holders, "queue": queue}, result


@bp.entity_trigger(context_name="context", entity_name=CLONE_SLOTS_ENTITY)
def clone_slots(context: df.DurableEntityContext) -> None:
    """The clone-slot semaphore of one host (entity key = host name)."""
    state = context.get_state(lambda: {"holders": {}, "queue": []})
    new_state, result = decide(state, context.operation_name, context.get_input() or {})
    context.set_state(new_state)
    context.set_result(result)
