"""One trace per job on the local stack: the app on the devhost exports OTLP to a receiver in the test.

A create through the API, run by the devhost against the simulated lab, must yield the HTTP request span (202,
with the job's id), the activity spans, the WinRM operation spans, the step spans and the job span — all carrying
the same ``aetherv.job_id``, and all but the HTTP request in the job's own trace — and the job and WinRM metrics.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from functions.telemetry import job_trace_id, names
from tests.e2e.conftest import own_stack
from tests.e2e.test_vm_workflows import create, finished, linux, windows
from tests.support.otlp import OtlpReceiver
from tools.azurite import Azurite
from tools.stack import Stack

SERVER = 2  # OTLP SpanKind: SPAN_KIND_SERVER
CLIENT = 3  # SPAN_KIND_CLIENT
ERROR = 2  # STATUS_CODE_ERROR


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    otlp = OtlpReceiver().start()
    yield otlp
    otlp.stop()


@pytest.fixture(scope="module")
def traced_stack(azurite: Azurite, receiver: OtlpReceiver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of its own whose app exports its telemetry over OTLP to ``receiver`` (every 0.2 s / 1 s)."""
    settings = {
        "AETHERV_TELEMETRY_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "OTEL_METRIC_EXPORT_INTERVAL": "1000",
    }
    with own_stack(azurite, tmp_path_factory.mktemp("telemetry"), "LAB\\telemetry", **settings) as stack:
        yield stack


def job_span_of(receiver: OtlpReceiver, job_id: str) -> dict[str, Any] | None:
    """The job span of ``job_id`` once it arrived."""
    return next((s for s in receiver.spans_of(job_id) if s["name"].startswith(names.SPAN_JOB)), None)


