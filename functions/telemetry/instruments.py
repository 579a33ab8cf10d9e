"""The app's metric instruments (meter ``aetherv``) and the small functions that record them.

Instruments come from the global meter provider: until one is installed (telemetry ``none``) they are the
OpenTelemetry API's no-ops, and they start recording once :func:`functions.telemetry.setup.configure` installs
one. The names and dimensions are :mod:`functions.telemetry.names`'s. Recording never raises into the caller.
"""

from __future__ import annotations

import logging
import threading
import time
from functools import cache

from opentelemetry import metrics

from functions.telemetry import names

__all__ = ["Instruments", "instruments", "record_host_sync", "record_winrm"]

log = logging.getLogger(__name__)


class Instruments:
    """Every instrument of the meter, created once."""

    def __init__(self, meter: metrics.Meter) -> None:
        self.jobs_started = meter.create_counter(names.JOBS_STARTED, unit="{job}", description="Jobs that started")
        self.jobs_completed = meter.create_counter(
            names.JOBS_COMPLETED, unit="{job}", description="Jobs that reached a final status"
        )
        self.job_duration = meter.create_histogram(names.JOB_DURATION, unit="s", description="Job durations")
        self.step_duration = meter.create_histogram(names.STEP_DURATION, unit="s", description="Step durations")
        self.guest_wait = meter.create_histogram(
            names.GUEST_WAIT_DURATION, unit="s", description="Time spent waiting for guests"
        )
        self.winrm_duration = meter.create_histogram(
            names.WINRM_DURATION, unit="s", description="WinRM operation durations"
        )
        self.winrm_round_trips = meter.create_counter(
            names.WINRM_ROUND_TRIPS, unit="{request}", description="WS-Management requests to hosts"
        )
        self.winrm_errors = meter.create_counter(
            names.WINRM_ERRORS, unit="{operation}", description="WinRM operations that failed"
        )
        self.host_connected = meter.create_gauge(
            names.HOST_CONNECTED, unit="1", description="1 when the host's last sync reached it, else 0"
        )
        self.sync_duration = meter.create_histogram(
            names.SYNC_DURATION, unit="s", description="Inventory sync duration per host"
        )
        self.inventory_age = meter.create_gauge(
            names.INVENTORY_AGE, unit="s", description="Age of a host's stored inventory after a sync attempt"
        )


@cache
def instruments() -> Instruments:
    """The process's instruments (from the global meter provider)."""
    return Instruments(metrics.get_meter(names.METER))


def record_winrm(host: str, operation: str, seconds: float, round_trips: int | None, category: str | None) -> None:
    """One WinRM operation: its duration, round trips and, when it failed, its error category."""
    try:
        meters = instruments()
        outcome = "ok" if category is None else "error"
        meters.winrm_duration.record(
            seconds, {names.DIM_HOST: host, names.DIM_OPERATION: operation, names.DIM_OUTCOME: outcome}
        )
        if round_trips:
            meters.winrm_round_trips.add(round_trips, {names.DIM_HOST: host, names.DIM_OPERATION: operation})
        if category is not None:
            meters.winrm_errors.add(
                1, {names.DIM_HOST: host, names.DIM_OPERATION: operation, names.DIM_CATEGORY: category}
            )
    except Exception:
        log.warning("telemetry: recording a WinRM operation failed", exc_info=True)


_last_success: dict[str, float] = {}
_last_lock = threading.Lock()


def record_host_sync(host: str, ok: bool, seconds: float, *, now: float | None = None) -> None:
    """One host's inventory sync: connected or not, its duration, and the age of that host's inventory."""
    try:
        meters = instruments()
        moment = time.time() if now is None else now
        key = host.lower()
        with _last_lock:
            if ok:
                _last_success[key] = moment
            last = _last_success.get(key)
        meters.host_connected.set(1 if ok else 0, {names.DIM_HOST: host})
        meters.sync_duration.record(seconds, {names.DIM_HOST: host, names.DIM_OUTCOME: "ok" if ok else "error"})
        if last is not None:
            meters.inventory_age.set(max(0.0, moment - last), {names.DIM_HOST: host})
    except Exception:
        log.warning("telemetry: recording a host sync failed", exc_info=True)
