"""HTTP plumbing shared by the API blueprints: responses, problem+json, errors, request parsing, security headers.

One table (:data:`ERROR_STATUS`) maps domain exceptions to HTTP statuses; :func:`handle` runs a route body and turns
any exception into an RFC 9457 ``application/problem+json`` response without stack traces or secrets (unexpected
errors are logged with a correlation id that the response carries). Every response gets the security headers.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import azure.functions as func
from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

from functions.auth import AuthError, Permission, Principal, authorize
from functions.inventory.repository import InvalidContinuationError as InventoryContinuationError
from functions.jobs.service import JobConflictError
from functions.jobs.store import InvalidContinuationError as JobContinuationError
from functions.models.problems import Problem, RequestValidationError

__all__ = [
    "MAX_BODY_BYTES",
    "ApiError",
    "handle",
    "json_body",
    "json_response",
    "page_size",
    "problem_response",
]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
}


class ApiError(Exception):
    """An error with an HTTP status and a safe message (``problems`` for field-level details)."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        problems: list[Problem] | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.problems = problems or []
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def _with_security(headers: Mapping[str, str] | None) -> dict[str, str]:
    return {**SECURITY_HEADERS, **(headers or {})}


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> func.HttpResponse:
    """A JSON response with the security headers."""
    return func.HttpResponse(
        json.dumps(body, default=str), status_code=status, mimetype="application/json", headers=_with_security(headers)
    )


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    problems: list[Problem] | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> func.HttpResponse:
    """An RFC 9457 problem document."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if problems:
        body["errors"] = [p.to_json() for p in problems]
    body.update(extra or {})
    return func.HttpResponse(
        json.dumps(body, default=str),
        status_code=status,
        mimetype="application/problem+json",
        headers=_with_security(headers),
    )


def _storage_status(exc: HttpResponseError) -> int:
    return 503 if exc.status_code is None or exc.status_code >= 500 or exc.status_code == 429 else 502


# Domain exception → (status, title, detail); a detail of None shows the exception's own (safe) message.
ERROR_STATUS: tuple[tuple[type[BaseException], int, str, str | None], ...] = (
    (InventoryContinuationError, 400, "Invalid continuation token", None),
    (JobContinuationError, 400, "Invalid continuation token", None),
    (JobConflictError, 409, "Conflict", None),
    (ServiceRequestError, 503, "Storage is unavailable", "the inventory and job store cannot be reached; retry later"),
    (ServiceResponseError, 503, "Storage is unavailable", "the inventory and job store did not answer; retry later"),
)


def _to_response(exc: BaseException) -> func.HttpResponse:
    if isinstance(exc, ApiError):
        return problem_response(
            exc.status, exc.title, exc.detail, problems=exc.problems, headers=exc.headers, extra=exc.extra
        )
    if isinstance(exc, AuthError):
        problem = exc.problem()
        return problem_response(exc.status, str(problem["title"]), str(problem["detail"]), headers=exc.headers())
    if isinstance(exc, RequestValidationError):
        count = len(exc.problems)
        return problem_response(
            422, "The request is invalid", f"{count} problem(s) found; see errors", problems=exc.problems
        )
    if isinstance(exc, HttpResponseError):
        log.warning("storage error: HTTP %s", exc.status_code)
        return problem_response(_storage_status(exc), "Storage error", "the inventory or job store failed")
    for kind, status, title, detail in ERROR_STATUS:
        if isinstance(exc, kind):
            if detail is not None:
                log.warning("%s: %s", title, type(exc).__name__)
            headers = {"Retry-After": "10"} if status == 503 else None
            return problem_response(status, title, detail or str(exc), headers=headers)
    incident = uuid.uuid4().hex[:12]
    log.exception("unhandled error (incident %s)", incident)
    return problem_response(
        500, "Internal error", f"the request failed; incident {incident}", extra={"incident": incident}
    )


async def handle(
    req: func.HttpRequest,
    required: Permission | None,
    body: Callable[[Principal | None], Awaitable[func.HttpResponse]],
) -> func.HttpResponse:
    """Authorize ``req`` for ``required`` (None: anonymous), run ``body``, map every failure to problem+json."""
    try:
        principal = authorize(req.headers, required) if required is not None else None
        return await body(principal)
    except Exception as exc:
        return _to_response(exc)


def json_body(req: func.HttpRequest) -> Any:
    """The request's JSON body (size-limited), or an ApiError (413, 415, 400)."""
    raw = req.get_body() or b""
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, "Request too large", f"the body is larger than {MAX_BODY_BYTES} bytes")
    content_type = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if raw and content_type not in ("application/json", "", "text/json"):
        raise ApiError(415, "Unsupported media type", "send the body as application/json")
    if not raw:
        raise ApiError(400, "Missing body", "a JSON body is required")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "Invalid JSON", "the body is not valid JSON") from None


def page_size(req: func.HttpRequest, default: int = 50, maximum: int = 500) -> int:
    """The ``limit`` query parameter, validated."""
    text = req.params.get("limit")
    if text is None:
        return default
    if not text.isdigit() or not 1 <= int(text) <= maximum:
        raise ApiError(
            400,
            "Invalid query",
            f"limit must be 1-{maximum}",
            problems=[Problem("limit", f"must be a whole number from 1 to {maximum}")],
        )
    return int(text)
