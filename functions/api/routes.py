"""The ``/api/v1`` routes: thin triggers that parse, authorize, call one service function and shape the response.

Reads need ``Aether.Reader``; writes (create, delete, power, refresh, cancel own jobs) ``Aether.Operator``; the
audit log and cancelling others' jobs ``Aether.Admin``. Every write answers ``202 Accepted`` with the job document,
``Location: <origin>/api/v1/jobs/{id}`` (the app's own route: never the Durable webhook URLs, which carry the
system key) and ``Retry-After``; ``GET /v1/jobs/{id}`` answers 202 while the job runs, 200 when it succeeded and a
problem document (422 failed, 409 canceled) when it did not — so a Logic App's HTTP action ends Succeeded or Failed
with the job. Every write is audited.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import azure.durable_functions as df
import azure.functions as func

from functions.api.http import ApiError, handle, json_body, json_response, page_size, problem_response
from functions.api.views import VM_STATES, host_view, vm_view
from functions.audit.log import InvalidAuditContinuationError, get_audit_log
from functions.auth import Permission, Principal
from functions.hyperv.errors import HyperVError
from functions.hyperv.factory import open_client, resolve_host
from functions.inventory.sync import get_repository
from functions.jobs import commands
from functions.jobs.service import Submission
from functions.jobs.store import FINAL_STATUSES, get_job_store
from functions.models.problems import Problem
from functions.models.vm_request import parse_vm_request
from functions.settings import get_settings

__all__ = ["bp"]

bp = df.Blueprint()
log = logging.getLogger(__name__)
RETRY_AFTER = "5"


# -- helpers ------------------------------------------------------------------------------------------------------


def _origin(req: func.HttpRequest) -> str:
    parts = urlsplit(req.url)
    return f"{parts.scheme}://{parts.netloc}"


def _client_ip(req: func.HttpRequest) -> str | None:
    """The caller's address: the first ``X-Forwarded-For`` hop (App Service adds it; ``ip:port`` → ip)."""
    forwarded = str(req.headers.get("X-Forwarded-For") or "").split(",")[0].strip()
    if forwarded:
        return forwarded.rsplit(":", 1)[0] if forwarded.count(":") == 1 else forwarded
    client = req.headers.get("X-Client-IP")
    return str(client) if client else None


def _who(principal: Principal | None) -> dict[str, Any]:
    if principal is None:
        return {}
    audit = principal.audit()
    return {
        "id": audit["object_id"],
        "name": audit["display_name"],
        "type": audit["identity_type"],
        "app_id": audit["app_id"],
    }


def _job_location(req: func.HttpRequest, job_id: str) -> str:
    return f"{_origin(req)}/api/v1/jobs/{job_id}"


async def _accepted(
    req: func.HttpRequest, client: df.DurableOrchestrationClient, job: dict[str, Any]
) -> func.HttpResponse:
    view = await commands.job_view(client, job)
    headers = {"Location": _job_location(req, str(job["id"])), "Retry-After": RETRY_AFTER}
    return json_response(view, 202, headers)


async def _write(
    req: func.HttpRequest,
    action: str,
    target: dict[str, Any],
    required: Permission,
    body: Callable[[Principal | None], Awaitable[func.HttpResponse]],
) -> func.HttpResponse:
    """Run a write and audit it (who, what, target, job, client IP, outcome) once the caller is known."""
    seen: dict[str, Principal | None] = {"principal": None}

    async def run(principal: Principal | None) -> func.HttpResponse:
        seen["principal"] = principal
        return await body(principal)

    response = await handle(req, required, run)
    principal = seen["principal"]
    if principal is not None:
        job_id = None
        location = response.headers.get("Location")
        if location and "/api/v1/jobs/" in location:
            job_id = location.rsplit("/", 1)[1]
        try:
            get_audit_log().record(
                who=principal.audit(),
                action=action,
                target=target,
                outcome=response.status_code,
                job_id=job_id,
                client_ip=_client_ip(req),
            )
        except Exception:  # an audit failure must not turn a done write into an error; it is logged
            log.exception("audit record for %s failed", action)
    return response


def _domain_error(exc: Exception) -> ApiError:
    if isinstance(exc, commands.NotFoundError):
        return ApiError(404, "Not found", str(exc))
    if isinstance(exc, commands.InvalidStateError):
        return ApiError(409, "Invalid state", str(exc), extra={"state": exc.state})
    raise exc


