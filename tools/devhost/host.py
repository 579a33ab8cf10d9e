"""``DevHost``: wires discovery, store, engine, timers and the HTTP server together.

Use it from tests as a context manager that serves in a background thread::

    with DevHost("tests/devhost/apps/chain", memory=True, port=0) as host:
        url = host.base_url  # http://127.0.0.1:<bound port>

or run it in the foreground with :meth:`DevHost.run` (what ``python -m tools.devhost`` does).
One DevHost at a time per process: the SDK's durable client keeps a process-wide HTTP session
that the devhost re-creates on the app's worker loop.

Two event loops run: the devhost's own (HTTP front door, management API, Durable engine,
timers — the Functions host's part) and the app's worker loop (:mod:`tools.devhost.worker`), so
an app that blocks its worker stalls its functions but not the host.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn
from azure.functions.timer import TimerRequest

from .asgi import App
from .bindings import RPC_PATH, WEBHOOK_PATH
from .discovery import AppSpec, DiscoveryError, FunctionInfo, discover
from .engine import Engine
from .invoke import Invoker
from .management import Management
from .reserved_routes import find_conflicts
from .rules import RESERVED_ROUTES, Strictness, strictness
from .store import Store
from .timeouts import format_timespan
from .timers import TimerJob, TimerScheduler
from .worker import Worker, thread_count

log = logging.getLogger("devhost")


class _Server(uvicorn.Server):
    """uvicorn's server without its own signal handling (the devhost installs its own)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class DevHost:
    """A local Functions host for one app."""

    def __init__(
        self,
        app_dir: str | Path = ".",
        *,
        store: str | Path | None = None,
        memory: bool = False,
        host: str = "127.0.0.1",
        port: int = 7071,
        settings: dict[str, str] | None = None,
        lenient: Iterable[str] | None = None,
    ) -> None:
        """Discover the app and open its task hub store (``memory=True`` keeps it in RAM).

        ``lenient`` names Azure rules to relax (see :mod:`tools.devhost.rules`); strict by default.
        """
        self.app_dir = Path(app_dir).resolve()
        self.spec: AppSpec = discover(self.app_dir, settings)
        self.strictness: Strictness = strictness(lenient, self.spec.settings)
        self._check_routes()
        self.hub = self.spec.config.hub_name
        self.host = host
        self.port = port
        self.store_path = None if memory else Path(store or self.app_dir / ".devhost") / f"{self.hub}.sqlite3"
        self.store = Store(self.store_path)
        self.worker = Worker(thread_count(self.spec.settings), self.spec.config.function_timeout)
        self.invoker = Invoker(str(self.app_dir), self.hub, lambda: self.base_url, self.worker)
        self.engine = Engine(self.spec, self.store, self.invoker)
        self.management = Management(self.engine, self.store, self.hub)
        self.app = App(self.spec.router, self.invoker, self.management)
        self.scheduler = TimerScheduler([self._timer_job(info, schedule) for info, schedule in self.spec.timers])
        self.server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def _check_routes(self) -> None:
        """Refuse routes in the host's own path space (rule ``reserved-routes``)."""
        conflicts = find_conflicts(self.spec.functions, self.spec.config.route_prefix)
        fatal = [c for c in conflicts if c.refused or self.strictness.enforces(RESERVED_ROUTES)]
        if fatal:
            raise DiscoveryError("\n".join(c.message for c in fatal))
        for conflict in conflicts:
            log.warning("LENIENT (%s): %s", RESERVED_ROUTES, conflict.message)

    @property
    def base_url(self) -> str:
        """``http://host:port`` to reach this devhost (loopback when bound to all interfaces)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host  # noqa: S104
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    @property
    def module(self) -> Any:
        """The imported ``function_app`` module."""
        return self.spec.module

    def _timer_job(self, info: FunctionInfo, schedule: Any) -> TimerJob:
        async def fire(past_due: bool, due: Any) -> None:
            request = TimerRequest(
                past_due=past_due,
                schedule_status={"Last": due.isoformat(), "Next": schedule.next_after(due).isoformat()},
                schedule={"AdjustForDST": True},
            )
            await self.invoker.call(info, request)

        return TimerJob(info.name, schedule, bool(info.trigger.get("runOnStartup")), fire)

    def describe(self) -> list[str]:
        """Human-readable lines: URLs served and functions found."""
        lines = [f"Functions in {self.app_dir}:"]
        prefix = self.spec.config.route_prefix
        for info in self.spec.functions:
            trigger = info.trigger
            if info.kind == "http":
                route = str(trigger.get("route") or info.name)
                methods = ",".join(trigger.get("methods") or ["ANY"])
                path = f"/{prefix}/{route}" if prefix else f"/{route}"
                auth = trigger.get("authLevel", "FUNCTION")
                lines.append(f"  {info.name}: [{methods}] {self.base_url}{path} (authLevel {auth}, not enforced)")
            elif info.kind == "timer":
                lines.append(f"  {info.name}: timerTrigger ({trigger.get('schedule')})")
            else:
                lines.append(f"  {info.name}: {trigger['type']}")
        store = "in memory" if self.store_path is None else str(self.store_path)
        lines.append(f"Task hub '{self.hub}' ({store})")
        timeout = self.spec.config.function_timeout
        lines.append(
            f"Worker: {self.worker.threads} thread(s) for sync functions, one event loop for async ones; "
            f"functionTimeout {format_timespan(timeout) if timeout else 'none'}"
        )
        lines.extend(self.strictness.describe())
        lines.append(f"Durable management API: {self.base_url}{WEBHOOK_PATH}/ (SDK RPC base {self.base_url}{RPC_PATH})")
        return lines

    def bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # IPPROTO_TCP named, not 0: asyncio sets TCP_NODELAY only on connections whose socket says TCP, and without it
        # a keep-alive response's body waits behind its headers for the client's delayed ACK (about 40 ms on Linux).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(2048)
        sock.setblocking(False)
        self.port = int(sock.getsockname()[1])
        return sock

    async def serve(self, sock: socket.socket | None = None) -> None:
        """Serve until :meth:`stop` (or SIGINT/SIGTERM in the main thread); then clean up."""
        sock = sock or self.bind()
        self.worker.start()
        # proxy_headers off: the devhost is the front end; a caller's X-Forwarded-For must never become the peer.
        config = uvicorn.Config(
            self.app, lifespan="off", log_level="warning", access_log=False, timeout_keep_alive=30, proxy_headers=False
        )
        self.server = _Server(config)
        loop = asyncio.get_running_loop()
        handled: list[signal.Signals] = []
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self._on_signal)
                handled.append(sig)
        await self.engine.start()
        self.scheduler.start()
        try:
            await self.server.serve(sockets=[sock])
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)
            await self.scheduler.stop()
            await self.engine.stop()
            await asyncio.to_thread(self.worker.stop)
            self.store.close()
            sock.close()

    def _on_signal(self) -> None:
        if self.server is not None:
            if self.server.should_exit:
                self.server.force_exit = True
            self.server.should_exit = True

    def run(self) -> None:
        """Serve in the foreground."""
        asyncio.run(self.serve())

    def start(self, timeout: float = 30.0) -> int:
        """Serve in a background thread; returns the bound port once it accepts requests."""
        sock = self.bind()

        def target() -> None:
            try:
                asyncio.run(self.serve(sock))
            except BaseException as exc:  # surfaced by start()/stop()
                self._error = exc

        self._thread = threading.Thread(target=target, name="devhost", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not (self.server is not None and self.server.started):
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"devhost did not start: {self._error!r}")
            time.sleep(0.005)
        return self.port

    def stop(self, timeout: float = 30.0) -> None:
        """Stop a background devhost and wait for it to finish."""
        if self.server is not None:
            self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> DevHost:
        """Start in the background."""
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        """Stop."""
        with contextlib.suppress(Exception):
            self.stop()
