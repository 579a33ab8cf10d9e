"""Work still queued when an instance ends (devhost conformance app).

``gate`` activities wait for their own event (opened by the test) and record that they ran.
Only one activity runs at a time (``maxConcurrentActivityFunctions`` 1), so the second of a
fan-out is still queued while the first waits.
"""

import threading
from collections import defaultdict
from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
GATES: defaultdict[str, threading.Event] = defaultdict(threading.Event)
STARTED: list[str] = []
FINISHED: list[str] = []


@app.activity_trigger(input_name="name")
def gate(name: str) -> str:
    STARTED.append(name)
    GATES[name].wait(10)
    FINISHED.append(name)
    return name


@app.orchestration_trigger(context_name="context")
def race(context: df.DurableOrchestrationContext):
    timer = context.create_timer(context.current_utc_datetime + timedelta(milliseconds=200))
    winner = yield context.task_any([context.call_activity("gate", context.get_input()), timer])
    return "timer" if winner == timer else "gate"


@app.orchestration_trigger(context_name="context")
def fan(context: df.DurableOrchestrationContext):
    names = context.get_input()
    return (yield context.task_all([context.call_activity("gate", n) for n in names]))


@app.orchestration_trigger(context_name="context")
def again(context: df.DurableOrchestrationContext):
    spec = context.get_input()
    if spec["round"] == 1:
        return "second execution"
    timer = context.create_timer(context.current_utc_datetime + timedelta(milliseconds=200))
    yield context.task_any([context.call_activity("gate", spec["gate"]), timer])
    context.continue_as_new({"round": 1, "gate": spec["gate"]})
    return None
