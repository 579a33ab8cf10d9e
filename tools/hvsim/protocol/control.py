"""The lab's control plane: one small JSON-over-HTTP server with a router others extend.

Built-in routes (all JSON; ``{host}`` is a simulated host's name)::

    GET    /hvsim/hosts                         the hosts and their endpoints
    GET    /hvsim/hosts/{host}/faults           fault settings
    PATCH  /hvsim/hosts/{host}/faults           partial update, e.g. {"latency_ms": 50} (POST works too)
    PUT    /hvsim/hosts/{host}/faults           replace all settings
    DELETE /hvsim/hosts/{host}/faults           clear all faults
    GET    /hvsim/hosts/{host}/counters         protocol counters
    DELETE /hvsim/hosts/{host}/counters         zero the counters
    GET    /hvsim/hosts/{host}/operations       operations received, with decoded params
    POST   /hvsim/reset                         clear faults, counters, operations and shells of every host,
                                                then run the reset hooks (``on_reset``) the lab registered

Add routes with :meth:`ControlPlane.route`; a handler takes a :class:`ControlRequest` and returns a JSON value
(status 200), a :class:`ControlResponse`, or raises :class:`ControlError`.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from tools.hvsim.protocol.faults import HostFaults
from tools.hvsim.protocol.server import WinRMHostServer

__all__ = ["ControlError", "ControlPlane", "ControlRequest", "ControlResponse", "RouteHandler"]

log = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class ControlRequest:
    """A control-plane request: method, path, template parameters, query and the parsed JSON body."""

    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ControlResponse:
    """An explicit status and JSON body."""

    status: int
    body: Any = None


class ControlError(Exception):
    """Answer with ``status`` and ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


RouteHandler = Callable[[ControlRequest], Any]


@dataclass(frozen=True)
class _Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: RouteHandler


