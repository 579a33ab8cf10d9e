"""Crash-recovery sample app: a long orchestration with timers and activities in flight."""

import json
import os
import time
from datetime import timedelta
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="start/{instance_id}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(
    req: func.HttpRequest, client: df.DurableOrchestrationClient, context: func.Context
) -> func.HttpResponse:
    instance_id = await client.start_new("long_job", req.route_params["instance_id"], json.loads(req.get_body()))
    return client.create_check_status_response(req, instance_id)


@app.orchestration_trigger(context_name="context")
def long_job(context: df.DurableOrchestrationContext):
    steps = context.get_input()
    results = []
    for step in range(steps):
        context.set_custom_status({"step": step})
        results.append((yield context.call_activity("work", step)))
        yield context.create_timer(context.current_utc_datetime + timedelta(milliseconds=300))
    parallel = yield context.task_all([context.call_activity("work", 100 + n) for n in range(3)])
    return {"results": results, "parallel": parallel}


@app.activity_trigger(input_name="step")
def work(step: int) -> int:
    log = Path(os.environ["DEVHOST_WORK_LOG"])
    with log.open("a") as handle:
        handle.write(f"start {step}\n")
    time.sleep(0.4)
    with log.open("a") as handle:
        handle.write(f"end {step}\n")
    return step * 10
