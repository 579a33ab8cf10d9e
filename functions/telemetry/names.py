"""Every name the app's telemetry emits: the tracer and meter, span names, span attributes, metrics and dimensions.

They are written once, here, because other things depend on them: the Azure Monitor workbook and alert rules in
``infra/app/operations.bicep`` query them (``tests/infra/test_operations.py`` checks that every name a
query uses is one of these), and ``docs/operations.md`` tells operators what to search for. Renaming one breaks
dashboards and alerts: add, never rename.

In Application Insights, spans land in ``requests`` (server spans: the HTTP API) and ``dependencies`` (the others),
span attributes and metric dimensions in ``customDimensions``, and metrics in ``customMetrics`` under their name.
"""

from __future__ import annotations

__all__ = [
    "ATTRIBUTES",
    "DIMENSIONS",
    "METRICS",
    "SPAN_PREFIXES",
]

TRACER = "aetherv"
"""The tracer's (instrumentation scope's) name."""
METER = "aetherv"
"""The meter's name."""

# -- span names (a prefix and the route, activity, step or operation) ------------------------------------------------

SPAN_ACTIVITY = "activity "
"""``activity <name>``: one Durable activity invocation."""
SPAN_STEP = "step "
"""``step <name>``: one step of a job, as its job record tells it (start and end from the step record)."""
SPAN_JOB = "job "
"""``job <kind>``: a whole job, from its start to its final status (from the job record)."""
SPAN_WINRM = "winrm "
"""``winrm <operation>``: one PowerShell operation (or ``a+b`` batch) run on a host over WinRM."""
SPAN_PREFIXES = (SPAN_ACTIVITY, SPAN_STEP, SPAN_JOB, SPAN_WINRM)
"""The HTTP request span is named ``<METHOD> <route>`` (e.g. ``POST /api/v1/vms``)."""

# -- span attributes ------------------------------------------------------------------------------------------------

JOB_ID = "aetherv.job_id"
"""On every span of a job (HTTP 202 answers, activities, WinRM operations, steps, the job): the search key."""
JOB_KIND = "aetherv.job_kind"
ACTIVITY = "aetherv.activity"
HOST = "aetherv.host"
STEP = "aetherv.step"
STATUS = "aetherv.status"
"""A step's or job's final status (``Succeeded``, ``Failed``, ``Canceled``)."""
OUTCOME = "aetherv.outcome"
"""``ok`` or ``error`` (activities, WinRM operations, host syncs)."""
ERROR_CATEGORY = "aetherv.error_category"
"""The failure's category (``HostUnreachable``, ``GuestTimeout``, …): the StepError's or the Hyper-V error's."""
TRANSIENT = "aetherv.transient"
OPERATION = "aetherv.winrm.operation"
ROUND_TRIPS = "aetherv.winrm.round_trips"
"""WS-Management requests the operation made (each one HTTP round trip; NTLM's handshake on a new session aside)."""
HTTP_ROUTE = "http.route"
HTTP_METHOD = "http.request.method"
HTTP_STATUS = "http.response.status_code"
ATTRIBUTES = (
    JOB_ID,
    JOB_KIND,
    ACTIVITY,
    HOST,
    STEP,
    STATUS,
    OUTCOME,
    ERROR_CATEGORY,
    TRANSIENT,
    OPERATION,
    ROUND_TRIPS,
    HTTP_ROUTE,
    HTTP_METHOD,
    HTTP_STATUS,
)

# -- metrics ----------------------------------------------------------------------------------------------------------

JOBS_STARTED = "aetherv.jobs.started"
"""Counter: jobs that started running (dimension ``kind``)."""
JOBS_COMPLETED = "aetherv.jobs.completed"
"""Counter: jobs that reached a final status (``kind``, ``status``: ``Succeeded`` | ``Failed`` | ``Canceled``)."""
JOB_DURATION = "aetherv.job.duration"
"""Histogram, seconds: a job from its start (or creation) to its final status (``kind``, ``status``)."""
STEP_DURATION = "aetherv.step.duration"
"""Histogram, seconds: one finished step (``kind``, ``step``, ``status``, ``host``)."""
GUEST_WAIT_DURATION = "aetherv.guest.wait.duration"
"""Histogram, seconds: a guest wait step (``wait_for_key``, ``wait_for_apply``) (``step``, ``status``, ``host``)."""
WINRM_DURATION = "aetherv.winrm.duration"
"""Histogram, seconds: one WinRM operation (``host``, ``operation``, ``outcome``)."""
WINRM_ROUND_TRIPS = "aetherv.winrm.round_trips"
"""Counter: WS-Management requests made (``host``, ``operation``)."""
WINRM_ERRORS = "aetherv.winrm.errors"
"""Counter: WinRM operations that failed (``host``, ``operation``, ``category``)."""
HOST_CONNECTED = "aetherv.host.connected"
"""Gauge: 1 when a host's last inventory sync reached it, 0 when it did not (``host``)."""
SYNC_DURATION = "aetherv.inventory.sync.duration"
"""Histogram, seconds: one host's inventory sync (``host``, ``outcome``)."""
INVENTORY_AGE = "aetherv.inventory.age"
"""Gauge, seconds: age of a host's stored inventory after a sync attempt, as this worker knows it (``host``):
0 after a successful sync, else the time since the last one this worker saw succeed."""
METRICS = (
    JOBS_STARTED,
    JOBS_COMPLETED,
    JOB_DURATION,
    STEP_DURATION,
    GUEST_WAIT_DURATION,
    WINRM_DURATION,
    WINRM_ROUND_TRIPS,
    WINRM_ERRORS,
    HOST_CONNECTED,
    SYNC_DURATION,
    INVENTORY_AGE,
)

# -- metric dimensions -----------------------------------------------------------------------------------------------

DIM_KIND = "kind"
DIM_STATUS = "status"
DIM_STEP = "step"
DIM_HOST = "host"
DIM_OPERATION = "operation"
DIM_OUTCOME = "outcome"
DIM_CATEGORY = "category"
DIMENSIONS = (DIM_KIND, DIM_STATUS, DIM_STEP, DIM_HOST, DIM_OPERATION, DIM_OUTCOME, DIM_CATEGORY)

GUEST_WAIT_STEPS = frozenset({"wait_for_key", "wait_for_apply"})
"""The steps of a create that wait for the guest (their durations are the guest-wait times)."""
