"""JSON documents as they go on the wire: request and response bodies, Table entities, orchestration history.

:data:`JsonObject` marks a value that *is* a JSON document at a boundary (parsed or about to be serialised); data on
its way between the layers travels as the typed records of :mod:`functions.models` and
:mod:`functions.provisioning`, never as one of these.
"""

from __future__ import annotations

from typing import Any

__all__ = ["JsonObject"]

JsonObject = dict[str, Any]
"""A JSON object at a boundary."""
