"""Durable sample app for the devhost conformance tests."""

import json
import logging
import time
from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
ATTEMPTS: dict[str, int] = {}
NONDETERMINISTIC_CALLS = [0]
log = logging.getLogger("sample.orchestrator")


# -- client functions (the SDK's DurableOrchestrationClient against the devhost) --------------


@app.route(route="start/{name}/{instance_id?}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(
    req: func.HttpRequest, client: df.DurableOrchestrationClient, context: func.Context
) -> func.HttpResponse:
    body = req.get_body()
    payload = json.loads(body) if body else None
    try:
        instance_id = await client.start_new(req.route_params["name"], req.route_params.get("instance_id"), payload)
    except Exception as exc:
        return func.HttpResponse(json.dumps({"error": str(exc)}), status_code=409, mimetype="application/json")
    return client.create_check_status_response(req, instance_id)


@app.route(route="manage/{action}/{instance_id}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def manage(
    req: func.HttpRequest, client: df.DurableOrchestrationClient, context: func.Context
) -> func.HttpResponse:
    action = req.route_params["action"]
    instance_id = req.route_params["instance_id"]
    body = req.get_body()
    data = json.loads(body) if body else None
    result: object = None
    try:
        if action == "raise":
            await client.raise_event(instance_id, req.params["event"], data)
        elif action == "terminate":
            await client.terminate(instance_id, "stopped by test")
        elif action == "suspend":
            await client.suspend(instance_id, "paused by test")
        elif action == "resume":
            await client.resume(instance_id, "resumed by test")
        elif action == "purge":
            result = (await client.purge_instance_history(instance_id)).instances_deleted
        elif action == "status":
            status = await client.get_status(instance_id, show_history=True, show_history_output=True)
            result = status.to_json() if status else None
            if status and getattr(status, "historyEvents", None) is not None:
                result["historyEvents"] = status.historyEvents
        elif action == "signal":
            await client.signal_entity(df.EntityId("Counter", instance_id), req.params["op"], data)
        elif action == "read":
            state = await client.read_entity_state(df.EntityId("Counter", instance_id))
            result = {"exists": state.entity_exists, "state": state.entity_state}
        elif action == "query":
            statuses = await client.get_status_by(instance_id_prefix=instance_id)
            result = sorted(s.instance_id for s in statuses)
        else:
            return func.HttpResponse(status_code=400)
    except Exception as exc:
        return func.HttpResponse(json.dumps({"error": str(exc)}), status_code=409, mimetype="application/json")
    return func.HttpResponse(json.dumps(result), mimetype="application/json")


# -- orchestrators ------------------------------------------------------------------------------


@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext):
    results = []
    for city in context.get_input() or ["Tokyo", "Seattle", "London"]:
        results.append((yield context.call_activity("hello", city)))
    return results


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    count = context.get_input()
    values = yield context.task_all([context.call_activity("double", n) for n in range(count)])
    return {"count": len(values), "sum": sum(values)}


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext):
    seconds = context.get_input()
    deadline = context.create_timer(context.current_utc_datetime + timedelta(seconds=seconds))
    event = context.wait_for_external_event("Approval")
    winner = yield context.task_any([event, deadline])
    if winner == event:
        deadline.cancel()
        return {"outcome": "approved", "by": event.result}
    return {"outcome": "timeout"}


@app.orchestration_trigger(context_name="context")
def monitor(context: df.DurableOrchestrationContext):
    polls = 0
    expiry = context.current_utc_datetime + timedelta(seconds=30)
    while context.current_utc_datetime < expiry:
        state = yield context.call_activity("poll", polls)
        polls += 1
        if state == "done":
            break
        yield context.create_timer(context.current_utc_datetime + timedelta(milliseconds=200))
    return polls


@app.orchestration_trigger(context_name="context")
def retry_ok(context: df.DurableOrchestrationContext):
    options = df.RetryOptions(first_retry_interval_in_milliseconds=100, max_number_of_attempts=5)
    return (yield context.call_activity_with_retry("flaky", options, context.instance_id))


@app.orchestration_trigger(context_name="context")
def retry_exhausted(context: df.DurableOrchestrationContext):
    options = df.RetryOptions(first_retry_interval_in_milliseconds=100, max_number_of_attempts=2)
    try:
        yield context.call_activity_with_retry("always_fail", options, context.instance_id)
    except Exception as exc:
        return {"caught": str(exc)}
    return {"caught": None}


