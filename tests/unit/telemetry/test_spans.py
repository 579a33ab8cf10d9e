"""The span helpers: the job's id on every span of its work, the job's own trace, failures marked."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from opentelemetry.trace import StatusCode

from functions.telemetry import carried, job_scope, job_trace_id, mark_failed, names, start_span
from tests.support.telemetry import Captured


def test_spans_in_a_job_scope_carry_the_job_and_join_its_trace(captured: Captured) -> None:
    with (
        job_scope("job-1"),
        start_span("activity a", {names.HOST: "hv01", names.STEP: None}, in_job_trace=True),
        start_span("winrm op", {}),
    ):
        pass
    with start_span("outside", {}):
        pass
    inner, outer, outside = captured.spans()
    assert inner.attributes is not None and inner.attributes[names.JOB_ID] == "job-1"
    assert outer.attributes is not None and outer.attributes[names.JOB_ID] == "job-1"
    assert names.STEP not in outer.attributes  # None values are left out
    assert format(outer.context.trace_id, "032x") == job_trace_id("job-1")
    assert inner.context.trace_id == outer.context.trace_id and inner.parent is not None
    assert inner.parent.span_id == outer.context.span_id
    assert outside.attributes is not None and names.JOB_ID not in outside.attributes
    assert not outer.links  # nothing was current when the job's span started
    assert outer.attributes[names.OUTCOME] == "ok"


def test_a_span_moved_into_the_job_trace_links_to_the_span_it_started_under(captured: Captured) -> None:
    with (
        start_span("invocation", {}) as invocation,
        job_scope("job-4"),
        start_span("activity x", {}, in_job_trace=True),
    ):
        pass
    activity = captured.spans("activity")[0]
    [link] = activity.links
    assert link.context.span_id == invocation.get_span_context().span_id
    assert activity.context.trace_id != invocation.get_span_context().trace_id


def test_the_job_trace_is_the_same_in_every_worker_and_differs_per_job() -> None:
    assert job_trace_id("job-1") == job_trace_id("job-1")
    assert job_trace_id("job-1") != job_trace_id("job-2")
    assert len(job_trace_id("job-1")) == 32


def test_an_escaping_exception_marks_the_span_failed_unless_marked_already(captured: Captured) -> None:
    with pytest.raises(KeyError), start_span("a", {}):
        raise KeyError("secret-looking text")

    def fail_marked() -> None:
        with start_span("b", {}) as span:
            mark_failed(span, "GuestTimeout", transient=False)
            raise ValueError

    with pytest.raises(ValueError):
        fail_marked()
    first, second = captured.spans()
    assert first.status.status_code == StatusCode.ERROR
    assert first.attributes is not None and first.attributes[names.ERROR_CATEGORY] == "KeyError"
    assert "secret-looking text" not in str(first.to_json())  # the type, never the message
    assert second.attributes is not None and second.attributes[names.ERROR_CATEGORY] == "GuestTimeout"
    assert second.attributes[names.TRANSIENT] is False


def test_work_carried_into_a_pool_thread_stays_in_the_trace_and_job(captured: Captured) -> None:
    def host_work(host: str) -> str:
        with start_span("winrm collect_inventory", {names.HOST: host}):
            return host

    with (
        job_scope("job-3"),
        start_span("activity batch", {}, in_job_trace=True) as parent,
        ThreadPoolExecutor(max_workers=2) as pool,
    ):
        assert sorted(pool.map(carried(host_work), ["hv01", "hv02"])) == ["hv01", "hv02"]
        list(pool.map(host_work, ["hv09"]))  # not carried: a trace of its own, no job
    spans = {span.attributes[names.HOST]: span for span in captured.spans("winrm") if span.attributes}
    for host in ("hv01", "hv02"):
        assert spans[host].parent is not None and spans[host].parent.span_id == parent.get_span_context().span_id
        assert spans[host].attributes is not None and spans[host].attributes[names.JOB_ID] == "job-3"
    assert spans["hv09"].parent is None
