"""The one HTTP wrapper and the one activity wrapper: a span each, with route/status or activity/job/host."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import azure.durable_functions as df
import azure.functions as func
import pytest

from functions.api.http import Api, json_response, route_of, traced
from functions.errors import StepError
from functions.hyperv.errors import HostUnreachable
from functions.models.durable import Activity, Codec
from functions.settings import SettingsError
from functions.telemetry import job_trace_id, names
from functions.workflows.activities import register_activity
from tests.support.telemetry import Captured

PASS: Codec[Any] = Codec(lambda value: value, lambda value: value)


def request(method: str, path: str, **params: str) -> func.HttpRequest:
    return func.HttpRequest(
        method=method, url=f"http://127.0.0.1:7071{path}", headers={}, body=b"", route_params=params
    )


def test_the_route_template_names_the_route_parameters() -> None:
    assert route_of(request("GET", "/api/v1/jobs/j-1/log", job_id="j-1")) == "/api/v1/jobs/{job_id}/log"
    assert route_of(request("GET", "/api/v1/vms")) == "/api/v1/vms"


def test_a_202_span_carries_the_job_of_its_location(captured: Captured) -> None:
    def accepted() -> func.HttpResponse:
        return json_response({"id": "job-77"}, 202, {"Location": "http://127.0.0.1:7071/api/v1/jobs/job-77"})

    response = traced(request("POST", "/api/v1/vms"), accepted)
    assert response.status_code == 202
    [span] = captured.spans()
    assert span.name == "POST /api/v1/vms"
    assert span.attributes is not None
    assert span.attributes[names.HTTP_STATUS] == 202
    assert span.attributes[names.HTTP_METHOD] == "POST"
    assert span.attributes[names.JOB_ID] == "job-77"
    [link] = span.links
    assert format(link.context.trace_id, "032x") == job_trace_id("job-77")  # from the request to the job's trace


def test_every_api_route_runs_in_a_span_also_when_it_fails(captured: Captured) -> None:
    def unconfigured() -> Any:
        raise SettingsError(["AzureWebJobsStorage: is required"])

    response = Api(unconfigured).read(request("GET", "/api/v1/jobs/job-5", job_id="job-5"), Any, lambda s, c: None)  # type: ignore[arg-type]
    assert response.status_code == 503
    [span] = captured.spans()
    assert span.name == "GET /api/v1/jobs/{job_id}"
    assert span.attributes is not None
    assert span.attributes[names.JOB_ID] == "job-5"
    assert span.attributes[names.OUTCOME] == "error"


def activity_function(name: str, handler: Callable[[Any], Any]) -> Callable[[Any], Any]:
    app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    register_activity(app, Activity(name, PASS, PASS), handler)
    [function] = [f for f in app.get_functions() if f.get_function_name() == name]
    user_function: Callable[[Any], Any] = function.get_user_function()
    return user_function


def test_an_activity_span_names_its_job_and_host_and_its_failure(captured: Captured) -> None:
    ok = activity_function("t_ok", lambda payload: {"done": payload["job_id"]})
    assert ok({"job_id": "job-9", "host": "hv02", "vm_id": None}) == {"done": "job-9"}

    def unreachable(payload: Any) -> Any:
        raise HostUnreachable("no route", host="hv02")

    failing = activity_function("t_fail", unreachable)
    with pytest.raises(StepError):
        failing({"job_id": "job-9", "host": "hv02"})

    first, second = captured.spans(names.SPAN_ACTIVITY)
    assert first.name == "activity t_ok"
    assert first.attributes is not None and second.attributes is not None
    assert first.attributes[names.JOB_ID] == "job-9"
    assert first.attributes[names.HOST] == "hv02"
    assert first.attributes[names.OUTCOME] == "ok"
    assert second.attributes[names.ERROR_CATEGORY] == "HostUnreachable"
    assert second.attributes[names.TRANSIENT] is True
    assert first.context.trace_id == second.context.trace_id  # the job's trace, whatever the worker
