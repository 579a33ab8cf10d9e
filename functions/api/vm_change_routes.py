"""Day-2 VM routes: resize and notes, data disks, network adapters, checkpoints and migration (each write a job).

Every write answers ``202`` with the job, its ``Location`` and ``Retry-After``, takes an ``Idempotency-Key`` and
needs the Operator role; ``GET …/checkpoints`` (Reader) reads the VM's checkpoints from its host. The rules each
route checks before a job starts are the VM change service's (:mod:`functions.services.vm_changes`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import azure.durable_functions as df
import azure.functions as func
from pydantic import BaseModel

from functions.api.http import Api, accepted, documents_response, idempotency_key, json_body
from functions.api.views import checkpoint_view
from functions.auth import Permission
from functions.models.jobs import Job
from functions.models.vm_changes import (
    CheckpointApplyRequest,
    CheckpointCreateRequest,
    DiskAddRequest,
    DiskExpandRequest,
    MigrateRequest,
    NicAddRequest,
    NicUpdateRequest,
    VmUpdateRequest,
    parse_change,
)
from functions.services.audit import Caller
from functions.services.bundle import Services
from functions.services.vm_changes import VmChangeService
from functions.workflows.starter import DurableWorkflows

__all__ = ["blueprint"]

M = TypeVar("M", bound=BaseModel)
Submit = Callable[[VmChangeService, DurableWorkflows, Caller, str | None, func.HttpRequest], Job]
"""Submits one change: the service, the workflow client, the caller, the Idempotency-Key and the request in."""

_ANONYMOUS = func.AuthLevel.ANONYMOUS


def _vm(req: func.HttpRequest) -> str:
    return str(req.route_params["vm_id"])


def _body(model: type[M], req: func.HttpRequest, *, required: bool = True) -> M:
    return parse_change(model, json_body(req, required=required))


# Each write: route, method, the job's kind (also the audit action), and how it is submitted.
_WRITES: tuple[tuple[str, str, str, Submit], ...] = (
    (
        "api/v1/vms/{vm_id}",
        "PATCH",
        "update_vm",
        lambda s, w, caller, key, req: s.update(w, _vm(req), _body(VmUpdateRequest, req), caller, key=key),
    ),
    (
        "api/v1/vms/{vm_id}/disks",
        "POST",
        "add_disk",
        lambda s, w, caller, key, req: s.add_disk(w, _vm(req), _body(DiskAddRequest, req), caller, key=key),
    ),
    (
        "api/v1/vms/{vm_id}/disks/{disk_id}/expand",
        "POST",
        "expand_disk",
        lambda s, w, caller, key, req: s.expand_disk(
            w, _vm(req), req.route_params["disk_id"], _body(DiskExpandRequest, req), caller, key=key
        ),
    ),
    (
        "api/v1/vms/{vm_id}/disks/{disk_id}",
        "DELETE",
        "remove_disk",
        lambda s, w, caller, key, req: s.remove_disk(w, _vm(req), req.route_params["disk_id"], caller, key=key),
    ),
    (
        "api/v1/vms/{vm_id}/nics",
        "POST",
        "add_nic",
        lambda s, w, caller, key, req: s.add_nic(w, _vm(req), _body(NicAddRequest, req), caller, key=key),
    ),
    (
        "api/v1/vms/{vm_id}/nics/{nic_id}",
        "PATCH",
        "update_nic",
        lambda s, w, caller, key, req: s.update_nic(
            w, _vm(req), req.route_params["nic_id"], _body(NicUpdateRequest, req), caller, key=key
        ),
    ),
    (
        "api/v1/vms/{vm_id}/nics/{nic_id}",
        "DELETE",
        "remove_nic",
        lambda s, w, caller, key, req: s.remove_nic(w, _vm(req), req.route_params["nic_id"], caller, key=key),
    ),
    (
        "api/v1/vms/{vm_id}/checkpoints",
        "POST",
        "create_checkpoint",
        lambda s, w, caller, key, req: s.create_checkpoint(
            w, _vm(req), _body(CheckpointCreateRequest, req), caller, key=key
        ),
    ),
    (
        "api/v1/vms/{vm_id}/checkpoints/{checkpoint_id}/apply",
        "POST",
        "apply_checkpoint",
        lambda s, w, caller, key, req: s.apply_checkpoint(
            w,
            _vm(req),
            req.route_params["checkpoint_id"],
            _body(CheckpointApplyRequest, req, required=False),
            caller,
            key=key,
        ),
    ),
    (
        "api/v1/vms/{vm_id}/checkpoints/{checkpoint_id}",
        "DELETE",
        "remove_checkpoint",
        lambda s, w, caller, key, req: s.remove_checkpoint(
            w, _vm(req), req.route_params["checkpoint_id"], caller, key=key
        ),
    ),
    (
        "api/v1/vms/{vm_id}/migrate",
        "POST",
        "migrate_vm",
        lambda s, w, caller, key, req: s.migrate(w, _vm(req), _body(MigrateRequest, req), caller, key=key),
    ),
)


def blueprint(api: Api) -> df.Blueprint:
    """The day-2 VM routes: one function per write of :data:`_WRITES` (``api_<kind>``) and the checkpoint list."""
    bp = df.Blueprint()

    def register(route: str, method: str, kind: str, submit: Submit) -> None:
        async def handler(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
            def body(s: Services, caller: Caller, workflows: DurableWorkflows) -> func.HttpResponse:
                job = submit(s.changes, workflows, caller, idempotency_key(req), req)
                return accepted(req, s.jobs.state_of(workflows, job).to_view())

            target: dict[str, Any] = dict(req.route_params)
            response: func.HttpResponse = await api.write(
                req, client, action=kind, target=target, required=Permission.OPERATOR, body=body
            )
            return response

        handler.__name__ = handler.__qualname__ = f"api_{kind}"
        handler.__doc__ = f"{method} {route}: submit a {kind} job (202 with the job)."
        decorated = bp.durable_client_input(client_name="client")(handler)
        bp.function_name(name=f"api_{kind}")(bp.route(route=route, methods=[method], auth_level=_ANONYMOUS)(decorated))

    for route, method, kind, submit in _WRITES:
        register(route, method, kind, submit)

    @bp.route(route="api/v1/vms/{vm_id}/checkpoints", methods=["GET"], auth_level=_ANONYMOUS)
    def api_list_checkpoints(req: func.HttpRequest) -> func.HttpResponse:
        """The VM's checkpoints (id, name, created, parent), read from its host."""

        def body(s: Services, _: Caller) -> func.HttpResponse:
            items = [checkpoint_view(item) for item in s.changes.checkpoints(_vm(req))]
            return documents_response({"items": items, "continuation": None})

        return api.read(req, Permission.READER, body)

    return bp
