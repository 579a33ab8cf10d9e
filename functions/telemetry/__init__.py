"""Telemetry: one trace per job from the HTTP call to the host's PowerShell, and the app's metrics (OpenTelemetry).

- :mod:`~functions.telemetry.names`: every span, attribute and metric name (what the workbook and alerts query);
- :mod:`~functions.telemetry.setup`: :func:`configure`, called once at import by the composition root — Azure Monitor
  with a connection string, else the ``console`` or ``otlp`` exporter, else nothing;
- :mod:`~functions.telemetry.spans`: the tracer, the job a piece of work belongs to, the job's own trace;
- :mod:`~functions.telemetry.activities`, :mod:`~functions.telemetry.winrm`, :mod:`~functions.telemetry.jobs`: the
  activity span, the WinRM operation span, and step/job telemetry taken from the job record;
- :mod:`~functions.telemetry.instruments`: the metric instruments.

The HTTP request span is made by the API layer (``functions.api.http.Api``) with :func:`start_span`. Nothing here
is imported by orchestrators (they replay). See ``docs/operations.md``.
"""

from functions.telemetry.activities import activity_span, record_host_syncs
from functions.telemetry.jobs import job_changed
from functions.telemetry.setup import configure
from functions.telemetry.spans import (
    carried,
    current_job,
    job_scope,
    job_trace_id,
    link_to_job,
    mark_failed,
    start_span,
)
from functions.telemetry.winrm import TracedRunner

__all__ = [
    "TracedRunner",
    "activity_span",
    "carried",
    "configure",
    "current_job",
    "job_changed",
    "job_scope",
    "job_trace_id",
    "link_to_job",
    "mark_failed",
    "record_host_syncs",
    "start_span",
]
