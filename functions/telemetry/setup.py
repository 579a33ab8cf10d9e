"""Setting telemetry up once per process, from the telemetry settings, without ever failing the app's import.

:func:`configure` is called by the composition root (``functions.app.create_app``, i.e. at the import of
``function_app.py``):

- with ``APPLICATIONINSIGHTS_CONNECTION_STRING`` (the deployment sets it): the Azure Monitor OpenTelemetry distro
  (``configure_azure_monitor``) — traces (all of them: a job's trace must be whole), metrics and the app's own
  logs (logger ``functions``, so they carry the trace they were written in) go to Application Insights; the Azure
  SDK's instrumentation adds the Table Storage calls, while the HTTP client instrumentations stay off (the WinRM
  operation spans count their round trips);
- else by ``AETHERV_TELEMETRY_EXPORTER``: ``console`` prints every span (one JSON line each) and the metrics to the
  standard output; ``otlp`` sends them over OTLP/HTTP (protobuf) to ``OTEL_EXPORTER_OTLP_ENDPOINT``;
- else (``none``): nothing is installed, the OpenTelemetry API stays a no-op and nothing is sent.

It never raises: an import failure of ``function_app.py`` would cost the app every function (Azure indexes none),
so a failure here is logged and the app runs without telemetry; invalid telemetry settings are reported by
``/api/readyz`` like every other setting (the composition root reads them with ``load_telemetry``). A second call
changes nothing: OpenTelemetry's global providers can be set once per process.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Literal

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from functions.settings import TelemetrySettings

__all__ = ["Outcome", "build_providers", "configure"]

log = logging.getLogger(__name__)

Outcome = Literal["azure-monitor", "console", "otlp", "none", "already-configured", "failed"]

SERVICE_NAME = "aetherv-orchestrator"
LOGGER_NAME = "functions"
"""The logger whose records the Azure Monitor distro exports (the app's modules log under ``functions.*``)."""

_HTTP_INSTRUMENTATIONS = ("requests", "urllib", "urllib3")
"""The distro's HTTP client instrumentations, left off (see :func:`_install`)."""

_lock = threading.Lock()
_done: list[Outcome] = []
"""What the first :func:`configure` did (empty before it)."""


def _one_line(span: ReadableSpan) -> str:
    return str(span.to_json(indent=None)) + os.linesep


def _exporters(settings: TelemetrySettings) -> tuple[SpanExporter, MetricExporter]:
    if settings.exporter == "console":
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter(formatter=_one_line), ConsoleMetricExporter()
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    base = settings.otlp_endpoint
    return OTLPSpanExporter(endpoint=f"{base}/v1/traces"), OTLPMetricExporter(endpoint=f"{base}/v1/metrics")


def build_providers(
    settings: TelemetrySettings, *, export_interval_ms: float | None = None
) -> tuple[TracerProvider, MeterProvider]:
    """The SDK tracer and meter providers for the ``console`` or ``otlp`` exporter (not installed globally).

    Batching follows the SDK's standard variables (``OTEL_BSP_SCHEDULE_DELAY``, ``OTEL_METRIC_EXPORT_INTERVAL``:
    5 s and 60 s by default), which the SDK reads itself; ``export_interval_ms`` overrides the metric interval.
    """
    resource = Resource.create({"service.name": SERVICE_NAME})
    spans, metric_exporter = _exporters(settings)
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(spans))
    reader: MetricReader = PeriodicExportingMetricReader(metric_exporter, export_interval_millis=export_interval_ms)
    return tracer_provider, MeterProvider(resource=resource, metric_readers=[reader])


def _install(settings: TelemetrySettings) -> Outcome:
    if settings.connection_string:
        from azure.monitor.opentelemetry import configure_azure_monitor

        configure_azure_monitor(
            connection_string=settings.connection_string.reveal(),
            logger_name=LOGGER_NAME,
            resource=Resource.create({"service.name": SERVICE_NAME}),
            # Every span of a job's trace, or the trace has holes (the default samples at a rate).
            sampling_ratio=1.0,
            # One span per WinRM operation (with its round trips) says what one per HTTP request would, at a
            # fraction of the volume; Table Storage calls stay traced through the Azure SDK's instrumentation.
            instrumentation_options={name: {"enabled": False} for name in _HTTP_INSTRUMENTATIONS},
        )
        return "azure-monitor"
    if settings.exporter == "none":
        return "none"
    tracer_provider, meter_provider = build_providers(settings)
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    return settings.exporter


def configure(settings: TelemetrySettings) -> Outcome:
    """Install the telemetry ``settings`` ask for, once per process; never raises (see the module docstring)."""
    with _lock:
        if _done:
            return "already-configured"
        try:
            outcome = _install(settings)
        except Exception:
            log.exception("telemetry could not be set up; the app runs without it")
            outcome = "failed"
        _done.append(outcome)
        if outcome not in ("none", "failed"):
            log.info("telemetry: %s", outcome)
        return outcome
