"""The Python worker's one thread pool and one event loop (devhost conformance app).

The test sets ``PYTHON_THREADPOOL_THREAD_COUNT`` and releases the blocked functions through the
module-level events.
"""

import threading
import time

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
RELEASE = threading.Event()
LOOP_BLOCKED = threading.Event()
RELEASE_LOOP = threading.Event()
EVENTS: list[str] = []


@app.route(route="hold", methods=["GET"])
def hold(req: func.HttpRequest) -> func.HttpResponse:
    RELEASE.wait(10)
    return func.HttpResponse("held")


@app.route(route="quick", methods=["GET"])
def quick(req: func.HttpRequest) -> func.HttpResponse:
    EVENTS.append("quick")
    return func.HttpResponse("quick")


@app.route(route="block", methods=["GET"])
async def block(req: func.HttpRequest) -> func.HttpResponse:
    # A blocking call inside async def: it holds the worker's only event loop.
    EVENTS.append("block-start")
    LOOP_BLOCKED.set()
    RELEASE_LOOP.wait(10)
    time.sleep(0.15)  # held for longer than asyncio's 0.1 s slow-callback threshold in any case
    EVENTS.append("block-end")
    return func.HttpResponse("unblocked")


@app.route(route="aquick", methods=["GET"])
async def aquick(req: func.HttpRequest) -> func.HttpResponse:
    EVENTS.append("aquick")
    return func.HttpResponse("aquick")


@app.orchestration_trigger(context_name="context")
def greet(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("hello", context.get_input()))


@app.activity_trigger(input_name="name")
def hello(name: str) -> str:
    return f"Hello {name}!"
