"""The Python worker: one thread pool for sync functions, one event loop for ``async def`` ones.

On Azure the Functions host (which also serves the Durable management API) sends every
invocation over gRPC to one Python worker process. The worker reads requests on its single
asyncio loop; an ``async def`` function runs on that loop, a plain function runs in the worker's
one ``ThreadPoolExecutor`` (``loop.run_in_executor(self._sync_call_tp, ...)``), whatever its
trigger: HTTP handlers, timers, activities, and the orchestrator and entity episodes the Durable
extension asks for (Azure/azure-functions-python-worker ``azure_functions_worker/dispatcher.py``,
``_handle__invocation_request``, ``_run_sync_func``, ``_run_async_func``;
https://learn.microsoft.com/azure/azure-functions/python-scale-performance-reference#understanding-async-in-python-worker).
So a blocking call inside an ``async def`` stalls every other invocation of the app, while the
host (and the management API it serves) keeps answering. This module is that worker: its own
loop thread, separate from the devhost's HTTP/management loop, and one shared pool.

Pool size: ``PYTHON_THREADPOOL_THREAD_COUNT``. The worker alone would default to 1 on Python
3.11 (``_get_sync_tp_max_workers`` uses ``None`` only when ``sys.version_info.minor == 9``, else
``PYTHON_THREADPOOL_THREAD_COUNT_DEFAULT = 1``, ``azure_functions_worker/constants.py``), but the
Functions host v4 sets the variable to ``"1000"`` for every Python worker it starts when the app
setting is empty (Azure/azure-functions-host ``src/WebJobs.Script/Workers/ProcessManagement/
DefaultWorkerProcessFactory.cs``, ``ApplyWorkerConcurrencyLimits``;
``RpcWorkerConstants.DefaultConcurrencyLimit``; Azure/azure-functions-host#7671). What a
deployed app gets when the setting is unset is therefore 1000 threads, and so is the default here.

``functionTimeout``: the host starts an invocation's clock when it dispatches it, so time spent
waiting for a free worker thread counts. Past the deadline the invocation fails with the host's
``FunctionTimeoutException`` text. A Python thread cannot be killed: the result of a sync function
that runs late is discarded and the failure recorded when the deadline passes, but its thread
keeps occupying its pool slot until the function returns — which is exactly what makes the pool
limit bite. (On Azure the host then restarts the worker process, which the devhost cannot do to
itself; see the README.) A late ``async def`` is cancelled on the worker loop.

Each step of an ``async def`` function (the code between two awaits that actually suspend) is
timed; one that holds the loop longer than asyncio's own "slow callback" threshold (0.1 s,
https://docs.python.org/3/library/asyncio-dev.html#debug-mode) is reported once per function with
a warning: that is blocking I/O in an async function, which stalls every invocation on Azure too.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Generator
from datetime import timedelta
from typing import Any

from .timeouts import FunctionTimeout

log = logging.getLogger("devhost.worker")

DEFAULT_THREAD_COUNT = 1000
THREAD_COUNT_SETTING = "PYTHON_THREADPOOL_THREAD_COUNT"
BLOCKING_STEP = 0.1


def thread_count(settings: dict[str, str]) -> int:
    """Pool size from the app settings (what the host passes the worker when unset: 1000)."""
    value = settings.get(THREAD_COUNT_SETTING, "").strip()
    if not value:
        return DEFAULT_THREAD_COUNT
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        # The worker logs this and falls back to its default (dispatcher.py, tp_max_workers_validator).
        log.warning("%s must be an integer of at least 1; using %d", THREAD_COUNT_SETTING, DEFAULT_THREAD_COUNT)
        return DEFAULT_THREAD_COUNT
    return count


async def _reset_sdk_session(close: bool) -> None:
    """Give the Durable SDK's shared aiohttp session (bound to one event loop) a fresh start."""
    try:
        from azure.durable_functions.models.utils import http_utils
    except ImportError:  # pragma: no cover - the SDK is a dependency
        return
    if close:
        session = getattr(http_utils, "_client_session", None)
        if session is not None and not session.closed:
            await session.close()
    http_utils._client_session = None
    http_utils._session_lock = asyncio.Lock()


