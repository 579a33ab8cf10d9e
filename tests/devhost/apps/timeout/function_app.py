"""``functionTimeout`` of one second (devhost conformance app).

The slow functions wait for ``RELEASE`` (set by the test) so no thread outlives the test.
"""

import threading

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
RELEASE = threading.Event()
FINISHED: list[str] = []
QUICK_CALLS = [0]


@app.route(route="hold", methods=["GET"])
def hold(req: func.HttpRequest) -> func.HttpResponse:
    RELEASE.wait(10)
    FINISHED.append("hold")
    return func.HttpResponse("too late")


@app.route(route="quick", methods=["GET"])
def quick(req: func.HttpRequest) -> func.HttpResponse:
    QUICK_CALLS[0] += 1
    return func.HttpResponse("quick")


@app.orchestration_trigger(context_name="context")
def slow_chain(context: df.DurableOrchestrationContext):
    try:
        yield context.call_activity("slow_activity", "x")
    except Exception as exc:
        return str(exc)
    return "finished in time"


@app.activity_trigger(input_name="value")
def slow_activity(value: str) -> str:
    RELEASE.wait(10)
    FINISHED.append("slow_activity")
    return value
