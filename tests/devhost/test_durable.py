"""Durable conformance: sample orchestrations run by the real SDK through the devhost over HTTP."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from typing import Any

import pytest

from tools.devhost import DevHost

from .conftest import request, run, start, wait_for

# The SDK warns (and carries on) when a completion arrives before its task is yielded, e.g. an
# external event raised before the orchestrator waits for it; pytest turns warnings into errors.
pytestmark = pytest.mark.filterwarnings("ignore:Potential duplicate Task completion")


def manage(host: DevHost, action: str, instance_id: str, body: Any = None, **params: str) -> Any:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    reply = request(
        "POST",
        f"{host.base_url}/api/manage/{action}/{instance_id}" + (f"?{query}" if query else ""),
        None if body is None else json.dumps(body),
    )
    assert reply.status == 200, reply.body
    return reply.json()


def wait_status(host: DevHost, instance_id: str, wanted: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status = manage(host, "status", instance_id)
        if status and status["runtimeStatus"] == wanted:
            return dict(status)
        assert time.monotonic() < deadline, status
        time.sleep(0.02)


def test_function_chaining(durable_host: DevHost) -> None:
    status = run(durable_host.base_url, "chain")
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    assert status["name"] == "chain"


def test_check_status_response_shape(durable_host: DevHost) -> None:
    reply = start(durable_host.base_url, "chain", ["X"])
    assert reply.status == 202
    body = reply.json()
    assert reply.headers["location"] == body["statusQueryGetUri"]
    assert body["statusQueryGetUri"].startswith(f"{durable_host.base_url}/runtime/webhooks/durabletask/instances/")
    for key in (
        "sendEventPostUri",
        "terminatePostUri",
        "purgeHistoryDeleteUri",
        "suspendPostUri",
        "resumePostUri",
    ):
        assert body["id"] in body[key]
    final = wait_for(body["statusQueryGetUri"])
    assert final["output"] == ["Hello X!"]


def test_fan_out_fan_in_of_50(durable_host: DevHost) -> None:
    status = run(durable_host.base_url, "fan_out", 50)
    assert status["output"] == {"count": 50, "sum": 2 * sum(range(50))}


def test_history_events_are_dtfx_shaped(durable_host: DevHost) -> None:
    status = run(durable_host.base_url, "fan_out", 3)
    events = [json.loads(text) for text in durable_host.store.history(status["instanceId"])]
    kinds = [e["EventType"] for e in events]
    assert kinds[:2] == [12, 0]
    assert kinds[-2:] == [13, 1]
    scheduled = [e for e in events if e["EventType"] == 4]
    assert sorted(e["EventId"] for e in scheduled) == [0, 1, 2]
    completed = [e for e in events if e["EventType"] == 5]
    assert sorted(e["TaskScheduledId"] for e in completed) == [0, 1, 2]
    assert all(e["Timestamp"].endswith("Z") for e in events)
    assert events[1]["Version"] == ""
    # One completion per episode: every TaskCompleted directly follows an OrchestratorStarted.
    for index, event in enumerate(events):
        if event["EventType"] == 5:
            assert events[index - 1]["EventType"] == 12


def test_human_interaction_approved(durable_host: DevHost) -> None:
    reply = start(durable_host.base_url, "approval", 30)
    instance_id = reply.json()["id"]
    time.sleep(0.1)
    manage(durable_host, "raise", instance_id, {"user": "ada"}, event="Approval")
    status = wait_for(reply.json()["statusQueryGetUri"])
    assert status["output"] == {"outcome": "approved", "by": {"user": "ada"}}
    # The cancelled 30 s timer does not keep anything queued.
    assert not durable_host.engine.inbox.get(instance_id)


def test_human_interaction_timeout(durable_host: DevHost) -> None:
    status = run(durable_host.base_url, "approval", 0.3)
    assert status["output"] == {"outcome": "timeout"}


def test_event_raised_before_the_wait_is_kept(durable_host: DevHost) -> None:
    instance_id = f"early-{uuid.uuid4().hex}"
    reply = start(durable_host.base_url, "waiter", None, instance_id)
    manage(durable_host, "raise", instance_id, 7, event="first")
    status = wait_for(reply.json()["statusQueryGetUri"])
    assert status["output"] == "Hello 7!"


def test_monitor_loop_of_timers(durable_host: DevHost) -> None:
    status = run(durable_host.base_url, "monitor")
    assert status["output"] == 3


def test_retry_succeeds_on_third_attempt(durable_host: DevHost) -> None:
    status = run(durable_host.base_url, "retry_ok")
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == 3
    assert durable_host.module.ATTEMPTS[status["instanceId"]] == 3
    events = [json.loads(t) for t in durable_host.store.history(status["instanceId"])]
    pattern = [(e["EventType"], e.get("EventId", -1)) for e in events if e["EventType"] in (4, 6, 10, 11, 5)]
    # B11: attempt (id 0) fails, timer 1, attempt 2 fails, timer 3, attempt 4 succeeds.
    assert pattern == [
        (4, 0),
        (6, -1),
        (10, 1),
        (11, -1),
        (4, 2),
        (6, -1),
        (10, 3),
        (11, -1),
        (4, 4),
        (5, -1),
    ]


def test_retry_exhausted_reports_last_failure(durable_host: DevHost) -> None:
    status = run(durable_host.base_url, "retry_exhausted")
    caught = status["output"]["caught"]
    assert "ALWAYS-FAIL-MARKER attempt 2" in caught
    assert caught.startswith("RuntimeError: ALWAYS-FAIL-MARKER")
    assert durable_host.module.ATTEMPTS[status["instanceId"]] == 2
    events = [json.loads(t) for t in durable_host.store.history(status["instanceId"])]
    timers = [e for e in events if e["EventType"] == 10]
    assert len(timers) == 2  # one more retry timer after the last attempt (B11)


def test_sub_orchestrations(durable_host: DevHost) -> None:
    status = run(durable_host.base_url, "parent")
    output = status["output"]
    assert output["first"] == ["Hello A!", "Hello B!"]
    assert output["second"] == ["Hello C!"]
    assert "ORCH-BOOM marker" in output["failure"]
    parent_id = status["instanceId"]
    child = manage(durable_host, "status", f"{parent_id}-child")
    assert child["runtimeStatus"] == "Completed"
    generated = manage(durable_host, "status", f"{parent_id}:0")  # deterministic id <parent>:<task id>
    assert generated["output"] == ["Hello A!", "Hello B!"]


def test_orchestrator_exception_fails_instance(durable_host: DevHost) -> None:
    status = run(durable_host.base_url, "failing")
    assert status["runtimeStatus"] == "Failed"
    assert "ORCH-BOOM marker" in status["output"]
    reply = request(
        "GET",
        f"{durable_host.base_url}/runtime/webhooks/durabletask/instances/{status['instanceId']}"
        "?returnInternalServerErrorOnFailure=true",
    )
    assert reply.status == 500


def test_eternal_orchestration_continue_as_new(durable_host: DevHost) -> None:
    status = run(durable_host.base_url, "eternal", {"count": 0, "limit": 4})
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == 4
    events = [json.loads(t) for t in durable_host.store.history(status["instanceId"])]
    started = [e for e in events if e["EventType"] == 0]
    assert len(started) == 1  # history restarts with each new execution
    assert json.loads(started[0]["Input"]) == {"count": 3, "limit": 4}


def test_entity_counter_concurrent_signals_and_calls(durable_host: DevHost) -> None:
    key = f"c-{uuid.uuid4().hex[:8]}"
    errors: list[BaseException] = []

    def signal() -> None:
        try:
            manage(durable_host, "signal", key, 1, op="add")
        except BaseException as exc:  # pragma: no cover - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=signal) for _ in range(20)]
    for thread in threads:
        thread.start()
    callers = [start(durable_host.base_url, "entity_caller", key) for _ in range(4)]
    for thread in threads:
        thread.join()
    assert not errors
    outputs = [wait_for(c.json()["statusQueryGetUri"])["output"] for c in callers]
    assert all(o["error"] == "ENTITY-BOOM marker" for o in outputs)
    deadline = time.monotonic() + 10
    while True:
        state = manage(durable_host, "read", key)
        if state["state"] == 20 + 4 * 15 or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert state == {"exists": True, "state": 80}
    manage(durable_host, "signal", key, op="delete")
    deadline = time.monotonic() + 5
    while manage(durable_host, "read", key)["exists"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert manage(durable_host, "read", key) == {"exists": False, "state": None}


def test_custom_status_visible_while_running(durable_host: DevHost) -> None:
    reply = start(durable_host.base_url, "custom_status")
    instance_id = reply.json()["id"]
    running = wait_status(durable_host, instance_id, "Running")
    deadline = time.monotonic() + 5
    while running["customStatus"] is None and time.monotonic() < deadline:
        running = manage(durable_host, "status", instance_id)
    assert running["customStatus"] == {"step": "waiting"}
    status_reply = request("GET", reply.json()["statusQueryGetUri"])
    assert status_reply.status == 202
    assert status_reply.headers["retry-after"] == "5"
    assert status_reply.headers["location"].endswith(reply.json()["statusQueryGetUri"].split("//", 1)[1])
    manage(durable_host, "raise", instance_id, "fine", event="go")
    final = wait_for(reply.json()["statusQueryGetUri"])
    assert final["customStatus"] == {"step": "done"}
    assert final["output"] == "fine"


def test_terminate(durable_host: DevHost) -> None:
    reply = start(durable_host.base_url, "waiter")
    instance_id = reply.json()["id"]
    wait_status(durable_host, instance_id, "Running")
    manage(durable_host, "terminate", instance_id)
    status = wait_for(reply.json()["statusQueryGetUri"])
    assert status["runtimeStatus"] == "Terminated"
    assert status["output"] == "stopped by test"
    # Raising an event on a finished instance is 410, which the SDK reports as an error.
    reply = request("POST", f"{durable_host.base_url}/api/manage/raise/{instance_id}?event=first", "1")
    assert reply.status == 409
    assert "gone" in reply.json()["error"]


def test_suspend_and_resume(durable_host: DevHost) -> None:
    reply = start(durable_host.base_url, "waiter")
    instance_id = reply.json()["id"]
    wait_status(durable_host, instance_id, "Running")
    manage(durable_host, "suspend", instance_id)
    assert manage(durable_host, "status", instance_id)["runtimeStatus"] == "Suspended"
    manage(durable_host, "raise", instance_id, 5, event="first")
    time.sleep(0.3)
    assert manage(durable_host, "status", instance_id)["runtimeStatus"] == "Suspended"
    manage(durable_host, "resume", instance_id)
    status = wait_for(reply.json()["statusQueryGetUri"])
    assert status["output"] == "Hello 5!"
    kinds = [json.loads(t)["EventType"] for t in durable_host.store.history(instance_id)]
    assert kinds.index(19) < kinds.index(20) < kinds.index(15)  # suspended, resumed, then the event


def test_purge(durable_host: DevHost) -> None:
    status = run(durable_host.base_url, "chain")
    instance_id = status["instanceId"]
    assert manage(durable_host, "purge", instance_id) == 1
    assert manage(durable_host, "status", instance_id) is None
    assert manage(durable_host, "purge", instance_id) == 0


def test_non_determinism_is_detected(durable_host: DevHost) -> None:
    durable_host.module.NONDETERMINISTIC_CALLS[0] = 0
    status = run(durable_host.base_url, "nondeterministic")
    assert status["runtimeStatus"] == "Failed"
    assert "Non-Deterministic workflow detected" in status["output"]
    assert "activity 'hello'" in status["output"]
    assert "activity 'double'" in status["output"]


def test_duplicate_start_rejected_while_running_then_allowed(durable_host: DevHost) -> None:
    instance_id = f"dup-{uuid.uuid4().hex[:8]}"
    first = start(durable_host.base_url, "waiter", None, instance_id)
    assert first.status == 202
    again = start(durable_host.base_url, "waiter", None, instance_id)
    assert again.status == 409
    assert "already exists" in again.json()["error"]
    manage(durable_host, "raise", instance_id, 1, event="first")
    assert wait_for(first.json()["statusQueryGetUri"])["runtimeStatus"] == "Completed"
    third = start(durable_host.base_url, "chain", ["Z"], instance_id)
    assert third.status == 202
    assert wait_for(third.json()["statusQueryGetUri"])["output"] == ["Hello Z!"]


def test_status_with_history_through_the_sdk(durable_host: DevHost) -> None:
    status = run(durable_host.base_url, "chain", ["H"])
    detailed = manage(durable_host, "status", status["instanceId"])
    kinds = [e["EventType"] for e in detailed["historyEvents"]]
    assert kinds == ["ExecutionStarted", "TaskCompleted", "ExecutionCompleted"]
    assert detailed["historyEvents"][1]["FunctionName"] == "hello"
    assert detailed["historyEvents"][1]["Result"] == "Hello H!"
    assert detailed["historyEvents"][2]["OrchestrationStatus"] == "Completed"


def test_orchestrator_logs_are_not_repeated_on_replay(durable_host: DevHost, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    status = run(durable_host.base_url, "logging_orch")
    instance_id = status["instanceId"]
    steps = [
        r.getMessage() for r in caplog.records if r.name == "sample.orchestrator" and instance_id in r.getMessage()
    ]
    assert steps == [f"step {n} of {instance_id}" for n in range(3)]
    episodes = [r.getMessage() for r in caplog.records if "Functions.logging_orch" in r.getMessage()]
    assert len(episodes) == 4  # start + one episode per completed activity
    assert all(f"InstanceId={instance_id}" in line for line in episodes)
