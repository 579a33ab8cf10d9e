"""An app whose import raises (devhost conformance app): a setting read at import time."""

import os

import azure.functions as func

app = func.FunctionApp()
STORAGE_ACCOUNT = os.environ["DEVHOST_TEST_SETTING_THAT_IS_NOT_SET"]


@app.route(route="ping")
def ping(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(STORAGE_ACCOUNT)
