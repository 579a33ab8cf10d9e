"""How a failure crosses from an activity to its orchestrator.

Durable Functions delivers an activity's failure to the orchestrator as a plain ``Exception`` whose message
contains the activity's exception message (no type survives). Activities therefore raise :class:`StepError`, whose
message embeds a small JSON marker — category, whether it is transient, a safe message — and orchestrators recover
it with :meth:`StepError.from_exception`, whatever text the host wraps around it. Messages never carry secrets.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["StepError"]

_MARKER = re.compile(r"AETHERV-ERROR(\{.*?\})END", re.DOTALL)


class StepError(Exception):
    """A workflow step failed: ``category`` (e.g. ``VmNotFound``), ``transient`` (retry may help), ``message``."""

    def __init__(self, category: str, message: str, *, transient: bool = False) -> None:
        self.category = category
        self.message = message
        self.transient = transient
        marker = json.dumps({"category": category, "transient": transient, "message": message}, ensure_ascii=True)
        super().__init__(f"{category}: {message} AETHERV-ERROR{marker}END")

    def to_json(self) -> dict[str, Any]:
        """The error as it appears in job records and API responses."""
        return {"category": self.category, "message": self.message, "transient": self.transient}

    @classmethod
    def from_exception(cls, exc: BaseException) -> StepError:
        """Recover the step error from whatever the orchestrator received (an unmarked failure is not transient)."""
        if isinstance(exc, StepError):
            return exc
        match = _MARKER.search(str(exc))
        if match:
            try:
                data = json.loads(match.group(1))
                return cls(str(data["category"]), str(data["message"]), transient=bool(data["transient"]))
            except (ValueError, KeyError, TypeError):
                pass
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return cls("InternalError", text[:300], transient=False)
