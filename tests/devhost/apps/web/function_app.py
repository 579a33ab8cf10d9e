"""HTTP sample app for the devhost tests."""

import asyncio
import json

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="items/{n:int}", methods=["GET"])
def item_by_number(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps({"kind": "int", "n": req.route_params["n"]}), mimetype="application/json")


@app.route(route="things/{id}", methods=["GET", "PUT"])
async def thing(req: func.HttpRequest) -> func.HttpResponse:
    await asyncio.sleep(0)
    return func.HttpResponse(
        json.dumps({"id": req.route_params["id"], "method": req.method}), mimetype="application/json"
    )


@app.route(route="files/{*rest}")
def files(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(req.route_params.get("rest", ""))


@app.route(route="echo", methods=["POST", "PUT"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(
        req.get_body(),
        status_code=201,
        headers={"X-Echo-Header": req.headers.get("x-custom", ""), "X-Query": req.params.get("q", "")},
        mimetype="application/octet-stream",
    )


@app.route(route="inspect", methods=["GET"])
async def inspect(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(
            {
                "url": req.url,
                "params": dict(req.params),
                "headers": {k: v for k, v in req.headers.items() if k.startswith("x-")},
                "invocation_id": context.invocation_id,
                "function": context.function_name,
            }
        ),
        mimetype="application/json",
        charset="utf-8",
    )


@app.route(route="text")
def text(req: func.HttpRequest) -> str:
    return "plain text"


@app.route(route="boom")
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("SECRET-STACK-DETAIL")


@app.route(route="aboom")
async def aboom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("SECRET-ASYNC-DETAIL")


@app.route(route="slow")
def slow(req: func.HttpRequest) -> func.HttpResponse:
    import time

    time.sleep(0.5)
    return func.HttpResponse("slow done")


@app.route(route="status/{code:int}")
def status(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(status_code=int(req.route_params["code"]), headers={"Set-Cookie": "a=1"})
