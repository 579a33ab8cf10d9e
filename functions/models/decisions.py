"""The body of ``POST /api/v1/jobs/{job_id}/approve`` and ``/reject``: the decider's reason."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from functions.models.problems import Problem, RequestValidationError, problems_from_pydantic

__all__ = ["DecisionRequest", "parse_decision"]


class DecisionRequest(BaseModel):
    """Why the job is approved or rejected (required to reject: the requester reads it)."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, frozen=True)

    reason: str | None = Field(default=None, min_length=1, max_length=500, description="Why (shown on the job).")


def parse_decision(payload: Any, *, rejecting: bool) -> DecisionRequest:
    """``payload`` (decoded JSON, or None) validated; every problem named at once."""
    try:
        request = DecisionRequest.model_validate(payload if payload is not None else {})
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False, include_context=False)
        raise RequestValidationError(problems_from_pydantic(errors)) from None
    if rejecting and not (request.reason or "").strip():
        raise RequestValidationError([Problem("reason", "is required to reject: say why", "missing")])
    return request