def eventually(check: Callable[[], Any], timeout: float = 30) -> Any:
    """``check()``'s first truthy result, polled until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def test_a_create_is_one_trace_from_the_http_call_to_the_hosts_powershell(
    traced_stack: Stack, receiver: OtlpReceiver
) -> None:
    submission = create(traced_stack, linux("tel-e2e01"))
    job_id = submission.job["id"]
    outcome = finished(traced_stack, job_id)
    assert outcome["job"]["status"] == "Succeeded", outcome

    def complete() -> list[dict[str, Any]]:
        spans = receiver.spans_of(job_id)
        return spans if any(s["name"].startswith(names.SPAN_JOB) for s in spans) else []

    spans = eventually(complete)
    assert spans, "the job span never arrived"
    by_prefix = {prefix: [s for s in spans if s["name"].startswith(prefix)] for prefix in names.SPAN_PREFIXES}

    [http] = [s for s in spans if s["kind"] == SERVER and s["name"] == "POST /api/v1/vms"]
    assert http["attributes"][names.HTTP_STATUS] == 202
    assert http["attributes"][names.HTTP_ROUTE] == "/api/v1/vms"

    activities = {s["attributes"][names.ACTIVITY] for s in by_prefix[names.SPAN_ACTIVITY]}
    assert {"vm_preflight", "vm_create", "vm_guest_status", "job_update"} <= activities, activities

    winrm = by_prefix[names.SPAN_WINRM]
    assert winrm, "no WinRM operation span carried the job"
    assert {s["attributes"][names.HOST] for s in winrm} == {"hv03"}
    assert all(s["kind"] == CLIENT and s["attributes"][names.ROUND_TRIPS] >= 1 for s in winrm)
    activity_ids = {s["span_id"] for s in by_prefix[names.SPAN_ACTIVITY]}
    assert all(s["parent_span_id"] in activity_ids for s in winrm), "a WinRM span outside its activity"

    steps = {s["attributes"][names.STEP] for s in by_prefix[names.SPAN_STEP]}
    assert {"preflight", "create_vm", "wait_for_key", "wait_for_apply"} <= steps, steps
    assert len(by_prefix[names.SPAN_STEP]) == len(steps), "a step was reported twice"
    [job_span] = by_prefix[names.SPAN_JOB]
    assert job_span["attributes"][names.STATUS] == "Succeeded"

    in_job_trace = [s for s in spans if s is not http]
    assert {s["trace_id"] for s in in_job_trace} == {job_trace_id(job_id)}
    assert all(s["status"] != ERROR for s in spans)


def test_the_job_and_winrm_metrics_are_exported(traced_stack: Stack, receiver: OtlpReceiver) -> None:
    job_id = create(traced_stack, linux("tel-e2e02"))
    outcome = finished(traced_stack, job_id.job["id"])
    assert outcome["job"]["status"] == "Succeeded", outcome

    def exported() -> set[str]:
        return {p["name"] for p in receiver.points}

    wanted = {
        names.JOBS_STARTED,
        names.JOBS_COMPLETED,
        names.JOB_DURATION,
        names.STEP_DURATION,
        names.GUEST_WAIT_DURATION,
        names.WINRM_ROUND_TRIPS,
        names.WINRM_DURATION,
        names.HOST_CONNECTED,
        names.SYNC_DURATION,
    }
    assert eventually(lambda: wanted <= exported()), wanted - exported()
    completed = [
        p for p in receiver.points if p["name"] == names.JOBS_COMPLETED and p["attributes"].get("status") == "Succeeded"
    ]
    assert any(p["value"] >= 1 for p in completed)
    connected = [p for p in receiver.points if p["name"] == names.HOST_CONNECTED]
    assert {p["attributes"]["host"] for p in connected} == {"hv01", "hv02", "hv03"}


def test_a_failed_create_traces_its_failing_step_and_its_cleanup(traced_stack: Stack, receiver: OtlpReceiver) -> None:
    control = traced_stack.lab.control.url
    behaviour = "/hvsim/hosts/hv02/guest-behaviour"
    traced_stack.request_to(control, "PUT", behaviour, {"fail_module": "mod_net", "poll_interval": 0.1})
    try:
        job_id = create(traced_stack, linux("tel-bad01", host="hv02")).job["id"]
        outcome = finished(traced_stack, job_id)
    finally:
        traced_stack.request_to(control, "PUT", behaviour, {"poll_interval": 0.1})
    assert outcome["job"]["status"] == "Failed", outcome

    def complete() -> list[dict[str, Any]]:
        spans = receiver.spans_of(job_id)
        return spans if any(s["name"].startswith(names.SPAN_JOB) for s in spans) else []

    spans = eventually(complete)
    [job_span] = [s for s in spans if s["name"].startswith(names.SPAN_JOB)]
    assert job_span["status"] == ERROR
    assert job_span["attributes"][names.STEP] == "wait_for_apply"
    assert job_span["attributes"][names.ERROR_CATEGORY] == "GuestProvisioningFailed"
    [failed_step] = [s for s in spans if s["name"] == "step wait_for_apply"]
    assert failed_step["status"] == ERROR
    assert failed_step["attributes"][names.ERROR_CATEGORY] == "GuestProvisioningFailed"
    cleanup = [s for s in spans if s["name"] == "activity vm_cleanup"]
    assert cleanup and all(s["attributes"][names.OUTCOME] == "ok" for s in cleanup)
    assert any(s["name"].startswith(names.SPAN_WINRM) and s["parent_span_id"] == cleanup[0]["span_id"] for s in spans)

    def failed_counted() -> bool:
        return any(
            p["name"] == names.JOBS_COMPLETED and p["attributes"].get("status") == "Failed" for p in receiver.points
        )

    assert eventually(failed_counted)


def test_no_secret_reaches_the_telemetry(traced_stack: Stack, receiver: OtlpReceiver) -> None:
    secrets = ["Change-Me-2026!", "Join-Me-2026!", "correct horse battery staple"]  # the two requests' passwords
    jobs = [create(traced_stack, windows("tel-sec01")).job["id"], create(traced_stack, linux("tel-sec02")).job["id"]]
    for job_id in jobs:
        assert finished(traced_stack, job_id)["job"]["status"] == "Succeeded"
        assert eventually(functools.partial(job_span_of, receiver, job_id)), "the job span never arrived"
    with receiver._lock:
        bodies = list(receiver.bodies)
    assert bodies
    for body in bodies:
        for secret in secrets:
            assert secret.encode() not in body, secret
            assert secret.encode("utf-16-le") not in body, secret