async def _submitting(
    req: func.HttpRequest, client: df.DurableOrchestrationClient, run: Callable[[], Awaitable[Submission]]
) -> func.HttpResponse:
    try:
        submission = await run()
    except (commands.NotFoundError, commands.InvalidStateError) as exc:
        raise _domain_error(exc) from None
    return await _accepted(req, client, submission.job)


# -- inventory reads ----------------------------------------------------------------------------------------------


@bp.route(route="api/v1/inventory", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def api_get_inventory(req: func.HttpRequest) -> func.HttpResponse:
    """Summary: totals, clusters, hosts (connected and not), last sync."""

    async def body(_: Principal | None) -> func.HttpResponse:
        summary = get_repository().summary()
        summary["hosts"] = [host_view(h) for h in summary["hosts"]]
        return json_response(summary)

    return await handle(req, Permission.READER, body)


@bp.route(route="api/v1/hosts", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def api_list_hosts(req: func.HttpRequest) -> func.HttpResponse:
    """Every configured host."""

    async def body(_: Principal | None) -> func.HttpResponse:
        return json_response({"items": [host_view(h) for h in get_repository().list_hosts()], "continuation": None})

    return await handle(req, Permission.READER, body)


def _host_or_404(name: str) -> dict[str, Any]:
    host = get_repository().get_host(name)
    if host is None:
        raise ApiError(404, "Not found", f"host {name} is not in the inventory")
    return host


@bp.route(route="api/v1/hosts/{host}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def api_get_host(req: func.HttpRequest) -> func.HttpResponse:
    """One host."""

    async def body(_: Principal | None) -> func.HttpResponse:
        return json_response(host_view(_host_or_404(req.route_params["host"])))

    return await handle(req, Permission.READER, body)


def _vm_filters(req: func.HttpRequest) -> dict[str, Any]:
    problems: list[Problem] = []
    state = req.params.get("state")
    if state is not None and state not in VM_STATES:
        problems.append(Problem("state", f"must be one of {', '.join(VM_STATES)}"))
    stale_text = req.params.get("stale")
    stale: bool | None = None
    if stale_text is not None:
        if stale_text.lower() not in ("true", "false"):
            problems.append(Problem("stale", "must be true or false"))
        else:
            stale = stale_text.lower() == "true"
    prefix = req.params.get("name_prefix") or req.params.get("name")
    if problems:
        raise ApiError(400, "Invalid query", "see errors", problems=problems)
    return {"host": req.params.get("host"), "state": state, "name_prefix": prefix, "stale": stale}


async def _vm_page(req: func.HttpRequest, host: str | None) -> func.HttpResponse:
    filters = _vm_filters(req)
    if host is not None:
        _host_or_404(host)
        filters["host"] = host
    page = get_repository().list_vms(**filters, page_size=page_size(req), continuation=req.params.get("continuation"))
    return json_response({"items": [vm_view(v) for v in page.items], "continuation": page.continuation})


@bp.route(route="api/v1/hosts/{host}/vms", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def api_list_host_vms(req: func.HttpRequest) -> func.HttpResponse:
    """The VMs of one host (same filters and paging as ``/v1/vms``)."""
    return await handle(req, Permission.READER, lambda _: _vm_page(req, req.route_params["host"]))


@bp.route(route="api/v1/vms", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def api_list_vms(req: func.HttpRequest) -> func.HttpResponse:
    """VMs, filtered by ``host``, ``state``, ``name_prefix``, ``stale``; paged with ``limit`` and ``continuation``."""
    return await handle(req, Permission.READER, lambda _: _vm_page(req, None))


@bp.route(route="api/v1/vms/{vm_id}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def api_get_vm(req: func.HttpRequest) -> func.HttpResponse:
    """One VM by id."""

    async def body(_: Principal | None) -> func.HttpResponse:
        vm = get_repository().get_vm(req.route_params["vm_id"])
        if vm is None:
            raise ApiError(404, "Not found", f"VM {req.route_params['vm_id']} is not in the inventory")
        return json_response(vm_view(vm))

    return await handle(req, Permission.READER, body)


@bp.route(route="api/v1/clusters", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def api_list_clusters(req: func.HttpRequest) -> func.HttpResponse:
    """Clusters derived from host membership."""

    async def body(_: Principal | None) -> func.HttpResponse:
        return json_response({"items": get_repository().clusters(), "continuation": None})

    return await handle(req, Permission.READER, body)


def _host_library(req: func.HttpRequest, what: str) -> func.HttpResponse:
    settings = get_settings()
    name = req.route_params["host"]
    if name.lower() not in {h.name.lower() for h in settings.hosts}:
        raise ApiError(404, "Not found", f"host {name} is not configured")
    try:
        with open_client(resolve_host(name, settings.hosts), addresses=settings.host_addresses) as client:
            if what == "images":
                items = [i.model_dump(mode="json") for i in client.list_images()]
            else:
                items = [s.model_dump(mode="json") for s in client.list_switches()]
    except HyperVError as exc:
        status = 503 if exc.transient else 502
        raise ApiError(
            status, "Host unavailable", f"{name}: {type(exc).__name__}", headers={"Retry-After": "30"}
        ) from exc
    return json_response({"items": items, "continuation": None})


@bp.route(route="api/v1/hosts/{host}/images", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def api_list_images(req: func.HttpRequest) -> func.HttpResponse:
    """The host's golden images (what a create form offers)."""

    async def body(_: Principal | None) -> func.HttpResponse:
        return _host_library(req, "images")

    return await handle(req, Permission.READER, body)


@bp.route(route="api/v1/hosts/{host}/networks", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def api_list_networks(req: func.HttpRequest) -> func.HttpResponse:
    """The host's virtual switches."""

    async def body(_: Principal | None) -> func.HttpResponse:
        return _host_library(req, "networks")

    return await handle(req, Permission.READER, body)


# -- writes ---------------------------------------------------------------------------------------------------------


@bp.route(route="api/v1/vms", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def api_create_vm(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Create a VM (body: the VM request); 202 with the job."""
    target: dict[str, Any] = {}

    async def body(principal: Principal | None) -> func.HttpResponse:
        payload = json_body(req)
        if isinstance(payload, dict):
            target.update(host=payload.get("host"), name=payload.get("name"))
        request = parse_vm_request(payload)
        return await _submitting(
            req,
            client,
            lambda: commands.create_vm(
                client,
                request,
                _who(principal),
                idempotency_key=req.headers.get("Idempotency-Key"),
                body=payload,
            ),
        )

    return await _write(req, "create_vm", target, Permission.OPERATOR, body)


@bp.route(route="api/v1/vms/{vm_id}", methods=["DELETE"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def api_delete_vm(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Delete a VM with its disks and folder; 202 with the job."""
    vm_id = req.route_params["vm_id"]

    async def body(principal: Principal | None) -> func.HttpResponse:
        return await _submitting(
            req,
            client,
            lambda: commands.delete_vm(
                client, vm_id, _who(principal), idempotency_key=req.headers.get("Idempotency-Key")
            ),
        )

    return await _write(req, "delete_vm", {"vm_id": vm_id}, Permission.OPERATOR, body)


@bp.route(route="api/v1/vms/{vm_id}/{action}", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def api_power_vm(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """``start``, ``stop`` (turn off), ``shutdown`` (guest; optional body ``{timeout_seconds, force}``), ``restart``."""
    vm_id, action = req.route_params["vm_id"], req.route_params["action"]

    async def body(principal: Principal | None) -> func.HttpResponse:
        if action not in commands.POWER_ACTIONS:
            raise ApiError(404, "Not found", f"no action {action}; use one of {', '.join(commands.POWER_ACTIONS)}")
        options: dict[str, Any] = {}
        if action == "shutdown" and req.get_body():
            raw = json_body(req)
            problems = []
            timeout = raw.get("timeout_seconds", 120) if isinstance(raw, dict) else None
            if not isinstance(timeout, int) or isinstance(timeout, bool) or not 10 <= timeout <= 3600:
                problems.append(Problem("timeout_seconds", "must be a whole number of seconds from 10 to 3600"))
            force = raw.get("force", False) if isinstance(raw, dict) else None
            if not isinstance(force, bool):
                problems.append(Problem("force", "must be true or false"))
            if problems:
                raise ApiError(422, "The request is invalid", "see errors", problems=problems)
            options = {"timeout_seconds": timeout, "force_after_timeout": force}
        return await _submitting(
            req,
            client,
            lambda: commands.power_vm(
                client,
                vm_id,
                action,
                _who(principal),
                options=options,
                idempotency_key=req.headers.get("Idempotency-Key"),
            ),
        )

    return await _write(req, f"{action}_vm", {"vm_id": vm_id}, Permission.OPERATOR, body)


@bp.route(route="api/v1/inventory/refresh", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def api_refresh_inventory(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Refresh every host now, or one with ``?host=``; 202 with the job."""
    host = req.params.get("host")

    async def body(principal: Principal | None) -> func.HttpResponse:
        return await _submitting(req, client, lambda: commands.refresh_inventory(client, host, _who(principal)))

    return await _write(req, "refresh_inventory", {"host": host}, Permission.OPERATOR, body)


# -- jobs -----------------------------------------------------------------------------------------------------------


@bp.route(route="api/v1/jobs", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def api_list_jobs(req: func.HttpRequest) -> func.HttpResponse:
    """Jobs, newest first; filters ``status``, ``kind``, ``vm_id``, ``requested_by``; paging beyond 100."""

    async def body(_: Principal | None) -> func.HttpResponse:
        status = req.params.get("status")
        if status is not None and status not in ("Pending", "Running", "Succeeded", "Failed", "Canceled"):
            raise ApiError(400, "Invalid query", "see errors", problems=[Problem("status", "is not a job status")])
        page = get_job_store().list(
            status=status,
            kind=req.params.get("kind"),
            vm_id=req.params.get("vm_id"),
            requester_id=req.params.get("requested_by"),
            page_size=page_size(req),
            continuation=req.params.get("continuation"),
        )
        return json_response({"items": page.items, "continuation": page.continuation})

    return await handle(req, Permission.READER, body)


@bp.route(route="api/v1/jobs/{job_id}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def api_get_job(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """One job: 202 while it runs, 200 when it succeeded, 422 (failed) or 409 (canceled) problem+json otherwise."""

    async def body(_: Principal | None) -> func.HttpResponse:
        job = get_job_store().get(req.route_params["job_id"])
        if job is None:
            raise ApiError(404, "Not found", f"job {req.route_params['job_id']} does not exist")
        view = await commands.job_view(client, job)
        status = view.get("status")
        if status == "Succeeded":
            return json_response(view)
        if status in ("Failed", "Canceled"):
            error = view.get("error") or {}
            code = 409 if status == "Canceled" else 422
            detail = f"{error.get('category', 'Error')}: {error.get('message', 'the job did not succeed')}"
            return problem_response(code, f"Job {status.lower()}", detail, extra={"job": view})
        headers = {"Location": _job_location(req, str(job["id"])), "Retry-After": RETRY_AFTER}
        return json_response(view, 202, headers)

    return await handle(req, Permission.READER, body)


@bp.route(route="api/v1/jobs/{job_id}/cancel", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def api_cancel_job(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Cancel a running job (its own requester or an admin); it compensates what it created."""
    job_id = req.route_params["job_id"]

    async def body(principal: Principal | None) -> func.HttpResponse:
        assert principal is not None
        job = get_job_store().get(job_id)
        if job is None:
            raise ApiError(404, "Not found", f"job {job_id} does not exist")
        owner = (job.get("requested_by") or {}).get("id")
        if owner != principal.object_id and not principal.has(Permission.ADMIN):
            raise ApiError(403, "Forbidden", "only the job's requester or an admin can cancel it")
        if job.get("status") in FINAL_STATUSES:
            raise ApiError(409, "Invalid state", f"job {job_id} already finished ({job['status']})")
        try:
            view = await commands.cancel_job(client, job_id, _who(principal))
        except (commands.NotFoundError, commands.InvalidStateError) as exc:
            raise _domain_error(exc) from None
        return json_response(view, 202, {"Location": _job_location(req, job_id), "Retry-After": RETRY_AFTER})

    return await _write(req, "cancel_job", {"job_id": job_id}, Permission.OPERATOR, body)


@bp.route(route="api/v1/audit", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def api_list_audit(req: func.HttpRequest) -> func.HttpResponse:
    """The audit log, newest first (admins only); ``actor`` filters by object id."""

    async def body(_: Principal | None) -> func.HttpResponse:
        try:
            items, token = get_audit_log().list(
                page_size=page_size(req), continuation=req.params.get("continuation"), actor_id=req.params.get("actor")
            )
        except InvalidAuditContinuationError as exc:
            raise ApiError(400, "Invalid continuation token", str(exc)) from None
        return json_response({"items": items, "continuation": token})

    return await handle(req, Permission.ADMIN, body)
