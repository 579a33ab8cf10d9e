"""The ASGI application: HTTP-triggered functions and the Durable management API.

Requests for ``/durabletask/...`` (the RPC base the SDK's client uses) and
``/runtime/webhooks/durabletask/...`` (the public webhook base) go to
:mod:`tools.devhost.management`; everything else is matched against the app's HTTP routes.
Like the Functions host, a path served only for other methods is a 404, a function that raises
is a 500 with an empty body (the error is logged), and bodies pass through byte for byte.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import azure.functions as func

from .bindings import RPC_PATH, WEBHOOK_PATH
from .discovery import FunctionInfo
from .http_types import ManagementHandler, Request, Response
from .invoke import Invoker
from .routing import Router

log = logging.getLogger("devhost.http")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def _append_forwarded_for(headers: list[tuple[str, str]], client: Any) -> None:
    """Add the connection's peer address to ``X-Forwarded-For``, as App Service's front end does.

    On Azure the app sees requests through the platform's front end, which appends the address it accepted the
    connection from to any ``X-Forwarded-For`` the caller sent (the standard proxy behaviour; Front Door documents
    the same: https://learn.microsoft.com/azure/frontdoor/front-door-http-headers-protocol). So the last hop is
    the only one a caller cannot choose, and the devhost makes it so too.
    """
    if not client:
        return
    peer = str(client[0])
    for position, (name, value) in enumerate(headers):
        if name == "x-forwarded-for":
            headers[position] = (name, f"{value}, {peer}" if value.strip() else peer)
            return
    headers.append(("x-forwarded-for", peer))


async def _read(scope: Scope, receive: Receive) -> Request:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    headers: list[tuple[str, str]] = []
    for raw_key, raw_value in scope.get("headers", []):
        headers.append((raw_key.decode("latin-1").lower(), raw_value.decode("latin-1")))
    _append_forwarded_for(headers, scope.get("client"))
    host = next((v for k, v in headers if k == "host"), None)
    if host is None:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    query_string = scope.get("query_string", b"").decode("latin-1")
    raw_path = scope.get("raw_path")
    path_text = raw_path.decode("latin-1") if raw_path else scope["path"]
    url = f"{scope.get('scheme', 'http')}://{host}{path_text}" + (f"?{query_string}" if query_string else "")
    body = b"".join(chunks)
    return Request(scope["method"].upper(), scope["path"], query_string, headers, body, url, path_text)


async def _send(send: Send, response: Response, head_only: bool = False) -> None:
    headers = list(response.headers or [])
    if not any(k.lower() == "content-length" for k, _ in headers):
        headers.append(("content-length", str(len(response.body))))
    await send(
        {
            "type": "http.response.start",
            "status": response.status,
            "headers": [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in headers],
        }
    )
    await send({"type": "http.response.body", "body": b"" if head_only else response.body})


def to_response(result: Any) -> Response:
    """Convert a function's return value like the worker's HTTP output converter."""
    if isinstance(result, func.HttpResponse):
        headers: list[tuple[str, str]] = [(str(k), str(v)) for k, v in result.headers.items()]
        if not any(k.lower() == "content-type" for k, _ in headers):
            mimetype = str(result.mimetype)
            content_type = f"{mimetype}; charset={result.charset}" if mimetype.startswith("text/") else mimetype
            headers.append(("content-type", content_type))
        return Response(int(result.status_code), bytes(result.get_body() or b""), headers)
    if isinstance(result, str):
        return Response(200, result.encode(), [("content-type", "text/plain; charset=utf-8")])
    if isinstance(result, bytes | bytearray):
        return Response(200, bytes(result), [("content-type", "application/octet-stream")])
    if result is None:
        return Response(204)
    raise TypeError(f"HTTP function returned an unsupported value of type {type(result).__name__}")


class App:
    """The devhost's ASGI callable."""

    def __init__(self, router: Router[FunctionInfo], invoker: Invoker, management: ManagementHandler) -> None:
        """Serve the functions ``router`` finds through ``invoker``, and the management API."""
        self.router = router
        self.invoker = invoker
        self.management = management

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        request = await _read(scope, receive)
        response = await self.dispatch(request)
        await _send(send, response, head_only=request.method == "HEAD")

    async def dispatch(self, request: Request) -> Response:
        """Route one request."""
        path = request.raw_path
        for base in (RPC_PATH, WEBHOOK_PATH + "/"):
            if path.startswith(base) or path == base.rstrip("/"):
                # Segments stay percent-encoded until split, so ids may contain an encoded '/'.
                return await self.management.handle(request, path[len(base) :])
        return await self.call_function(request)

    async def call_function(self, request: Request) -> Response:
        """Invoke the HTTP-triggered function whose route matches."""
        found = self.router.resolve(request.method, request.path)
        if found is None:
            return Response(404)
        info, route_params = found
        headers: dict[str, str] = {}
        for key, value in request.headers:
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        http_request = func.HttpRequest(
            method=request.method,
            url=request.url,
            headers=headers,
            params=request.query(),
            route_params=route_params,
            body=request.body,
        )
        try:
            result = await self.invoker.call(info, http_request)
            return to_response(result)
        except Exception:
            # Already logged with its traceback by the invoker; the caller gets no details.
            return Response(500)
