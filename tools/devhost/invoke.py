"""Calling user functions the way the Python worker does, and logging each invocation.

Parameters are bound by name: the trigger binding's name gets the trigger value, each
``durableClient`` binding gets the client payload JSON string, and a parameter called
``context`` gets a :class:`azure.functions.Context` (the SDK's client middleware reads its
``invocation_id``). Every invocation goes to the app's :class:`~tools.devhost.worker.Worker`
(``async def`` on its loop, plain functions in its pool) and logs one line with its duration,
like the host's ``Executed 'Functions.<name>' (Succeeded|Failed, Id=…, Duration=…ms)``. An
invocation past ``functionTimeout`` also logs the host's ``Timeout value of … exceeded by
function 'Functions.<name>' (Id: '…'). Initiating cancellation.`` (Azure/azure-webjobs-sdk
``FunctionExecutor.cs``, ``OnFunctionTimeout``).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import azure.functions as func
from azure.functions import _abc as functions_abc

from .bindings import client_binding_json
from .discovery import FunctionInfo
from .timeouts import FunctionTimeout, format_timespan
from .worker import Worker

log = logging.getLogger("devhost")


class _TraceContext(functions_abc.TraceContext):
    @property
    def trace_state(self) -> str:
        return ""

    @property
    def trace_parent(self) -> str:
        return ""

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class _RetryContext(functions_abc.RetryContext):
    @property
    def retry_count(self) -> int:
        return 0

    @property
    def max_retry_count(self) -> int:
        return 0

    @property
    def exception(self) -> Any:
        return None


class InvocationContext(func.Context):
    """The ``context`` parameter of an invocation."""

    def __init__(self, function_name: str, function_directory: str) -> None:
        """Create a context with a fresh invocation id."""
        self._invocation_id = str(uuid.uuid4())
        self._function_name = function_name
        self._function_directory = function_directory
        self._local = threading.local()

    @property
    def invocation_id(self) -> str:
        """Invocation id."""
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        """Thread-local storage."""
        return self._local

    @property
    def function_name(self) -> str:
        """Function name."""
        return self._function_name

    @property
    def function_directory(self) -> str:
        """Function directory."""
        return self._function_directory

    @property
    def trace_context(self) -> functions_abc.TraceContext:
        """Empty trace context."""
        return _TraceContext()

    @property
    def retry_context(self) -> functions_abc.RetryContext:
        """No retries."""
        return _RetryContext()


def log_invocation(name: str, invocation_id: str, started: float, ok: bool, instance_id: str | None = None) -> None:
    """Log the one line per invocation."""
    duration = (time.perf_counter() - started) * 1000
    suffix = f", InstanceId={instance_id}" if instance_id else ""
    log.info(
        "Executed 'Functions.%s' (%s, Id=%s, Duration=%.0fms%s)",
        name,
        "Succeeded" if ok else "Failed",
        invocation_id,
        duration,
        suffix,
    )


class Invoker:
    """Invokes functions on the app's worker."""

    def __init__(self, app_dir: str, hub: str, base_url: Callable[[], str], worker: Worker) -> None:
        """Bind to the app; ``base_url()`` gives the devhost's own ``http://host:port``."""
        self.app_dir = app_dir
        self.hub = hub
        self.base_url = base_url
        self.worker = worker

    async def call(self, info: FunctionInfo, trigger_value: Any, *, instance_id: str | None = None) -> Any:
        """Invoke a function with its trigger value; re-raise what it raises after logging."""
        context = InvocationContext(info.name, self.app_dir)
        kwargs: dict[str, Any] = {str(info.trigger["name"]): trigger_value}
        if info.client_bindings:
            payload = client_binding_json(self.base_url(), self.hub)
            for name in info.client_bindings:
                kwargs[name] = payload
        if info.wants_context:
            kwargs["context"] = context
        call = functools.partial(info.handler, **kwargs)
        return await self.run(
            info, call, is_async=info.is_async, instance_id=instance_id, invocation_id=context.invocation_id
        )

    async def run(
        self,
        info: FunctionInfo,
        call: Callable[[], Any],
        *,
        is_async: bool = False,
        instance_id: str | None = None,
        invocation_id: str | None = None,
        quiet: bool = False,
    ) -> Any:
        """Run ``call`` as one invocation of ``info`` on the worker, with logging and the timeout.

        ``quiet`` leaves out the traceback of a failure (orchestrator failures are reported in the
        instance's status instead).
        """
        invocation_id = invocation_id or str(uuid.uuid4())
        started = time.perf_counter()
        try:
            result = await self.worker.invoke(info.name, call, is_async=is_async, invocation_id=invocation_id)
        except FunctionTimeout as exc:
            log.error(
                "Timeout value of %s exceeded by function '%s' (Id: '%s'). Initiating cancellation.",
                format_timespan(exc.timeout),
                exc.method_name,
                invocation_id,
            )
            log_invocation(info.name, invocation_id, started, False, instance_id)
            raise
        except Exception:
            log_invocation(info.name, invocation_id, started, False, instance_id)
            if not quiet:
                log.exception("Function '%s' failed", info.name)
            raise
        log_invocation(info.name, invocation_id, started, True, instance_id)
        return result
