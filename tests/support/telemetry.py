"""In-memory OpenTelemetry providers for tests: every span and metric the app emits in this process, readable.

:func:`capture` installs (once per process: OpenTelemetry's global providers can be set only once) an SDK tracer
provider with the SDK's ``InMemorySpanExporter`` and a meter provider with its ``InMemoryMetricReader``, exactly
where :func:`functions.telemetry.setup.configure` would install the real ones. Tests clear the spans first and
read metric values as differences (cumulative temporality), filtering by attributes of their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader, NumberDataPoint
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

__all__ = ["Captured", "capture"]


@dataclass
class Captured:
    """The process's in-memory exporter and reader."""

    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader

    def spans(self, prefix: str = "") -> list[ReadableSpan]:
        """Finished spans whose name starts with ``prefix``, oldest first."""
        return [span for span in self.exporter.get_finished_spans() if span.name.startswith(prefix)]

    def points(self, name: str, **attributes: Any) -> list[Any]:
        """The data points of metric ``name`` whose attributes include ``attributes``."""
        data = self.reader.get_metrics_data()
        found: list[Any] = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name != name:
                        continue
                    for point in metric.data.data_points:
                        if _includes(point.attributes or {}, attributes):
                            found.append(point)
        return found

    def total(self, name: str, **attributes: Any) -> float:
        """A counter's sum, or a histogram's count, or a gauge's last value, over the matching points."""
        result = 0.0
        for point in self.points(name, **attributes):
            if isinstance(point, HistogramDataPoint):
                result += point.count
            elif isinstance(point, NumberDataPoint):
                result += point.value
        return result


def _includes(actual: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    return all(actual.get(key) == value for key, value in wanted.items())


_captured: list[Captured] = []


def capture() -> Captured:
    """The in-memory providers, installed globally the first time."""
    if not _captured:
        exporter = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
        reader = InMemoryMetricReader()
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        assert trace.get_tracer_provider() is tracer_provider, "another tracer provider was installed first"
        _captured.append(Captured(exporter, reader))
    return _captured[0]
