"""HTTP plumbing shared by the API blueprints: running a route, answering it, and parsing what callers send.

:class:`Api` runs a route body: it authorizes the caller, hands the body the process's services and the caller, and
turns any exception into an RFC 9457 ``application/problem+json`` response through the one error table
(:func:`functions.errors.problem_for`) — without stack traces or secrets (an unexpected error is logged with an
incident id that the response carries). A write refused by authentication or authorization is audited here, since
it never reaches a service. Every response gets the security headers. Every route runs in its HTTP server span
(:func:`traced`: route template, method, status, and the job id of a job route or of a 202's job).

Reads are synchronous functions (the worker runs them in its thread pool); so is a write that answers at once
without a workflow (:meth:`Api.act`, the host probe). Writes that start workflows need the Durable client binding,
which exists only in ``async def`` functions, so they run their blocking work in a thread
(:func:`functions.workflows.starter.in_thread`) and never block the worker's event loop.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import azure.durable_functions as df
import azure.functions as func
import pydantic_core
from opentelemetry.trace import SpanKind

from functions.auth import AuthError, Permission, Principal
from functions.errors import (
    INTERNAL,
    InvalidJson,
    InvalidQuery,
    InvalidRequest,
    MissingBody,
    PayloadTooLarge,
    UnsupportedMediaType,
    problem_for,
)
from functions.models.json import JsonObject
from functions.models.problems import Problem
from functions.services.audit import Caller
from functions.services.bundle import Services, ServicesProvider
from functions.telemetry import link_to_job, mark_failed, start_span
from functions.telemetry import names as telemetry_names
from functions.workflows.starter import DurableWorkflows, in_thread

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_IDEMPOTENCY_KEY",
    "SECURITY_HEADERS",
    "Api",
    "accepted",
    "client_ip",
    "documents_response",
    "idempotency_key",
    "json_body",
    "json_response",
    "page_size",
    "problem_response",
    "route_of",
    "traced",
]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
MAX_JSON_DEPTH = 64
MAX_IDEMPOTENCY_KEY = 200
RETRY_AFTER = "5"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
}
_IDEMPOTENCY_KEY = re.compile(rf"[\x21-\x7e]{{1,{MAX_IDEMPOTENCY_KEY}}}")
_WHOLE_NUMBER = re.compile(r"[0-9]{1,6}")


def _with_security(headers: Mapping[str, str] | None) -> dict[str, str]:
    return {**SECURITY_HEADERS, **(headers or {})}


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> func.HttpResponse:
    """A JSON response with the security headers."""
    return func.HttpResponse(
        json.dumps(body, default=str), status_code=status, mimetype="application/json", headers=_with_security(headers)
    )


def documents_response(body: Any) -> func.HttpResponse:
    """:func:`json_response` (200) for a body of plain JSON values only, as the views build them.

    Dicts, lists, strings, numbers, booleans and null, encoded by pydantic's compiled encoder: the same JSON, compact,
    a few times faster on long lists. A string UTF-8 cannot carry (a lone surrogate) goes through
    :func:`json_response`, which escapes it.
    """
    try:
        data = pydantic_core.to_json(body)
    except pydantic_core.PydanticSerializationError:
        return json_response(body)
    return func.HttpResponse(data, status_code=200, mimetype="application/json", headers=_with_security(None))


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    kind: str = "about:blank",
    problems: list[Problem] | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> func.HttpResponse:
    """An RFC 9457 problem document."""
    body: JsonObject = {"type": kind, "title": title, "status": status, "detail": detail}
    if problems:
        body["errors"] = [p.to_json() for p in problems]
    body.update(extra or {})
    return func.HttpResponse(
        json.dumps(body, default=str),
        status_code=status,
        mimetype="application/problem+json",
        headers=_with_security(headers),
    )


def error_response(exc: BaseException) -> func.HttpResponse:
    """The problem response for ``exc`` (the error table's), or a 500 with an incident id for anything else."""
    spec = problem_for(exc)
    if spec is None:
        incident = uuid.uuid4().hex[:12]
        log.error("unhandled error (incident %s)", incident, exc_info=exc)
        return problem_response(
            INTERNAL.status,
            INTERNAL.title,
            f"the request failed; incident {incident}",
            kind=INTERNAL.uri,
            extra={"incident": incident},
        )
    if spec.status >= 500:
        log.warning("%s: %s", spec.kind.title, type(exc).__name__)
    return problem_response(
        spec.status,
        spec.kind.title,
        spec.detail,
        kind=spec.kind.uri,
        problems=list(spec.problems),
        headers=dict(spec.headers),
        extra=dict(spec.extra),
    )


def origin(req: func.HttpRequest) -> str:
    """``scheme://host[:port]`` of the request's URL."""
    parts = urlsplit(req.url)
    return f"{parts.scheme}://{parts.netloc}"


def job_location(req: func.HttpRequest, job_id: str) -> str:
    """The app's own URL of a job (never the Durable webhook URLs, which carry the system key)."""
    return f"{origin(req)}/api/v1/jobs/{job_id}"


def accepted(req: func.HttpRequest, view: Mapping[str, Any]) -> func.HttpResponse:
    """``202 Accepted`` with the job document, its ``Location`` and ``Retry-After``."""
    headers = {"Location": job_location(req, str(view["id"])), "Retry-After": RETRY_AFTER}
    return json_response(view, 202, headers)


def client_ip(req: func.HttpRequest) -> str | None:
    """The client address the platform's front end saw: the last ``X-Forwarded-For`` hop (``ip:port`` → ip).

    App Service's front end appends the address it accepted the connection from to ``X-Forwarded-For``; the hops
    before it are whatever the caller sent and prove nothing, so only the last one is recorded.
    """
    hops = [hop.strip() for hop in str(req.headers.get("X-Forwarded-For") or "").split(",") if hop.strip()]
    if not hops:
        return None
    last = hops[-1]
    if last.startswith("[") and "]" in last:
        return last[1 : last.index("]")]
    return last.rsplit(":", 1)[0] if last.count(":") == 1 else last


def _depth(value: Any, limit: int) -> int:
    depth, frontier = 0, [value]
    while frontier:
        depth += 1
        if depth > limit:
            return depth
        frontier = [
            item
            for node in frontier
            for item in (node.values() if isinstance(node, dict) else node if isinstance(node, list) else ())
            if isinstance(item, dict | list)
        ]
    return depth


def json_body(req: func.HttpRequest, *, required: bool = True) -> Any:
    """The request's JSON body (size- and depth-limited); ``None`` for an empty optional body."""
    raw = req.get_body() or b""
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is larger than {MAX_BODY_BYTES} bytes")
    content_type = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if raw and content_type not in ("application/json", "", "text/json"):
        raise UnsupportedMediaType("send the body as application/json")
    if not raw:
        if required:
            raise MissingBody("a JSON body is required")
        return None
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidJson("the body is not valid JSON") from None
    except RecursionError:
        raise InvalidJson(f"the body is nested deeper than {MAX_JSON_DEPTH} levels") from None
    if _depth(document, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise InvalidJson(f"the body is nested deeper than {MAX_JSON_DEPTH} levels")
    return document


def page_size(req: func.HttpRequest, default: int = 50, maximum: int = 500) -> int:
    """The ``limit`` query parameter: a whole number (ASCII digits) from 1 to ``maximum``."""
    text = req.params.get("limit")
    if text is None:
        return default
    if not _WHOLE_NUMBER.fullmatch(text) or not 1 <= int(text) <= maximum:
        raise InvalidQuery(
            f"limit must be 1-{maximum}", [Problem("limit", f"must be a whole number from 1 to {maximum}")]
        )
    return int(text)


def idempotency_key(req: func.HttpRequest) -> str | None:
    """The ``Idempotency-Key`` header: printable ASCII without spaces, at most :data:`MAX_IDEMPOTENCY_KEY` long."""
    value: str | None = req.headers.get("Idempotency-Key")
    if value is None:
        return None
    if not _IDEMPOTENCY_KEY.fullmatch(value):
        problem = Problem(
            "Idempotency-Key", f"must be 1-{MAX_IDEMPOTENCY_KEY} printable ASCII characters without spaces"
        )
        raise InvalidRequest("the Idempotency-Key header is invalid", [problem])
    return value


def route_of(req: func.HttpRequest) -> str:
    """The route template of ``req``: its path with each route parameter's segment named (``/api/v1/jobs/{job_id}``)."""
    segments = urlsplit(req.url).path.split("/")
    names = {value: name for name, value in (req.route_params or {}).items() if value}
    return "/".join(f"{{{names[segment]}}}" if segment in names else segment for segment in segments)


def traced(req: func.HttpRequest, run: Callable[[], func.HttpResponse]) -> func.HttpResponse:
    """``run()``'s response, in the request's server span: route, method, status, and the job of a job route or 202."""
    params = req.route_params or {}
    attributes = {
        telemetry_names.HTTP_ROUTE: route_of(req),
        telemetry_names.HTTP_METHOD: req.method,
        telemetry_names.JOB_ID: params.get("job_id"),
    }
    name = f"{req.method} {attributes[telemetry_names.HTTP_ROUTE]}"
    with start_span(name, attributes, kind=SpanKind.SERVER) as span:
        response = run()
        span.set_attribute(telemetry_names.HTTP_STATUS, response.status_code)
        location = response.headers.get("Location") or ""
        if response.status_code == 202 and "/api/v1/jobs/" in location:
            job_id = location.rsplit("/", 1)[-1]
            span.set_attribute(telemetry_names.JOB_ID, job_id)
            link_to_job(span, job_id)
        if response.status_code >= 500:
            mark_failed(span, f"HTTP {response.status_code}")
        return response


Body = Callable[[Services, Caller], func.HttpResponse]
WriteBody = Callable[[Services, Caller, DurableWorkflows], func.HttpResponse]


class Api:
    """Runs routes against the process's services (see the module docstring)."""

    def __init__(self, services: ServicesProvider) -> None:
        self.services = services

    def read(self, req: func.HttpRequest, required: Permission, body: Body) -> func.HttpResponse:
        """Authorize ``req`` for ``required`` and run ``body``; every failure becomes problem+json."""

        def run() -> func.HttpResponse:
            try:
                services = self.services()
                principal = services.authenticator.authorize(req.headers, required)
                return body(services, Caller(principal, client_ip(req)))
            except Exception as exc:
                return error_response(exc)

        return traced(req, run)

    async def read_async(
        self, req: func.HttpRequest, client: df.DurableOrchestrationClient, required: Permission, body: WriteBody
    ) -> func.HttpResponse:
        """:meth:`read` for a route that also needs a workflow client (in a thread, like :meth:`write`)."""

        def run(workflows: DurableWorkflows) -> func.HttpResponse:
            return self.read(req, required, lambda services, caller: body(services, caller, workflows))

        return await in_thread(client, run)

    def act(
        self,
        req: func.HttpRequest,
        *,
        action: str,
        target: Mapping[str, Any],
        required: Permission,
        body: Body,
    ) -> func.HttpResponse:
        """Like :meth:`read` for a write that answers at once (no workflow); a refused caller is audited (401/403)."""

        def run() -> func.HttpResponse:
            try:
                services = self.services()
                principal = self._authorize(services, req, required, action, target)
                return body(services, Caller(principal, client_ip(req)))
            except Exception as exc:
                return error_response(exc)

        return traced(req, run)

    async def write(
        self,
        req: func.HttpRequest,
        client: df.DurableOrchestrationClient,
        *,
        action: str,
        target: Mapping[str, Any],
        required: Permission,
        body: WriteBody,
    ) -> func.HttpResponse:
        """Like :meth:`act`, in a thread with a workflow client; a refused caller is audited (401/403)."""

        def run(workflows: DurableWorkflows) -> func.HttpResponse:
            return self.act(
                req,
                action=action,
                target=target,
                required=required,
                body=lambda services, caller: body(services, caller, workflows),
            )

        return await in_thread(client, run)

    @staticmethod
    def _authorize(
        services: Services, req: func.HttpRequest, required: Permission, action: str, target: Mapping[str, Any]
    ) -> Principal:
        principal: Principal | None = None
        try:
            principal = services.authenticator.authenticate(req.headers)
            return services.authenticator.authorize_principal(principal, required)
        except AuthError as exc:
            if exc.status in (401, 403):
                services.audit.denied(principal, action, target, exc.status, client_ip(req))
            raise