class Worker:
    """The app's worker: an event loop thread plus one thread pool."""

    def __init__(self, threads: int, timeout: timedelta | None) -> None:
        """A worker with ``threads`` pool threads whose invocations may run ``timeout`` (``None``: no limit)."""
        self.threads = threads
        self.timeout = timeout
        self.pool = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="devhost-worker")
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.waiting = 0  # invocations sent to the worker that its loop has not picked up yet
        self.queued = 0  # sync functions waiting for a free pool thread
        self.running = 0  # sync functions on a pool thread right now (including timed-out ones)
        self.blocked: dict[str, float] = {}  # async functions that held the loop: longest step (s)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker loop in its own thread."""
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self.loop = loop
            loop.run_until_complete(_reset_sdk_session(close=False))
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name="devhost-worker-loop", daemon=True)
        self._thread.start()
        ready.wait()

    def stop(self, grace: float = 10.0) -> None:
        """Let running functions finish (up to ``grace`` seconds), then close the SDK session and stop the loop.

        The pool is released last; threads still stuck after the grace period are abandoned.
        """
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and (self.running or self.waiting):
            time.sleep(0.05)
        if self.running:
            log.warning("stopping with %d function(s) still running after %.0f s", self.running, grace)
        loop = self.loop
        if loop is not None and self._thread is not None and self._thread.is_alive():
            closing = asyncio.run_coroutine_threadsafe(self._close(), loop)
            with contextlib.suppress(Exception):
                closing.result(grace)
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(grace)
        self.pool.shutdown(wait=False, cancel_futures=True)

    @staticmethod
    async def _close() -> None:
        """On the worker loop: cancel what is still running there and close the SDK's session."""
        current = asyncio.current_task()
        for task in asyncio.all_tasks():
            if task is not current:
                task.cancel()
        await _reset_sdk_session(close=True)

    # -- invocations ---------------------------------------------------------------------------

    async def invoke(
        self, name: str, call: Callable[[], Any], *, is_async: bool, invocation_id: str | None = None
    ) -> Any:
        """Run one invocation of function ``name`` on the worker; raise :class:`FunctionTimeout` when late.

        ``call`` takes no arguments: for an ``async def`` function it returns the coroutine, for a
        plain one it does the work (and may itself return a coroutine, which is awaited).
        """
        loop = self.loop
        assert loop is not None, "the worker is not started"
        with self._lock:
            self.waiting += 1
        future = asyncio.run_coroutine_threadsafe(self._run(name, call, is_async), loop)
        future.add_done_callback(_consume)
        outcome = asyncio.wrap_future(future)
        outcome.add_done_callback(_consume)
        deadline = None if self.timeout is None else self.timeout.total_seconds()
        # asyncio.wait, not wait_for: a TimeoutError raised by the function itself is its own failure.
        done, _ = await asyncio.wait({outcome}, timeout=deadline)
        if not done:
            if is_async:
                future.cancel()  # cancels the task on the worker loop (once the loop gets to run)
            raise FunctionTimeout(name, self.timeout or timedelta(0), invocation_id)
        return outcome.result()

    async def _run(self, name: str, call: Callable[[], Any], is_async: bool) -> Any:
        """On the worker loop: await the coroutine, or run the sync function in the pool."""
        with self._lock:
            self.waiting -= 1
        if is_async:
            awaitable = _as_awaitable(call())
            if asyncio.iscoroutine(awaitable):
                return await _Stepwise(awaitable, functools.partial(self._step_took, name))
            return await awaitable
        loop = asyncio.get_running_loop()
        with self._lock:
            self.queued += 1
        result = await loop.run_in_executor(self.pool, self._counted, call)
        if asyncio.iscoroutine(result):
            result = await result
        return result

    def _step_took(self, name: str, seconds: float) -> None:
        if seconds < BLOCKING_STEP:
            return
        first = name not in self.blocked
        self.blocked[name] = max(seconds, self.blocked.get(name, 0.0))
        if first:
            log.warning(
                "Function '%s' is async def but held the worker's event loop for %.0f ms without awaiting: "
                "meanwhile no other invocation of the app could start (on Azure too). Make it a plain def "
                "(it then runs in the thread pool) or use async I/O.",
                name,
                seconds * 1000,
            )

    def _counted(self, call: Callable[[], Any]) -> Any:
        with self._lock:
            self.queued -= 1
            self.running += 1
        try:
            return call()
        finally:
            with self._lock:
                self.running -= 1


class _Stepwise:
    """Awaits a coroutine step by step, timing each step (a step never yields the loop)."""

    def __init__(self, coroutine: Any, took: Callable[[float], None]) -> None:
        self._coroutine = coroutine
        self._took = took

    def __await__(self) -> Generator[Any, Any, Any]:
        steps = self._coroutine.__await__()
        value: Any = None
        error: BaseException | None = None
        while True:
            started = time.perf_counter()
            try:
                yielded = steps.send(value) if error is None else steps.throw(error)
            except StopIteration as done:
                self._took(time.perf_counter() - started)
                return done.value
            except BaseException:
                self._took(time.perf_counter() - started)
                raise
            self._took(time.perf_counter() - started)
            try:
                value, error = (yield yielded), None
            except BaseException as exc:  # e.g. the cancellation of a late invocation
                value, error = None, exc


def _as_awaitable(value: Any) -> Awaitable[Any]:
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        return value

    async def done() -> Any:
        return value

    return done()


def _consume(future: concurrent.futures.Future[Any] | asyncio.Future[Any]) -> None:
    """Retrieve the outcome of an invocation nobody waits for any more (timed out or cancelled)."""
    if not future.cancelled():
        future.exception()
