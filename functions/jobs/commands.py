"""The write operations of the API as service functions: each submits one job (or cancels one) and returns it.

Routes call exactly one of these. They look targets up in the inventory, reject what cannot work right away
(unknown VM → :class:`NotFoundError`; start of a running VM → :class:`InvalidStateError`), and otherwise hand over to
:func:`functions.jobs.service.submit_job`. :func:`job_view` merges a running job's live progress (the
orchestration's custom status) into its record.
"""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from functions.inventory.sync import get_repository
from functions.jobs.service import (
    Submission,
    create_input,
    fingerprint,
    submit_job,
    timing_input,
)
from functions.jobs.store import FINAL_STATUSES, get_job_store
from functions.models.vm_request import VmCreateRequest, request_warnings
from functions.settings import get_settings

__all__ = [
    "POWER_ACTIONS",
    "InvalidStateError",
    "NotFoundError",
    "cancel_job",
    "create_vm",
    "delete_vm",
    "job_view",
    "power_vm",
    "refresh_inventory",
]

POWER_ACTIONS = ("start", "stop", "shutdown", "restart")
# Source states each power action can start from (Hyper-V semantics; the workflow re-checks on the host).
_ALLOWED = {
    "start": {"Off", "Saved", "Paused"},
    "stop": {"Running", "Paused", "Saved", "Starting", "Stopping"},
    "shutdown": {"Running"},
    "restart": {"Running"},
}


class NotFoundError(LookupError):
    """The addressed VM, host or job does not exist."""


class InvalidStateError(Exception):
    """The VM is in a state the action cannot start from (HTTP 409)."""

    def __init__(self, message: str, state: str | None) -> None:
        super().__init__(message)
        self.state = state


async def create_vm(
    client: df.DurableOrchestrationClient,
    request: VmCreateRequest,
    requested_by: dict[str, Any],
    *,
    idempotency_key: str | None,
    body: Any,
) -> Submission:
    """Submit a create job (one per host + name while it runs)."""
    settings = get_settings()
    if request.host is not None and request.host.lower() not in {h.name.lower() for h in settings.hosts}:
        raise NotFoundError(f"host {request.host} is not configured")
    target = {"host": request.host, "name": request.name, "vm_id": None}
    return await submit_job(
        client,
        kind="create_vm",
        orchestrator="create_vm",
        target=target,
        claim=f"{(request.host or 'any').lower()}:{request.name.lower()}",
        build_input=lambda job_id: create_input(job_id, request, settings),
        requested_by=requested_by,
        idempotency_key=idempotency_key,
        body_fingerprint=fingerprint(body),
        request=request.model_dump(mode="json"),
        warnings=request_warnings(request),
    )


def _vm(vm_id: str) -> dict[str, Any]:
    vm = get_repository().get_vm(vm_id)
    if vm is None:
        raise NotFoundError(f"VM {vm_id} is not in the inventory")
    return vm


async def _vm_job(
    client: df.DurableOrchestrationClient,
    vm: dict[str, Any],
    kind: str,
    extra: dict[str, Any],
    *,
    requested_by: dict[str, Any],
    idempotency_key: str | None,
) -> Submission:
    """Submit a job of ``kind`` (its orchestrator has the same name) on an inventory VM."""
    settings = get_settings()
    return await submit_job(
        client,
        kind=kind,
        orchestrator=kind,
        target={
            "host": vm["host"],
            "name": vm["name"],
            "vm_id": vm["id"],
            **({"action": extra["action"]} if "action" in extra else {}),
        },
        claim=str(vm["id"]),
        build_input=lambda job_id: {
            "job_id": job_id,
            "host": vm["host"],
            "vm_id": vm["id"],
            "timing": timing_input(settings),
            **extra,
        },
        requested_by=requested_by,
        idempotency_key=idempotency_key,
        body_fingerprint=fingerprint({"kind": kind, "vm_id": vm["id"], **extra}),
    )


