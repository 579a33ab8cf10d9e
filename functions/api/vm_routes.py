"""VM routes: list and read VMs (also per host), create, delete and power them (each write a job)."""

from __future__ import annotations

import re
from typing import Any, cast

import azure.durable_functions as df
import azure.functions as func

from functions.api.http import Api, accepted, documents_response, idempotency_key, json_body, page_size
from functions.api.views import VM_STATES, vm_view
from functions.auth import Permission
from functions.errors import InvalidQuery, InvalidRequest, NotFound
from functions.models.problems import Problem
from functions.models.vm_request import parse_vm_request
from functions.provisioning.payloads import PowerAction
from functions.services.audit import Caller
from functions.services.bundle import Services
from functions.services.vms import POWER_ACTIONS, PowerOptions, VmFilters
from functions.workflows.starter import DurableWorkflows

__all__ = ["blueprint", "dry_run_flag", "power_options", "vm_filters"]

# A name prefix can only match VM names: letters, digits, hyphens (and '_' '.' seen on hosts), at most 63.
_NAME_PREFIX = re.compile(r"[A-Za-z0-9._-]{1,63}")


def vm_filters(req: func.HttpRequest, host: str | None = None) -> VmFilters:
    """The VM list filters of a request; every invalid one is named at once."""
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
    if prefix is not None and not _NAME_PREFIX.fullmatch(prefix):
        problems.append(Problem("name_prefix", "must be 1-63 letters, digits, '-', '_' or '.'"))
    expiring = _expiring_within(req.params.get("expiring_within_hours"), problems)
    if problems:
        raise InvalidQuery("see errors", problems)
    return VmFilters(
        host=host or req.params.get("host"),
        state=state,
        name_prefix=prefix,
        stale=stale,
        expiring_within_hours=expiring,
    )


def _expiring_within(text: str | None, problems: list[Problem]) -> float | None:
    """The ``expiring_within_hours`` filter: a number of hours above 0 and at most 87600 (ten years)."""
    if text is None:
        return None
    try:
        hours = float(text)
    except ValueError:
        hours = -1.0
    if not 0 < hours <= 87600:
        problems.append(Problem("expiring_within_hours", "must be a number of hours above 0 and at most 87600"))
        return None
    return hours


def dry_run_flag(req: func.HttpRequest) -> bool:
    """The ``dry_run`` query parameter: ``true`` or ``false`` (absent: false)."""
    text: str | None = req.params.get("dry_run")
    if text is None:
        return False
    if text.lower() not in ("true", "false"):
        raise InvalidQuery("dry_run must be true or false", [Problem("dry_run", "must be true or false")])
    return text.lower() == "true"


def power_options(action: str, body: Any) -> PowerOptions:
    """The options of a power request body (only ``shutdown`` takes any); every problem is named at once."""
    if body is None:
        return PowerOptions()
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object", [Problem("", "must be a JSON object")])
    allowed = {"timeout_seconds", "force"} if action == "shutdown" else set()
    problems = [Problem(name, "is not a known field", "extra_forbidden") for name in sorted(set(body) - allowed)]
    timeout = body.get("timeout_seconds", 120)
    if "timeout_seconds" in allowed and (
        not isinstance(timeout, int) or isinstance(timeout, bool) or not 10 <= timeout <= 3600
    ):
        problems.append(Problem("timeout_seconds", "must be a whole number of seconds from 10 to 3600"))
    force = body.get("force", False)
    if "force" in allowed and not isinstance(force, bool):
        problems.append(Problem("force", "must be true or false"))
    if problems:
        raise InvalidRequest("see errors", problems)
    return PowerOptions(timeout_seconds=timeout, force=force) if action == "shutdown" else PowerOptions()


