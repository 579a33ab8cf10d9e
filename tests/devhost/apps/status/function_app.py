"""Custom status size (devhost conformance app): the input says which text and how many times."""

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def sized_status(context: df.DurableOrchestrationContext):
    spec = context.get_input()
    context.set_custom_status({"step": "small"})
    yield context.call_activity("echo", 1)
    context.set_custom_status(spec["text"] * spec["count"])
    yield context.call_activity("echo", 2)
    return "done"


@app.activity_trigger(input_name="value")
def echo(value: int) -> int:
    return value