@app.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext):
    first = yield context.call_sub_orchestrator("chain", ["A", "B"])
    second = yield context.call_sub_orchestrator("chain", ["C"], instance_id=f"{context.instance_id}-child")
    try:
        yield context.call_sub_orchestrator("failing", None)
    except Exception as exc:
        failure = str(exc)
    return {"first": first, "second": second, "failure": failure}


@app.orchestration_trigger(context_name="context")
def failing(context: df.DurableOrchestrationContext):
    yield context.call_activity("hello", "doomed")
    raise ValueError("ORCH-BOOM marker")


@app.orchestration_trigger(context_name="context")
def eternal(context: df.DurableOrchestrationContext):
    state = context.get_input() or {"count": 0, "limit": 3}
    state["count"] += 1
    yield context.call_activity("hello", str(state["count"]))
    if state["count"] >= state["limit"]:
        return state["count"]
    yield context.create_timer(context.current_utc_datetime + timedelta(milliseconds=100))
    context.continue_as_new(state)
    return None


@app.orchestration_trigger(context_name="context")
def entity_caller(context: df.DurableOrchestrationContext):
    entity = df.EntityId("Counter", context.get_input())
    for _ in range(5):
        yield context.call_entity(entity, "add", 1)
    context.signal_entity(entity, "add", 10)
    total = yield context.call_entity(entity, "get")
    try:
        yield context.call_entity(entity, "explode")
    except Exception as exc:
        return {"total": total, "error": str(exc)}
    return {"total": total, "error": None}


@app.orchestration_trigger(context_name="context")
def custom_status(context: df.DurableOrchestrationContext):
    context.set_custom_status({"step": "waiting"})
    value = yield context.wait_for_external_event("go")
    context.set_custom_status({"step": "done"})
    return value


@app.orchestration_trigger(context_name="context")
def waiter(context: df.DurableOrchestrationContext):
    first = yield context.wait_for_external_event("first")
    second = yield context.call_activity("hello", str(first))
    return second


@app.orchestration_trigger(context_name="context")
def nondeterministic(context: df.DurableOrchestrationContext):
    NONDETERMINISTIC_CALLS[0] += 1
    name = "hello" if NONDETERMINISTIC_CALLS[0] == 1 else "double"
    yield context.call_activity(name, 1)
    yield context.call_activity("hello", "after")
    return "unreachable"


@app.orchestration_trigger(context_name="context")
def logging_orch(context: df.DurableOrchestrationContext):
    for step in range(3):
        if not context.is_replaying:
            log.info("step %d of %s", step, context.instance_id)
        yield context.call_activity("hello", str(step))
    return "logged"


@app.orchestration_trigger(context_name="context")
def quick(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("hello", context.get_input()))


# -- activities ---------------------------------------------------------------------------------


@app.activity_trigger(input_name="name")
def hello(name: str) -> str:
    return f"Hello {name}!"


@app.activity_trigger(input_name="value")
async def double(value: int) -> int:
    return value * 2


@app.activity_trigger(input_name="count")
def poll(count: int) -> str:
    return "done" if count >= 2 else "busy"


@app.activity_trigger(input_name="key")
def flaky(key: str) -> int:
    ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
    if ATTEMPTS[key] < 3:
        raise ConnectionError(f"FLAKY-MARKER attempt {ATTEMPTS[key]}")
    return ATTEMPTS[key]


@app.activity_trigger(input_name="key")
def always_fail(key: str) -> None:
    ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
    raise RuntimeError(f"ALWAYS-FAIL-MARKER attempt {ATTEMPTS[key]}")


@app.activity_trigger(input_name="seconds")
def sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


# -- entities -----------------------------------------------------------------------------------


@app.entity_trigger(context_name="context", entity_name="Counter")
def counter(context: df.DurableEntityContext) -> None:
    value = context.get_state(lambda: 0)
    operation = context.operation_name
    if operation == "add":
        value += context.get_input()
        context.set_state(value)
    elif operation == "get":
        context.set_result(value)
    elif operation == "reset":
        context.set_state(0)
    elif operation == "delete":
        context.destruct_on_exit()
    elif operation == "explode":
        raise ValueError("ENTITY-BOOM marker")
