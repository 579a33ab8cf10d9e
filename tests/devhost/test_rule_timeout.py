"""Rule: an invocation that runs past host.json ``functionTimeout`` fails as it does on Azure.

Sources: Azure/azure-webjobs-sdk ``src/Microsoft.Azure.WebJobs.Host/Executors/FunctionExecutor.cs``
(``TryHandleTimeoutAsync``: ``FunctionTimeoutException("Timeout value of {0} was exceeded by
function: {1}")``), Azure/azure-functions-durable-extension
``src/WebJobs.Extensions.DurableTask/Listener/TaskActivityShim.cs`` (a timed-out activity becomes
``TaskFailureException("Activity function '<name>' failed: <message>", <serialised exception>)``),
Azure/azure-functions-host ``src/WebJobs.Script.WebHost/Middleware/ExceptionMiddleware.cs`` (an HTTP
invocation that throws answers 500 with no body) and
https://learn.microsoft.com/azure/azure-functions/functions-host-json#functiontimeout.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tools.devhost import DevHost
from tools.devhost.discovery import DiscoveryError, load_host_config
from tools.devhost.timeouts import format_timespan, parse_timespan

from .conftest import APPS, history, request, start_orchestration, wait_for, wait_until

REASON = (
    "Activity function 'slow_activity' failed: "
    "Timeout value of 00:00:01 was exceeded by function: Functions.slow_activity"
)


@pytest.fixture
def timeout_host() -> Iterator[DevHost]:
    host = DevHost(APPS / "timeout", memory=True, port=0, settings={})
    try:
        with host:
            yield host
    finally:
        host.module.RELEASE.set()


def test_timespans_read_and_written_like_dotnet(tmp_path: Path) -> None:
    """host.json ``functionTimeout`` is a TimeSpan; ``-1`` is unlimited (functions-host-json#functiontimeout)."""
    assert parse_timespan("00:10:00") == timedelta(minutes=10)
    assert parse_timespan("1.02:03:04.5") == timedelta(days=1, hours=2, minutes=3, seconds=4.5)
    assert parse_timespan("-1") is None
    assert format_timespan(timedelta(seconds=1)) == "00:00:01"
    assert format_timespan(timedelta(days=1, milliseconds=500)) == "1.00:00:00.5000000"
    (tmp_path / "host.json").write_text(json.dumps({"functionTimeout": "ten minutes"}))
    with pytest.raises(DiscoveryError, match="functionTimeout"):
        load_host_config(tmp_path, {})
    (tmp_path / "host.json").write_text("{}")
    assert load_host_config(tmp_path, {}).function_timeout == timedelta(minutes=30)


def test_an_activity_past_the_timeout_is_a_task_failure_with_the_hosts_reason(timeout_host: DevHost) -> None:
    """TaskActivityShim.cs: ``Activity function '<name>' failed: `` + the FunctionTimeoutException message."""
    status = wait_for(start_orchestration(timeout_host.base_url, "slow_chain"))
    assert status["runtimeStatus"] == "Completed"
    reason, _, details = status["output"].partition(" \n ")
    assert reason == REASON
    serialised = json.loads(details)
    assert serialised["$type"].startswith("Microsoft.Azure.WebJobs.Host.FunctionTimeoutException")
    assert serialised["Message"] == "Timeout value of 00:00:01 was exceeded by function: Functions.slow_activity"
    assert serialised["Timeout"] == "00:00:01"
    failed = [e for e in history(timeout_host, status["instanceId"]) if e["EventType"] == 6]
    assert [e["Reason"] for e in failed] == [REASON]

    # The thread cannot be killed: it still holds its pool slot. Its late result is discarded.
    assert timeout_host.worker.running == 1
    assert timeout_host.module.FINISHED == []
    before = history(timeout_host, status["instanceId"])
    timeout_host.module.RELEASE.set()
    wait_until(lambda: timeout_host.worker.running == 0, what="the late activity to return")
    assert timeout_host.module.FINISHED == ["slow_activity"]
    assert history(timeout_host, status["instanceId"]) == before


def test_an_http_invocation_past_the_timeout_answers_500_before_the_handler_returns(timeout_host: DevHost) -> None:
    """ExceptionMiddleware.cs: a FunctionInvocationException (the timeout is one) is a bare 500."""
    reply = request("GET", f"{timeout_host.base_url}/api/hold")
    assert (reply.status, reply.body) == (500, b"")
    assert timeout_host.module.FINISHED == []  # the handler is still running


def test_a_timed_out_thread_keeps_its_slot_so_the_next_call_times_out_waiting() -> None:
    """The host's clock runs from dispatch; the worker's pool (PYTHON_THREADPOOL_THREAD_COUNT) stays full."""
    host = DevHost(APPS / "timeout", memory=True, port=0, settings={"PYTHON_THREADPOOL_THREAD_COUNT": "1"})
    app = host.module
    try:
        with host:
            holder = threading.Thread(target=lambda: request("GET", f"{host.base_url}/api/hold"))
            holder.start()
            wait_until(lambda: host.worker.running == 1, what="the only thread busy")
            reply = request("GET", f"{host.base_url}/api/quick")
            assert reply.status == 500
            assert app.QUICK_CALLS == [0]  # it never got a thread
            app.RELEASE.set()
            holder.join(10)
            wait_until(lambda: host.worker.running == 0 and host.worker.queued == 0, what="the pool to drain")
            assert request("GET", f"{host.base_url}/api/quick").body == b"quick"
    finally:
        app.RELEASE.set()


def test_an_app_setting_may_shorten_the_timeout_but_never_lengthen_it(tmp_path: Path) -> None:
    """``AzureFunctionsJobHost__functionTimeout`` overrides host.json (functions-host-json#override-hostjson-values).

    The devhost takes it only when it is stricter: a longer limit or none would pass what the deployed host.json
    forbids.
    """
    (tmp_path / "host.json").write_text(json.dumps({"functionTimeout": "00:10:00"}))
    override = "AzureFunctionsJobHost__functionTimeout"
    assert load_host_config(tmp_path, {override: "00:00:03"}).function_timeout == timedelta(seconds=3)
    assert load_host_config(tmp_path, {override: "00:10:00"}).function_timeout == timedelta(minutes=10)
    assert load_host_config(tmp_path, {override: ""}).function_timeout == timedelta(minutes=10)
    for lenient in ("00:10:01", "-1"):
        with pytest.raises(DiscoveryError, match="more lenient"):
            load_host_config(tmp_path, {override: lenient})
    with pytest.raises(DiscoveryError, match=override):
        load_host_config(tmp_path, {override: "soon"})
    (tmp_path / "host.json").write_text(json.dumps({"functionTimeout": "-1"}))
    assert load_host_config(tmp_path, {override: "00:00:05"}).function_timeout == timedelta(seconds=5)


def test_the_override_applies_to_a_running_host() -> None:
    """The same app with a shorter limit from its settings: the activity's failure names the shorter limit."""
    host = DevHost(
        APPS / "timeout", memory=True, port=0, settings={"AzureFunctionsJobHost__functionTimeout": "00:00:00.5"}
    )
    try:
        with host:
            status = wait_for(start_orchestration(host.base_url, "slow_chain"))
    finally:
        host.module.RELEASE.set()
    assert status["output"].startswith(
        "Activity function 'slow_activity' failed: Timeout value of 00:00:00.5000000 was exceeded"
    )
