"""The lease activities: each a thin call of the :class:`~functions.services.leases.LeaseService`.

``lease_expire`` and ``lease_arm`` start workflows (a delete job; the lease orchestration), so they take a Durable
client binding like the HTTP triggers, and run their service call in a thread with it (:func:`in_thread`).
Failures are translated once, into a :class:`~functions.errors.StepError`, and each runs in its activity span (as
every activity does).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import azure.durable_functions as df
from opentelemetry.trace import Span

from functions.errors import StepError
from functions.provisioning import contracts as c
from functions.provisioning.leases import LeaseArm, LeaseStep
from functions.services.leases import LeaseService
from functions.telemetry import activity_span, mark_failed
from functions.workflows.activities import register_activity, step_error
from functions.workflows.starter import in_thread

__all__ = ["lease_activities_blueprint"]


def lease_activities_blueprint(service: Callable[[], LeaseService]) -> df.Blueprint:
    """A blueprint with the lease activities; ``service`` gives the process's lease service."""
    bp = df.Blueprint()

    register_activity(bp, c.LEASE_CHECK, lambda step: service().check(step))
    register_activity(bp, c.LEASE_WARN, lambda step: service().warn(step))

    @bp.function_name(name=c.LEASE_EXPIRE.name)
    @bp.activity_trigger(input_name="payload")
    @bp.durable_client_input(client_name="client")
    async def lease_expire(payload: Any, client: df.DurableOrchestrationClient) -> Any:
        """Submit the VM's delete job at expiry."""
        with activity_span(c.LEASE_EXPIRE.name, payload) as span:
            try:
                step: LeaseStep = c.LEASE_EXPIRE.payload.load(payload)
                job_id = await in_thread(client, lambda workflows: service().expire(workflows, step))
                return c.LEASE_EXPIRE.result.dump(job_id)
            except Exception as exc:
                raise _failed(span, step_error(exc, c.LEASE_EXPIRE.name)) from exc

    @bp.function_name(name=c.LEASE_ARM.name)
    @bp.activity_trigger(input_name="payload")
    @bp.durable_client_input(client_name="client")
    async def lease_arm(payload: Any, client: df.DurableOrchestrationClient) -> Any:
        """Give a new VM its create's lease and start its lease workflow."""
        with activity_span(c.LEASE_ARM.name, payload) as span:
            try:
                arm: LeaseArm = c.LEASE_ARM.payload.load(payload)
                await in_thread(
                    client,
                    lambda workflows: service().arm(
                        workflows, arm.vm_id, arm.host, arm.expires_at, dict(arm.requested_by)
                    ),
                )
                return c.LEASE_ARM.result.dump(None)
            except Exception as exc:
                raise _failed(span, step_error(exc, c.LEASE_ARM.name)) from exc

    return bp


def _failed(span: Span, error: StepError) -> StepError:
    """``error``, marked on the activity's span."""
    mark_failed(span, error.category, transient=error.transient)
    return error
