"""The Python worker's thread pool and the Durable concurrency limits are sized together: every activity and
orchestrator episode the host may dispatch to one instance, plus headroom for synchronous HTTP handlers, gets a
thread of its own, so no activity waits inside the worker (invisibly, with its function timeout running) behind
another one's WinRM call. host.json ships with the code and the app setting with the infrastructure; this keeps the
two in step."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infra.bicep import ROOT, evaluate

# WinRM's default winrs MaxShellsPerUser (MS-WSMV 2.2.4.42, WinrsType): the most shells one account may have open on
# one host. Each running activity holds one shell on its host.
WINRM_MAX_SHELLS_PER_USER = 30
# The largest value the Functions documentation lists for PYTHON_THREADPOOL_THREAD_COUNT.
DOCUMENTED_MAX_THREADS = 32


@pytest.fixture(scope="module")
def durable() -> dict[str, Any]:
    host = json.loads((ROOT / "host.json").read_text(encoding="utf-8"))
    config: dict[str, Any] = host["extensions"]["durableTask"]
    return config


@pytest.fixture(scope="module")
def api_variables(bicep: dict[str, Any]) -> dict[str, Any]:
    variables: dict[str, Any] = bicep["app/api.bicep"]["variables"]
    return variables


@pytest.fixture(scope="module")
def budget(api_variables: dict[str, Any]) -> dict[str, int]:
    """api.bicep's thread budget, evaluated in declaration order."""
    scope: dict[str, Any] = {}
    for name in ("activitySlots", "orchestratorSlots", "httpHandlerSlots", "pythonThreadCount"):
        scope[name] = evaluate(api_variables[name]["value"], scope)
    return scope


def test_host_json_sets_both_limits(durable: dict[str, Any]) -> None:
    for name in ("maxConcurrentActivityFunctions", "maxConcurrentOrchestratorFunctions"):
        assert isinstance(durable.get(name), int), f"{name} must be set: the default is 10 x cores per instance"
        assert durable[name] >= 1, name


def test_the_bicep_budget_mirrors_host_json(durable: dict[str, Any], budget: dict[str, int]) -> None:
    assert budget["activitySlots"] == durable["maxConcurrentActivityFunctions"]
    assert budget["orchestratorSlots"] == durable["maxConcurrentOrchestratorFunctions"]


def test_the_thread_count_covers_activities_orchestrators_and_http_headroom(
    durable: dict[str, Any], api_variables: dict[str, Any], budget: dict[str, int]
) -> None:
    headroom = budget["httpHandlerSlots"]
    assert headroom >= 4, "synchronous HTTP handlers (API reads, dashboard, health, probe) need threads of their own"
    setting = api_variables["baseSettings"]["value"]["PYTHON_THREADPOOL_THREAD_COUNT"]
    threads = int(evaluate(setting, budget))
    needed = durable["maxConcurrentActivityFunctions"] + durable["maxConcurrentOrchestratorFunctions"] + headroom
    assert threads >= needed, f"{threads} threads for {needed} concurrent synchronous invocations"
    assert threads <= DOCUMENTED_MAX_THREADS


def test_the_thread_count_is_set_on_every_plan(api_variables: dict[str, Any]) -> None:
    # baseSettings are unconditional (the content settings are the Elastic Premium-only ones).
    assert "PYTHON_THREADPOOL_THREAD_COUNT" in api_variables["baseSettings"]["value"]
    assert "PYTHON_THREADPOOL_THREAD_COUNT" not in json.dumps(api_variables["contentSettings"]["value"])


def test_one_host_never_refuses_a_shell_at_the_default_scale_out(
    bicep: dict[str, Any], durable: dict[str, Any]
) -> None:
    instances = bicep["main.bicep"]["parameters"]["maximumElasticWorkerCount"]["default"]
    worst_case = instances * durable["maxConcurrentActivityFunctions"]
    assert worst_case <= WINRM_MAX_SHELLS_PER_USER, (
        f"{instances} instances x {durable['maxConcurrentActivityFunctions']} activities can open {worst_case} shells "
        "on one host; WinRM refuses more than 30 per user by default"
    )


def test_function_timeout_is_finite_and_within_the_elastic_premium_guarantee() -> None:
    host = json.loads((ROOT / "host.json").read_text(encoding="utf-8"))
    hours, minutes, seconds = (int(part) for part in host["functionTimeout"].split(":"))
    total = hours * 3600 + minutes * 60 + seconds
    assert 0 < total <= 60 * 60, "Premium plans guarantee 60 minutes; an unbounded timeout hides stuck activities"
