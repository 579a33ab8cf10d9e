"""Spans: the app's tracer, the job a piece of work belongs to, and one trace per job.

Every span the app makes carries :data:`~functions.telemetry.names.JOB_ID` once a job is known, so one search by
job id in Application Insights finds the whole job. Durable activities run in other invocations (often other
workers) than the HTTP request that started the job, so no in-process context links them; instead:

- :func:`job_scope` marks the work of one job in the current context (a ``contextvars`` variable): every span
  started in it through :func:`start_span` gets the job id, and — with ``in_job_trace`` — is placed in the job's
  own trace: a trace id derived from the job id (:func:`job_context`), the same in every worker and every replay.
  Activities, the WinRM operations they run, the steps and the job span therefore form one trace per job, whose
  operation id in Application Insights is :func:`job_trace_id`. Such a span links to the span it was started
  under, if any (the Functions host's invocation). The HTTP request that accepted the job is in the caller's trace,
  carries the job id as an attribute and links to the job's trace (:func:`link_to_job`).
- Nothing here is used by orchestrators (they replay; ``tests/workflows/test_determinism.py`` forbids this package
  there): step and job spans come from the job record instead (:mod:`functions.telemetry.jobs`).

With no SDK provider installed (telemetry ``none``), the OpenTelemetry API returns non-recording spans: every call
here costs next to nothing and sends nothing.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, NonRecordingSpan, Span, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util.types import AttributeValue

from functions.telemetry import names

__all__ = [
    "carried",
    "current_job",
    "iso_to_ns",
    "job_context",
    "job_scope",
    "job_span_context",
    "job_trace_id",
    "link_to_job",
    "mark_failed",
    "start_span",
    "tracer",
]

T = TypeVar("T")
R = TypeVar("R")

_JOB: contextvars.ContextVar[str | None] = contextvars.ContextVar("aetherv_job_id", default=None)


def tracer() -> trace.Tracer:
    """The app's tracer (the global provider's; a no-op until one is installed)."""
    return trace.get_tracer(names.TRACER)


def current_job() -> str | None:
    """The job whose work runs in the current context, if any."""
    return _JOB.get()


def _ids(job_id: str) -> tuple[int, int]:
    digest = hashlib.sha256(f"aetherv job {job_id}".encode()).digest()
    return int.from_bytes(digest[:16], "big") or 1, int.from_bytes(digest[16:24], "big") or 1


def job_trace_id(job_id: str) -> str:
    """The 32-hex-digit trace id of the job's trace (Application Insights' ``operation_Id``)."""
    return format(_ids(job_id)[0], "032x")


def job_span_context(job_id: str) -> SpanContext:
    """The (remote, sampled) span context at the root of the job's trace."""
    trace_id, span_id = _ids(job_id)
    return SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))


def job_context(job_id: str) -> otel_context.Context:
    """A context whose parent puts new spans into the job's trace."""
    return trace.set_span_in_context(NonRecordingSpan(job_span_context(job_id)))


def link_to_job(span: Span, job_id: str) -> None:
    """Link ``span`` (e.g. the HTTP request that accepted the job) to the job's trace."""
    span.add_link(job_span_context(job_id), {names.JOB_ID: job_id})


@contextlib.contextmanager
def job_scope(job_id: str | None) -> Iterator[None]:
    """Mark the work inside the block as ``job_id``'s (nothing changes for ``None``)."""
    if job_id is None:
        yield
        return
    token = _JOB.set(job_id)
    try:
        yield
    finally:
        _JOB.reset(token)


@contextlib.contextmanager
def start_span(
    name: str,
    attributes: Mapping[str, AttributeValue | None],
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    in_job_trace: bool = False,
    start_time: int | None = None,
) -> Iterator[Span]:
    """A span named ``name`` with ``attributes`` (``None`` values left out) and the current job's id.

    ``in_job_trace`` parents it in the job's trace (see the module docstring) when a job is known. An exception
    that escapes the block is recorded on the span (type only: messages may name things that are nobody's business)
    and marks it failed.
    """
    job_id = current_job()
    values = {key: value for key, value in attributes.items() if value is not None}
    if job_id is not None:
        values.setdefault(names.JOB_ID, job_id)
    parent = job_context(job_id) if in_job_trace and job_id is not None else None
    caller = trace.get_current_span().get_span_context()
    links = [Link(caller)] if parent is not None and caller.is_valid else None  # e.g. the Functions invocation
    with tracer().start_as_current_span(
        name,
        context=parent,
        kind=kind,
        attributes=values,
        links=links,
        start_time=start_time,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as exc:
            if not _marked(span):
                mark_failed(span, type(exc).__name__)
            raise
        if not _marked(span):
            span.set_attribute(names.OUTCOME, "ok")


def _marked(span: Span) -> bool:
    """Whether ``span``'s outcome is set already (only a recording SDK span can tell; others never matter)."""
    attributes = getattr(span, "attributes", None)
    return isinstance(attributes, Mapping) and names.OUTCOME in attributes


def mark_failed(span: Span, category: str, *, transient: bool | None = None) -> None:
    """Mark ``span`` failed with the failure's ``category`` (and whether it was transient, when known)."""
    span.set_attribute(names.OUTCOME, "error")
    span.set_attribute(names.ERROR_CATEGORY, category)
    if transient is not None:
        span.set_attribute(names.TRANSIENT, transient)
    span.set_status(Status(StatusCode.ERROR, category))


def carried(function: Callable[[T], R]) -> Callable[[T], R]:
    """``function``, run in the current trace and job wherever it is called (e.g. in a pool's threads).

    Threads of an executor do not inherit the caller's context: without this, the spans of work handed to them
    would start traces of their own.
    """
    captured = otel_context.get_current()
    job_id = current_job()

    def run(argument: T) -> R:
        token = otel_context.attach(captured)
        try:
            with job_scope(job_id):
                return function(argument)
        finally:
            otel_context.detach(token)

    return run


def iso_to_ns(moment: str | None) -> int | None:
    """Nanoseconds since the epoch of an ISO 8601 time (``Z`` or an offset), or ``None``."""
    if not moment:
        return None
    try:
        parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(parsed.timestamp() * 1_000_000_000)