async def delete_vm(
    client: df.DurableOrchestrationClient,
    vm_id: str,
    requested_by: dict[str, Any],
    *,
    idempotency_key: str | None = None,
) -> Submission:
    """Submit a delete job for a VM in the inventory."""
    return await _vm_job(
        client, _vm(vm_id), "delete_vm", {}, requested_by=requested_by, idempotency_key=idempotency_key
    )


async def power_vm(
    client: df.DurableOrchestrationClient,
    vm_id: str,
    action: str,
    requested_by: dict[str, Any],
    *,
    options: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> Submission:
    """Submit a power job; an action the VM's current state does not allow is refused at once."""
    if action not in POWER_ACTIONS:
        raise NotFoundError(f"unknown action {action}")
    vm = _vm(vm_id)
    state = vm.get("state")
    if not vm.get("stale") and state not in _ALLOWED[action]:
        raise InvalidStateError(f"cannot {action} a VM that is {state}", state)
    extra = {"action": action, **(options or {})}
    return await _vm_job(client, vm, "power_vm", extra, requested_by=requested_by, idempotency_key=idempotency_key)


async def refresh_inventory(
    client: df.DurableOrchestrationClient, host: str | None, requested_by: dict[str, Any]
) -> Submission:
    """Submit an inventory refresh of every host, or of one."""
    settings = get_settings()
    configured = [h.name for h in settings.hosts]
    if host is not None and host.lower() not in {name.lower() for name in configured}:
        raise NotFoundError(f"host {host} is not configured")
    hosts = [host] if host is not None else configured
    winrm = settings.winrm
    deadline = 2 * (winrm.connect_timeout + winrm.read_timeout) + 60
    return await submit_job(
        client,
        kind="refresh_inventory",
        orchestrator="inventory_sync",
        target={"host": host, "name": None, "vm_id": None},
        claim=(host or "all").lower(),
        build_input=lambda job_id: {
            "job_id": job_id,
            "hosts": hosts,
            "prune": host is None,
            "deadline_seconds": deadline,
        },
        requested_by=requested_by,
        body_fingerprint=fingerprint({"refresh": host}),
    )


async def job_view(client: df.DurableOrchestrationClient, job: dict[str, Any]) -> dict[str, Any]:
    """The job as the API shows it: the record, with live progress while it runs."""
    view = {key: value for key, value in job.items() if key not in ("request",)}
    if job.get("status") in FINAL_STATUSES:
        return view
    status = await client.get_status(str(job["id"]))
    custom = status.custom_status if status else None
    if isinstance(custom, dict):
        view["progress"] = {k: custom.get(k) for k in ("step", "index", "total", "host", "vm_id", "guest_state")}
        if custom.get("steps"):
            view["steps"] = custom["steps"]
    runtime = status.runtime_status.value if status and status.runtime_status else None
    if runtime in ("Failed", "Terminated") and view.get("status") not in FINAL_STATUSES:
        view["status"] = "Failed"  # the record could not be finalised; the instance tells the truth
        view["error"] = view.get("error") or {"category": "WorkflowFailed", "message": str(status.output)[:500]}
    return view


async def cancel_job(client: df.DurableOrchestrationClient, job_id: str, by: dict[str, Any]) -> dict[str, Any]:
    """Ask a running job to cancel (it compensates what it created); a finished job is left as it is."""
    store = get_job_store()
    job = store.get(job_id)
    if job is None:
        raise NotFoundError(f"job {job_id} does not exist")
    if job.get("status") in FINAL_STATUSES:
        raise InvalidStateError(f"job {job_id} already finished ({job['status']})", job.get("status"))
    if job.get("kind") == "refresh_inventory":
        raise InvalidStateError("an inventory refresh cannot be canceled; it ends by itself", job.get("status"))
    await client.raise_event(job_id, "cancel", {"by": by.get("object_id")})
    store.update(job_id, {"cancel_requested_by": by})
    refreshed = store.get(job_id) or job
    return await job_view(client, refreshed)
