"""The WinRM operation span and metrics: a runner wrapper that times each operation a host runs.

:class:`TracedRunner` wraps a PowerShell runner (anything with ``run`` and ``run_many``, and normally a
``transport``): each call is one ``winrm <operation>`` client span with the host, the operation (``a+b`` for a
batch run in one command), the WS-Management round trips it took (read from the transport's ``round_trips``
counter, when it has one), its outcome and error category; the same figures go to the WinRM metrics. The span
is a child of the current one (the activity's) and carries the current job's id. The Hyper-V client wraps its
runner in this, so every operation of the app is covered in one place.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from opentelemetry.trace import SpanKind

from functions.telemetry import names
from functions.telemetry.instruments import record_winrm
from functions.telemetry.spans import mark_failed, start_span

__all__ = ["OperationRunner", "TracedRunner"]

T = TypeVar("T")


class OperationRunner(Protocol):
    """What is wrapped: run one operation, or several in one command."""

    def run(self, operation: str, params: Mapping[str, Any]) -> Any:
        """Run ``operation`` with ``params``."""

    def run_many(self, calls: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Any]:
        """Run ``calls`` in one command."""


def _category(exc: BaseException) -> str:
    """The error's category: a Hyper-V error's class name (``HostUnreachable``, ``VmNotFound``, …)."""
    return type(exc).__name__


class TracedRunner:
    """A runner whose every operation is a span and a set of metrics (see the module docstring)."""

    def __init__(self, runner: OperationRunner, host: str | None) -> None:
        self.runner = runner
        self.host = host or "unknown"
        self.transport = getattr(runner, "transport", None)

    def _trips(self) -> int | None:
        value = getattr(self.transport, "round_trips", None)
        return value if isinstance(value, int) else None

    def _traced(self, operation: str, call: Callable[[], T]) -> T:
        attributes = {names.HOST: self.host, names.OPERATION: operation}
        with start_span(f"{names.SPAN_WINRM}{operation}", attributes, kind=SpanKind.CLIENT) as span:
            before = self._trips()
            started = time.monotonic()
            category: str | None = None
            try:
                return call()
            except Exception as exc:
                category = _category(exc)
                mark_failed(span, category, transient=getattr(exc, "transient", None))
                raise
            finally:
                after = self._trips()
                trips = None if before is None or after is None else after - before
                if trips is not None:
                    span.set_attribute(names.ROUND_TRIPS, trips)
                record_winrm(self.host, operation, time.monotonic() - started, trips, category)

    def run(self, operation: str, params: Mapping[str, Any]) -> Any:
        """The wrapped runner's ``run``, traced."""
        return self._traced(operation, lambda: self.runner.run(operation, params))

    def run_many(self, calls: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Any]:
        """The wrapped runner's ``run_many``, traced as one operation named ``a+b``."""
        operation = "+".join(name for name, _ in calls)
        return self._traced(operation, lambda: self.runner.run_many(calls))