def blueprint(api: Api) -> df.Blueprint:
    """The VM routes."""
    bp = df.Blueprint()

    def page(req: func.HttpRequest, host: str | None) -> Any:
        def body(s: Services, _: Caller) -> func.HttpResponse:
            found = s.vms.list(
                vm_filters(req, host), page_size=page_size(req), continuation=req.params.get("continuation")
            )
            items = [vm_view(v) for v in found.items]
            return documents_response({"items": items, "continuation": found.continuation})

        return api.read(req, Permission.READER, body)

    @bp.route(route="api/v1/hosts/{host}/vms", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    def api_list_host_vms(req: func.HttpRequest) -> func.HttpResponse:
        """The VMs of one host (same filters and paging as ``/v1/vms``)."""
        return cast(func.HttpResponse, page(req, req.route_params["host"]))

    @bp.route(route="api/v1/vms", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    def api_list_vms(req: func.HttpRequest) -> func.HttpResponse:
        """VMs, filtered by ``host``, ``state``, ``name_prefix``, ``stale``, ``expiring_within_hours``; paged."""
        return cast(func.HttpResponse, page(req, None))

    @bp.route(route="api/v1/vms/{vm_id}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    def api_get_vm(req: func.HttpRequest) -> func.HttpResponse:
        """One VM by id."""
        vm_id = req.route_params["vm_id"]
        return api.read(req, Permission.READER, lambda s, _: documents_response(vm_view(s.vms.get(vm_id))))

    @bp.route(route="api/v1/vms", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
    @bp.durable_client_input(client_name="client")
    async def api_create_vm(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        """Create a VM (body: the VM request); 202 with the job. ``?dry_run=true``: only check it (200)."""

        def body(s: Services, caller: Caller, workflows: DurableWorkflows) -> func.HttpResponse:
            dry_run = dry_run_flag(req)
            payload = json_body(req)
            request = parse_vm_request(payload)
            if dry_run:
                return documents_response(s.vms.check_create(request, caller))
            key = idempotency_key(req)
            job = s.vms.create(workflows, request, caller, idempotency_key=key, body=payload)
            return accepted(req, s.jobs.state_of(workflows, job).to_view())

        # a refused dry run (401/403) is audited under its own name: it would have created nothing
        action = "check_create_vm" if str(req.params.get("dry_run", "")).lower() == "true" else "create_vm"
        return await api.write(req, client, action=action, target={}, required=Permission.OPERATOR, body=body)

    @bp.route(route="api/v1/vms/{vm_id}", methods=["DELETE"], auth_level=func.AuthLevel.ANONYMOUS)
    @bp.durable_client_input(client_name="client")
    async def api_delete_vm(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        """Delete a VM with its disks and folder; 202 with the job."""
        vm_id = req.route_params["vm_id"]

        def body(s: Services, caller: Caller, workflows: DurableWorkflows) -> func.HttpResponse:
            job = s.vms.delete(workflows, vm_id, caller, idempotency_key=idempotency_key(req))
            return accepted(req, s.jobs.state_of(workflows, job).to_view())

        target = {"vm_id": vm_id}
        return await api.write(req, client, action="delete_vm", target=target, required=Permission.OPERATOR, body=body)

    @bp.route(route="api/v1/vms/{vm_id}/{action}", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
    @bp.durable_client_input(client_name="client")
    async def api_power_vm(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        """``start``, ``stop`` (turn off), ``shutdown`` (optional body ``{timeout_seconds, force}``), ``restart``."""
        vm_id, action = req.route_params["vm_id"], req.route_params["action"]

        def body(s: Services, caller: Caller, workflows: DurableWorkflows) -> func.HttpResponse:
            if action not in POWER_ACTIONS:
                raise NotFound(f"no action {action}; use one of {', '.join(POWER_ACTIONS)}")
            options = power_options(action, json_body(req, required=False))
            key = idempotency_key(req)
            power = cast(PowerAction, action)
            job = s.vms.power(workflows, vm_id, power, caller, options=options, idempotency_key=key)
            return accepted(req, s.jobs.state_of(workflows, job).to_view())

        target = {"vm_id": vm_id}
        action_name = f"{action}_vm" if action in POWER_ACTIONS else "power_vm"
        return await api.write(req, client, action=action_name, target=target, required=Permission.OPERATOR, body=body)

    return bp