class ControlPlane:
    """The control-plane HTTP server and its router; hosts are added with :meth:`add_host`."""

    def __init__(self, *, bind: str = "127.0.0.1", port: int = 0) -> None:
        self.bind = bind
        self.port = port
        self.hosts: dict[str, WinRMHostServer] = {}
        self._routes: list[_Route] = []
        self._reset_hooks: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._add_builtin_routes()

    # -- configuration --------------------------------------------------------------------------------------------

    def route(self, method: str, path_template: str, handler: RouteHandler) -> None:
        """Serve ``method path_template`` (``{name}`` matches one path segment) with ``handler``."""
        pieces, position = ["^"], 0
        for match in _PLACEHOLDER.finditer(path_template):
            pieces += [re.escape(path_template[position : match.start()]), f"(?P<{match.group(1)}>[^/]+)"]
            position = match.end()
        pieces += [re.escape(path_template[position:]), "$"]
        pattern = re.compile("".join(pieces))
        with self._lock:
            self._routes.append(_Route(method.upper(), path_template, pattern, handler))

    def add_host(self, server: WinRMHostServer) -> None:
        """Expose ``server`` under ``/hvsim/hosts/{name}``."""
        with self._lock:
            self.hosts[server.name] = server

    def remove_host(self, name: str) -> None:
        """Stop exposing a host."""
        with self._lock:
            self.hosts.pop(name, None)

    def on_reset(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` on ``POST /hvsim/reset`` (after the hosts' protocol state is reset)."""
        with self._lock:
            self._reset_hooks.append(hook)

    def reset(self) -> None:
        """Reset every host's faults, counters, operations and shells, then run the reset hooks."""
        with self._lock:
            hosts = list(self.hosts.values())
            hooks = list(self._reset_hooks)
        for host in hosts:
            host.reset()
        for hook in hooks:
            hook()

    # -- lifecycle ------------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8390``."""
        return f"http://{self.bind}:{self.port}"

    def start(self) -> ControlPlane:
        """Start serving on a daemon thread."""
        if self._server is not None:
            return self
        plane = self

        class Handler(_ControlHandler):
            control = plane

        server = ThreadingHTTPServer((self.bind, self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.name = "hvsim-control"
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- dispatch ---------------------------------------------------------------------------------------------------

    def dispatch(self, method: str, target: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        """Route one request; returns ``(status, json_body)``."""
        parts = urlsplit(target)
        path = unquote(parts.path)
        with self._lock:
            routes = list(self._routes)
        path_matched = False
        for route in routes:
            match = route.pattern.match(path)
            if not match:
                continue
            path_matched = True
            if route.method != method.upper():
                continue
            try:
                payload = json.loads(body) if body.strip() else None
            except (UnicodeDecodeError, json.JSONDecodeError):
                return 400, {"error": "the request body is not JSON"}
            request = ControlRequest(
                method=method.upper(),
                path=path,
                params=match.groupdict(),
                query=dict(parse_qsl(parts.query)),
                body=payload,
                headers=headers,
            )
            try:
                result = route.handler(request)
            except ControlError as exc:
                return exc.status, {"error": exc.message}
            except ValueError as exc:
                return 400, {"error": str(exc)}
            if isinstance(result, ControlResponse):
                return result.status, result.body
            return 200, result
        if path_matched:
            return 405, {"error": f"method {method} not allowed for {path}"}
        return 404, {"error": f"no route for {path}"}

    # -- built-in routes ------------------------------------------------------------------------------------------

    def _host(self, request: ControlRequest) -> WinRMHostServer:
        name = request.params.get("host", "")
        with self._lock:
            host = self.hosts.get(name)
        if host is None:
            raise ControlError(404, f"no simulated host named {name!r}")
        return host

    def _add_builtin_routes(self) -> None:
        def body_object(request: ControlRequest) -> dict[str, Any]:
            if not isinstance(request.body, dict):
                raise ControlError(400, "expected a JSON object")
            return request.body

        def list_hosts(request: ControlRequest) -> Any:
            with self._lock:
                return [host.describe() for host in self.hosts.values()]

        def get_faults(request: ControlRequest) -> Any:
            return self._host(request).faults.to_dict()

        def patch_faults(request: ControlRequest) -> Any:
            host = self._host(request)
            host.faults.update(body_object(request))
            return host.faults.to_dict()

        def put_faults(request: ControlRequest) -> Any:
            host = self._host(request)
            changes = body_object(request)
            HostFaults().update(changes)  # validate first: a rejected PUT leaves the settings as they were
            host.faults.clear()
            host.faults.update(changes)
            return host.faults.to_dict()

        def delete_faults(request: ControlRequest) -> Any:
            host = self._host(request)
            host.faults.clear()
            return host.faults.to_dict()

        def get_counters(request: ControlRequest) -> Any:
            return self._host(request).counters.snapshot()

        def delete_counters(request: ControlRequest) -> Any:
            host = self._host(request)
            host.counters.reset()
            return host.counters.snapshot()

        def get_operations(request: ControlRequest) -> Any:
            operation = request.query.get("operation")
            return [
                {"operation": item.operation, "params": item.params}
                for item in self._host(request).received_operations(operation)
            ]

        def reset(request: ControlRequest) -> Any:
            self.reset()
            return {"reset": True}

        self.route("GET", "/hvsim/hosts", list_hosts)
        self.route("GET", "/hvsim/hosts/{host}/faults", get_faults)
        self.route("PATCH", "/hvsim/hosts/{host}/faults", patch_faults)
        self.route("POST", "/hvsim/hosts/{host}/faults", patch_faults)
        self.route("PUT", "/hvsim/hosts/{host}/faults", put_faults)
        self.route("DELETE", "/hvsim/hosts/{host}/faults", delete_faults)
        self.route("GET", "/hvsim/hosts/{host}/counters", get_counters)
        self.route("DELETE", "/hvsim/hosts/{host}/counters", delete_counters)
        self.route("GET", "/hvsim/hosts/{host}/operations", get_operations)
        self.route("POST", "/hvsim/reset", reset)


class _ControlHandler(BaseHTTPRequestHandler):
    control: ControlPlane
    protocol_version = "HTTP/1.1"
    server_version = "hvsim-control"
    sys_version = ""

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        headers = {key.lower(): value for key, value in self.headers.items()}
        try:
            status, payload = self.control.dispatch(self.command, self.path, body, headers)
        except Exception as exc:
            log.exception("hvsim control plane: %s %s failed", self.command, self.path)
            status, payload = 500, {"error": f"{type(exc).__name__}: {exc}"}
        data = b"" if payload is None and status == 204 else json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("hvsim control: " + format, *args)
