"""Domain errors, below every layer, and the one table from an error to its HTTP problem.

Every layer raises these (or its own family, translated once at its boundary with ``raise … from exc``); nothing
above this module maps an exception to a status by hand: :func:`problem_for` looks it up in :data:`ERROR_TABLE`,
the only such table. Messages are safe to show to the caller and to log: they never quote secrets.

::

    DomainError                   base: ``message``, ``category``, ``transient``, ``extra`` (safe fields)
    ├── NotFound                  404  the addressed VM, host, job or resource does not exist
    │   └── HostNotConfigured     404  the host is not in AETHERV_HOSTS
    ├── InvalidState              409  the target is in a state the operation cannot start from (``state``)
    ├── Conflict                  409  the request conflicts with an earlier one (e.g. a reused Idempotency-Key)
    ├── InvalidQuery              400  query parameters or a continuation token are invalid (``problems``)
    ├── InvalidRequest            422  the body is well-formed but invalid (``problems``)
    ├── BadRequest                400  the body cannot be read
    │   ├── MissingBody           400  a JSON body is required
    │   └── InvalidJson           400  the body is not JSON, or nests too deep
    ├── PayloadTooLarge           413
    ├── UnsupportedMediaType      415
    ├── Unauthenticated           401  (the auth layer's errors derive from these three)
    ├── Forbidden                 403
    ├── Unavailable               503  a dependency cannot be reached right now; retry (``retry_after``)
    │   └── HostUnavailable       503  a Hyper-V host cannot be reached (502 when retrying will not help)
    ├── NotConfigured             503  the app's settings are invalid (every problem listed, no values)
    └── StepError                 a workflow step failed: crosses from an activity to its orchestrator

:class:`StepError` embeds a small JSON marker in its message, because Durable Functions hands an activity's failure
to the orchestrator as a plain exception whose text contains the activity's message (no type survives);
:meth:`StepError.from_exception` recovers it whatever text the host wraps around it.
"""

# The class names are the categories callers see (``NotFound``, ``Conflict``), so they carry no "Error" suffix.
# ruff: noqa: N818

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

from functions.models.jobs import JobError
from functions.models.json import JsonObject
from functions.models.problems import Problem, RequestValidationError
from functions.settings import SettingsError

__all__ = [
    "ERROR_TABLE",
    "INTERNAL",
    "JOB_CANCELED",
    "JOB_FAILED",
    "BadRequest",
    "Conflict",
    "DomainError",
    "Forbidden",
    "HostNotConfigured",
    "HostUnavailable",
    "InvalidJson",
    "InvalidQuery",
    "InvalidRequest",
    "InvalidState",
    "MissingBody",
    "NotConfigured",
    "NotFound",
    "PayloadTooLarge",
    "ProblemSpec",
    "ProblemType",
    "StepError",
    "Unauthenticated",
    "Unavailable",
    "UnsupportedMediaType",
    "problem_for",
    "problem_types",
]

PROBLEM_BASE = "urn:aetherv:problem:"


