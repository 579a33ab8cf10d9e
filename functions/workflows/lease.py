"""The lease orchestration: one per VM with a lease (instance ``lease-<vm_id>``), waiting on durable timers.

Each execution reads the lease (``lease_check``; a lease whose VM is gone ends there), then:

- no lease (cleared, or the VM is gone): the orchestration ends;
- before the warning time: it waits for that time;
- from the warning time on: it records the warning once (``lease_warn``), then waits for the expiry;
- at or after the expiry: it submits the VM's delete job (``lease_expire``, as ``system:lease``), then waits
  ``check_seconds`` and looks again: a VM that is still there (its delete job failed) gets another delete job.

Every wait is also ended by the external event ``lease_changed`` (sent by a change of the lease) and lasts at most
``check_seconds`` (``AETHERV_LEASE_CHECK_HOURS``, far below the storage provider's timer limit); after every wait
the orchestration continues as new, so its history stays small however long the lease, and it re-reads the lease
whether or not an event reached it (one sent while it restarts is lost, and does not need to arrive). The
activities act only on the lease version they read: a lease changed meanwhile is never warned or deleted by its
old time. An activity that keeps failing (storage down; another job running on the VM) does not end the
orchestration: it waits ``check_seconds`` and tries again. Pure: no I/O, clock, settings or random ids.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import datetime, timedelta
from typing import Any, TypeVar

import azure.durable_functions as df

from functions.models.durable import Activity
from functions.models.leases import parse_moment
from functions.provisioning import contracts as c
from functions.provisioning.leases import LEASE_CHANGED, LeaseInput, LeaseStep

__all__ = ["bp"]

bp = df.Blueprint()
P = TypeVar("P")
R = TypeVar("R")
_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=5000, max_number_of_attempts=5)


def _call(context: df.DurableOrchestrationContext, activity: Activity[P, R], payload: P) -> Generator[Any, Any, R]:
    result = yield context.call_activity_with_retry(activity.name, _RETRY, activity.payload.dump(payload))
    return activity.result.load(result)


def _step(context: df.DurableOrchestrationContext, spec: LeaseInput) -> Generator[Any, Any, datetime | None]:
    """Read the lease and do what is due; when to wake next (``None``: the lease has ended)."""
    check = yield from _call(context, c.LEASE_CHECK, LeaseStep(spec.vm_id))
    if not check.active or check.expires_at is None:
        return None
    step = LeaseStep(spec.vm_id, check.version)
    moment: datetime = context.current_utc_datetime
    expires = parse_moment(check.expires_at)
    warn_at = parse_moment(check.warn_at) if check.warn_at else expires
    if moment >= expires:
        yield from _call(context, c.LEASE_EXPIRE, step)
        return moment + timedelta(seconds=spec.check_seconds)
    if not check.warned and moment >= warn_at:
        yield from _call(context, c.LEASE_WARN, step)
    wake = expires if check.warned or moment >= warn_at else warn_at
    return min(wake, moment + timedelta(seconds=spec.check_seconds))


@bp.function_name(name=c.VM_LEASE.name)
@bp.orchestration_trigger(context_name="context")
def vm_lease(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Warn before a VM's lease expires and delete the VM at expiry (see the module docstring)."""
    spec = c.VM_LEASE.input.load(context.get_input())
    try:
        wake = yield from _step(context, spec)
    except Exception:  # storage or the delete's submission kept failing: try again after the check interval
        wake = context.current_utc_datetime + timedelta(seconds=spec.check_seconds)
    if wake is None:
        return {"vm_id": spec.vm_id, "outcome": "ended"}
    timer = context.create_timer(wake)
    changed = context.wait_for_external_event(LEASE_CHANGED)
    winner = yield context.task_any([timer, changed])
    if winner is not timer:
        timer.cancel()
    context.continue_as_new(c.VM_LEASE.input.dump(spec))
    return None
