"""Validation problems: one field path and message per problem, reported all at once, never quoting input."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Problem", "RequestValidationError", "problems_from_pydantic"]


@dataclass(frozen=True)
class Problem:
    """One validation problem: the dotted field path (``guest.ipv4.gateway``), a message and a stable code."""

    field: str
    message: str
    code: str = "invalid"

    def to_json(self) -> dict[str, str]:
        """The problem as it appears in a problem+json ``errors`` list."""
        return {"field": self.field, "message": self.message, "code": self.code}


class RequestValidationError(ValueError):
    """A request failed validation; ``problems`` lists every problem found, in field order."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        detail = "; ".join(f"{p.field or '(body)'}: {p.message}" for p in self.problems)
        super().__init__(f"{len(self.problems)} validation problem(s): {detail}")


def _path(loc: Iterable[Any]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


_MESSAGE_OVERRIDES = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
}


def problems_from_pydantic(errors: Iterable[Any]) -> list[Problem]:
    """Convert pydantic error dicts (from ``errors(include_input=False)``) into problems.

    Only the location, message and type are used: input values (which may be secrets) are never copied.
    """
    problems: list[Problem] = []
    for error in errors:
        kind = str(error.get("type", "invalid"))
        message = _MESSAGE_OVERRIDES.get(kind) or str(error.get("msg", "is invalid"))
        message = message.removeprefix("Value error, ")
        problems.append(Problem(field=_path(error.get("loc", ())), message=message, code=kind))
    return problems
