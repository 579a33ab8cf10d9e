"""One log entry, and the bounds every entry is held to (length, allowed levels and sources)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from functions.models.json import JsonObject

__all__ = ["MAX_MESSAGE", "Level", "LogEntry", "Source"]

MAX_MESSAGE = 2000
"""Longest message kept, in characters (a longer one is cut and marked)."""
Level = Literal["info", "warning", "error"]
Source = Literal["workflow", "host", "guest", "cleanup"]
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _clean(text: str) -> str:
    text = _CONTROL.sub(" ", text).strip()
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


@dataclass(frozen=True)
class LogEntry:
    """What happened (``message``), when (``at``, ISO 8601 UTC), how bad, where from, in which step, on which host."""

    at: str
    level: Level
    source: Source
    message: str
    step: str | None = None
    host: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", _clean(self.message))
        if self.at.endswith("+00:00"):  # one spelling of UTC in every entry
            object.__setattr__(self, "at", self.at.removesuffix("+00:00") + "Z")

    def to_json(self) -> JsonObject:
        """The entry as ``GET /api/v1/jobs/{id}/log`` shows it."""
        return {
            "at": self.at,
            "level": self.level,
            "source": self.source,
            "step": self.step,
            "host": self.host,
            "message": self.message,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LogEntry:
        """An entry from :meth:`to_json`'s document."""
        return cls(
            at=str(data["at"]),
            level=data.get("level", "info"),
            source=data.get("source", "workflow"),
            message=str(data.get("message", "")),
            step=data.get("step"),
            host=data.get("host"),
        )
