"""Routes near the host's own paths (devhost conformance app).

The route of ``page`` comes from ``DEVHOST_TEST_ROUTE`` so one app covers every case.
"""

import os

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="api/ping", methods=["GET"])
def ping(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("pong")


@app.route(route=os.environ.get("DEVHOST_TEST_ROUTE", "{*path}"), methods=["GET"])
def page(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"page {req.route_params.get('path', '')}")