class DomainError(Exception):
    """Base of the domain errors: a safe ``message`` and optional safe ``extra`` fields for the problem document."""

    category: str = "Error"
    transient: bool = False

    def __init__(self, message: str, *, extra: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = dict(extra or {})

    def response_headers(self) -> dict[str, str]:
        """Headers that belong on the problem response (``Retry-After``, ``WWW-Authenticate`` …)."""
        return {}


class NotFound(DomainError):
    """The addressed VM, host, job or resource does not exist."""

    category = "NotFound"


class HostNotConfigured(NotFound):
    """The named Hyper-V host is not one of the configured hosts."""

    category = "HostNotConfigured"

    def __init__(self, host: str) -> None:
        super().__init__(f"host {host} is not configured")
        self.host = host


class InvalidState(DomainError):
    """The target is in a state the operation cannot start from; ``state`` is that state."""

    category = "InvalidState"

    def __init__(self, message: str, state: str | None) -> None:
        super().__init__(message, extra={"state": state})
        self.state = state


class Conflict(DomainError):
    """The request conflicts with an earlier one (an Idempotency-Key reused with another body, a busy target)."""

    category = "Conflict"


class _WithProblems(DomainError):
    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


class InvalidQuery(_WithProblems):
    """Query parameters (or a continuation token) are invalid; ``problems`` names each."""

    category = "InvalidQuery"


class InvalidRequest(_WithProblems):
    """The body is well-formed but invalid; ``problems`` names every offending field."""

    category = "InvalidRequest"


class BadRequest(DomainError):
    """The body cannot be read: missing, not JSON, or not the expected shape."""

    category = "BadRequest"


class MissingBody(BadRequest):
    """The route needs a JSON body and none was sent."""

    category = "MissingBody"


class InvalidJson(BadRequest):
    """The body is not JSON (or nests too deep to be read)."""

    category = "InvalidJson"


class PayloadTooLarge(DomainError):
    """The body exceeds the size limit."""

    category = "PayloadTooLarge"


class UnsupportedMediaType(DomainError):
    """The body is not ``application/json``."""

    category = "UnsupportedMediaType"


class Unauthenticated(DomainError):
    """The caller is not (validly) authenticated."""

    category = "Unauthenticated"


class Forbidden(DomainError):
    """The caller is known but may not do this."""

    category = "Forbidden"


class Unavailable(DomainError):
    """A dependency cannot be reached right now; ``retry_after`` seconds is a good time to try again."""

    category = "Unavailable"
    transient = True

    def __init__(self, message: str, *, retry_after: int = 10) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def response_headers(self) -> dict[str, str]:
        """``Retry-After``."""
        return {"Retry-After": str(self.retry_after)}


class HostUnavailable(Unavailable):
    """A Hyper-V host cannot be reached or answered with an error (``transient`` False: retrying will not help)."""

    category = "HostUnavailable"

    def __init__(self, host: str, reason: str, *, transient: bool = True) -> None:
        super().__init__(f"{host}: {reason}", retry_after=30)
        self.host = host
        self.transient = transient


class NotConfigured(Unavailable):
    """The app's settings are invalid; ``problems`` lists every problem (names and rules, never values)."""

    category = "NotConfigured"

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("the app's settings are invalid: " + "; ".join(problems), retry_after=60)
        self.problems = list(problems)


_MARKER = re.compile(r"AETHERV-ERROR(\{.*?\})END", re.DOTALL)


class StepError(DomainError):
    """A workflow step failed: ``category`` (e.g. ``VmNotFound``), ``transient`` (retry may help), ``message``."""

    def __init__(self, category: str, message: str, *, transient: bool = False) -> None:
        marker = json.dumps({"category": category, "transient": transient, "message": message}, ensure_ascii=True)
        super().__init__(message)
        self.args = (f"{category}: {message} AETHERV-ERROR{marker}END",)
        self.category = category
        self.transient = transient

    def to_json(self) -> JsonObject:
        """The error as it appears in job records and API responses."""
        return self.job_error().to_json()

    def job_error(self) -> JobError:
        """The error as a job record holds it."""
        return JobError(self.category, self.message, self.transient)

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


# -- the one table ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProblemType:
    """How one kind of error is answered: HTTP status, title, problem ``type`` slug, fixed detail (or the message)."""

    status: int
    title: str
    slug: str
    detail: str | None = None

    @property
    def uri(self) -> str:
        """The problem ``type`` URI (RFC 9457 §3.1.1): stable, documented in the README, not dereferenceable."""
        return PROBLEM_BASE + self.slug


ERROR_TABLE: tuple[tuple[type[BaseException], ProblemType], ...] = (
    (HostNotConfigured, ProblemType(404, "Not found", "host-not-configured")),
    (NotFound, ProblemType(404, "Not found", "not-found")),
    (InvalidState, ProblemType(409, "Invalid state", "invalid-state")),
    (Conflict, ProblemType(409, "Conflict", "conflict")),
    (InvalidQuery, ProblemType(400, "Invalid query", "invalid-query")),
    (InvalidRequest, ProblemType(422, "The request is invalid", "invalid-request")),
    (RequestValidationError, ProblemType(422, "The request is invalid", "invalid-request")),
    (MissingBody, ProblemType(400, "Missing body", "missing-body")),
    (InvalidJson, ProblemType(400, "Invalid JSON", "invalid-json")),
    (BadRequest, ProblemType(400, "Bad request", "bad-request")),
    (PayloadTooLarge, ProblemType(413, "Request too large", "payload-too-large")),
    (UnsupportedMediaType, ProblemType(415, "Unsupported media type", "unsupported-media-type")),
    (Unauthenticated, ProblemType(401, "Unauthorized", "unauthenticated")),
    (Forbidden, ProblemType(403, "Forbidden", "forbidden")),
    (NotConfigured, ProblemType(503, "Not configured", "not-configured")),
    (HostUnavailable, ProblemType(503, "Host unavailable", "host-unavailable")),
    (Unavailable, ProblemType(503, "Service unavailable", "unavailable")),
    (SettingsError, ProblemType(503, "Not configured", "not-configured")),
    (
        ServiceRequestError,
        ProblemType(
            503, "Storage is unavailable", "storage-unavailable", "the inventory and job store cannot be reached"
        ),
    ),
    (
        ServiceResponseError,
        ProblemType(503, "Storage is unavailable", "storage-unavailable", "the inventory and job store did not answer"),
    ),
    (HttpResponseError, ProblemType(503, "Storage error", "storage-error", "the inventory or job store failed")),
)
"""Error type → problem, most specific first; :func:`problem_for` takes the first row that matches."""

INTERNAL = ProblemType(500, "Internal error", "internal")
JOB_FAILED = ProblemType(422, "Job failed", "job-failed")
"""``GET /jobs/{id}`` of a failed job: the job (failed step, error, cleanup) is in the document's ``job``."""
JOB_CANCELED = ProblemType(409, "Job canceled", "job-canceled")


def problem_types() -> tuple[ProblemType, ...]:
    """Every problem type the API answers with (each slug once), as the README documents them."""
    seen: dict[str, ProblemType] = {}
    for problem in (*(row for _, row in ERROR_TABLE), JOB_FAILED, JOB_CANCELED, INTERNAL):
        seen.setdefault(problem.slug, problem)
    return tuple(seen.values())


@dataclass(frozen=True)
class ProblemSpec:
    """The problem document of one error: its type, status, detail, field problems, headers and extra members."""

    kind: ProblemType
    status: int
    detail: str
    problems: tuple[Problem, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    extra: tuple[tuple[str, Any], ...] = ()


def _storage_status(exc: HttpResponseError) -> int:
    code = exc.status_code
    return 503 if code is None or code >= 500 or code == 429 else 502


def problem_for(exc: BaseException) -> ProblemSpec | None:
    """The problem for ``exc`` from :data:`ERROR_TABLE`, or ``None`` for an unexpected error (a 500)."""
    for kind, problem in ERROR_TABLE:
        if not isinstance(exc, kind):
            continue
        status = problem.status
        headers: list[tuple[str, str]] = []
        extra: list[tuple[str, Any]] = []
        problems: list[Problem] = list(getattr(exc, "problems", []) or [])
        detail = problem.detail or (exc.message if isinstance(exc, DomainError) else str(exc))
        if isinstance(exc, HttpResponseError) and not isinstance(exc, ServiceRequestError | ServiceResponseError):
            status = _storage_status(exc)
        if isinstance(exc, HostUnavailable) and not exc.transient:
            status = 502
        if isinstance(exc, RequestValidationError | InvalidRequest):
            detail = f"{len(problems)} problem(s) found; see errors"
        if isinstance(exc, NotConfigured | SettingsError):
            detail = "the app's settings are invalid; an administrator must fix them (see /api/readyz)"
            problems = [Problem("settings", text) for text in exc.problems]
        if isinstance(exc, DomainError):
            extra += sorted(exc.extra.items())
            headers += sorted(exc.response_headers().items())
        if status == 503 and not any(name == "Retry-After" for name, _ in headers):
            headers.append(("Retry-After", "10"))
        return ProblemSpec(problem, status, detail, tuple(problems), tuple(headers), tuple(extra))
    return None
