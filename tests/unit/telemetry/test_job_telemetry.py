"""Job and step telemetry from job records: each change reported once, with the record's own times."""

from __future__ import annotations

import uuid
from dataclasses import replace

from functions.models.jobs import Job, JobError, JobStatus, JobTarget, StepRecord, StepStatus
from functions.telemetry import job_changed, job_trace_id, names
from tests.support.telemetry import Captured

T0 = "2026-12-05T10:00:00Z"


def at(seconds: int) -> str:
    return f"2026-12-05T10:{seconds // 60:02d}:{seconds % 60:02d}Z"


def new_job(kind: str) -> Job:
    return Job(
        id=f"job-{uuid.uuid4().hex[:8]}",
        kind=kind,
        status=JobStatus.PENDING,
        created=T0,
        updated=T0,
        target=JobTarget(host="hv01"),
    )


def step(name: str, status: StepStatus, start: int, end: int | None = None) -> StepRecord:
    return StepRecord(name, status, started=at(start), finished=None if end is None else at(end))


def test_a_successful_job_reports_each_step_once_and_its_outcome(captured: Captured) -> None:
    kind = f"create_{uuid.uuid4().hex[:6]}"
    pending = new_job(kind)
    running = replace(pending, status=JobStatus.RUNNING, started=at(1), steps=(step("place", StepStatus.RUNNING, 1),))
    second = replace(
        running,
        steps=(step("place", StepStatus.SUCCEEDED, 1, 3), step("wait_for_key", StepStatus.RUNNING, 3)),
    )
    done = replace(
        second,
        status=JobStatus.SUCCEEDED,
        finished=at(20),
        steps=(step("place", StepStatus.SUCCEEDED, 1, 3), step("wait_for_key", StepStatus.SUCCEEDED, 3, 20)),
    )

    job_changed(pending, running)
    job_changed(running, second)
    job_changed(second, second)  # an update repeated by an at-least-once activity changes nothing
    job_changed(second, done)
    job_changed(done, done)

    steps = captured.spans(names.SPAN_STEP)
    assert [s.name for s in steps] == ["step place", "step wait_for_key"]
    place = steps[0]
    assert place.attributes is not None
    assert place.attributes[names.JOB_ID] == pending.id
    assert place.attributes[names.HOST] == "hv01"
    assert place.attributes[names.STATUS] == "Succeeded"
    assert place.end_time is not None and place.start_time is not None
    assert (place.end_time - place.start_time) == 2_000_000_000  # from the record's times, not the clock's
    [job_span] = captured.spans(names.SPAN_JOB)
    assert job_span.name == f"job {kind}"
    assert format(job_span.context.trace_id, "032x") == job_trace_id(pending.id)
    assert {format(s.context.trace_id, "032x") for s in steps} == {job_trace_id(pending.id)}

    assert captured.total(names.JOBS_STARTED, kind=kind) == 1
    assert captured.total(names.JOBS_COMPLETED, kind=kind, status="Succeeded") == 1
    [duration] = captured.points(names.JOB_DURATION, kind=kind)
    assert duration.count == 1 and duration.sum == 19
    assert captured.total(names.STEP_DURATION, kind=kind, step="place", status="Succeeded", host="hv01") == 1
    [wait] = captured.points(names.GUEST_WAIT_DURATION, step="wait_for_key", host="hv01")
    assert wait.sum >= 17  # cumulative over the process; this job's wait is 17 s


def test_a_failed_job_names_its_failed_step_and_category(captured: Captured) -> None:
    kind = f"create_{uuid.uuid4().hex[:6]}"
    running = replace(
        new_job(kind), status=JobStatus.RUNNING, started=at(0), steps=(step("create", StepStatus.RUNNING, 0),)
    )
    failed = replace(
        running,
        status=JobStatus.FAILED,
        finished=at(5),
        failed_step="create",
        error=JobError("HostUnreachable", "no answer", transient=True),
        steps=(step("create", StepStatus.FAILED, 0, 4),),
    )
    job_changed(replace(running, started=None, status=JobStatus.PENDING, steps=()), running)
    job_changed(running, failed)

    [create] = captured.spans(names.SPAN_STEP)
    assert create.attributes is not None
    assert create.attributes[names.ERROR_CATEGORY] == "HostUnreachable"
    assert create.attributes[names.OUTCOME] == "error"
    assert not create.status.is_ok
    [job_span] = captured.spans(names.SPAN_JOB)
    assert job_span.attributes is not None and job_span.attributes[names.STEP] == "create"
    assert captured.total(names.JOBS_COMPLETED, kind=kind, status="Failed") == 1
    assert captured.total(names.STEP_DURATION, kind=kind, step="create", status="Failed") == 1


def test_a_canceled_job_is_counted_canceled(captured: Captured) -> None:
    kind = f"delete_{uuid.uuid4().hex[:6]}"
    running = replace(new_job(kind), status=JobStatus.RUNNING, started=at(0))
    canceled = replace(running, status=JobStatus.CANCELED, finished=at(2), error=JobError("Canceled", "canceled"))
    job_changed(running, canceled)
    job_changed(canceled, replace(canceled, status=JobStatus.SUCCEEDED))  # a final status never reopens: not counted
    assert captured.total(names.JOBS_COMPLETED, kind=kind, status="Canceled") == 1
    assert captured.total(names.JOBS_COMPLETED, kind=kind, status="Succeeded") == 0


def test_a_broken_record_never_breaks_the_update() -> None:
    job = new_job("create")
    job_changed(job, replace(job, steps=(StepRecord("x", StepStatus.SUCCEEDED, started="not a time", finished="x"),)))
