"""Day-2 VM routes: resize and notes, data disks, network adapters, checkpoints and migration (each write a job).

Every write answers ``202`` with the job, its ``Location`` and ``Retry-After``, takes an ``Idempotency-Key`` and
needs the Operator role; ``GET …/checkpoints`` (Reader) reads the VM's checkpoints from its host. The rules each
route checks before a job starts are the VM change service's (:mod:`functions.services.vm_changes`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import azure.durable_functions as df
import azure.functions as func

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

Submit = Callable[[VmChangeService, DurableWorkflows, Caller, str | None], Job]
"""Submits one change: the service, the workflow client, the caller and the Idempotency-Key in; the job out."""

_ANONYMOUS = func.AuthLevel.ANONYMOUS


def blueprint(api: Api) -> df.Blueprint:
    """The day-2 VM routes."""
    bp = df.Blueprint()

    async def change(
        req: func.HttpRequest, client: df.DurableOrchestrationClient, action: str, submit: Submit
    ) -> func.HttpResponse:
        route = dict(req.route_params)

        def body(s: Services, caller: Caller, workflows: DurableWorkflows) -> func.HttpResponse:
            job = submit(s.changes, workflows, caller, idempotency_key(req))
            return accepted(req, s.jobs.state_of(workflows, job).to_view())

        target: dict[str, Any] = {name: value for name, value in route.items()}
        response: func.HttpResponse = await api.write(
            req, client, action=action, target=target, required=Permission.OPERATOR, body=body
        )
        return response

    def vm_id(req: func.HttpRequest) -> str:
        return str(req.route_params["vm_id"])

    @bp.route(route="api/v1/vms/{vm_id}", methods=["PATCH"], auth_level=_ANONYMOUS)
    @bp.durable_client_input(client_name="client")
    async def api_update_vm(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        """Resize a VM and/or replace its notes (``cpu_cores``, ``memory_gb``, ``notes``, ``allow_restart``)."""
        return await change(
            req,
            client,
            "update_vm",
            lambda s, w, caller, key: s.update(
                w, vm_id(req), parse_change(VmUpdateRequest, json_body(req)), caller, key=key
            ),
        )

    @bp.route(route="api/v1/vms/{vm_id}/disks", methods=["POST"], auth_level=_ANONYMOUS)
    @bp.durable_client_input(client_name="client")
    async def api_add_disk(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        """Add a data disk (``size_gb``): a new dynamic VHDX in the VM's folder, on its SCSI controller."""
        return await change(
            req,
            client,
            "add_disk",
            lambda s, w, caller, key: s.add_disk(
                w, vm_id(req), parse_change(DiskAddRequest, json_body(req)), caller, key=key
            ),
        )

    @bp.route(route="api/v1/vms/{vm_id}/disks/{disk_id}/expand", methods=["POST"], auth_level=_ANONYMOUS)
    @bp.durable_client_input(client_name="client")
    async def api_expand_disk(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        """Grow a disk to ``size_gb`` (shrinking is refused)."""
        disk_id = req.route_params["disk_id"]
        return await change(
            req,
            client,
            "expand_disk",
            lambda s, w, caller, key: s.expand_disk(
                w, vm_id(req), disk_id, parse_change(DiskExpandRequest, json_body(req)), caller, key=key
            ),
        )

    @bp.route(route="api/v1/vms/{vm_id}/disks/{disk_id}", methods=["DELETE"], auth_level=_ANONYMOUS)
    @bp.durable_client_input(client_name="client")
    async def api_remove_disk(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        """Detach a data disk and delete its file (the boot disk is refused)."""
        disk_id = req.route_params["disk_id"]
        return await change(
            req, client, "remove_disk", lambda s, w, caller, key: s.remove_disk(w, vm_id(req), disk_id, caller, key=key)
        )

    @bp.route(route="api/v1/vms/{vm_id}/nics", methods=["POST"], auth_level=_ANONYMOUS)
    @bp.durable_client_input(client_name="client")
    async def api_add_nic(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        """Add a network adapter (``network``: a switch of the VM's host; ``vlan_id`` optional)."""
        return await change(
            req,
            client,
            "add_nic",
            lambda s, w, caller, key: s.add_nic(
                w, vm_id(req), parse_change(NicAddRequest, json_body(req)), caller, key=key
            ),
        )

    @bp.route(route="api/v1/vms/{vm_id}/nics/{nic_id}", methods=["PATCH"], auth_level=_ANONYMOUS)
    @bp.durable_client_input(client_name="client")
    async def api_update_nic(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        """Reconnect an adapter (``network``) and/or set its VLAN (``vlan_id``; null: untagged)."""
        nic_id = req.route_params["nic_id"]
        return await change(
            req,
            client,
            "update_nic",
            lambda s, w, caller, key: s.update_nic(
                w, vm_id(req), nic_id, parse_change(NicUpdateRequest, json_body(req)), caller, key=key
            ),
        )

    @bp.route(route="api/v1/vms/{vm_id}/nics/{nic_id}", methods=["DELETE"], auth_level=_ANONYMOUS)
    @bp.durable_client_input(client_name="client")
    async def api_remove_nic(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        """Remove a network adapter (never the VM's last)."""
        nic_id = req.route_params["nic_id"]
        return await change(
            req, client, "remove_nic", lambda s, w, caller, key: s.remove_nic(w, vm_id(req), nic_id, caller, key=key)
        )

    @bp.route(route="api/v1/vms/{vm_id}/checkpoints", methods=["GET"], auth_level=_ANONYMOUS)
    def api_list_checkpoints(req: func.HttpRequest) -> func.HttpResponse:
        """The VM's checkpoints (id, name, created, parent), read from its host."""

        def body(s: Services, _: Caller) -> func.HttpResponse:
            items = [checkpoint_view(item) for item in s.changes.checkpoints(vm_id(req))]
            return documents_response({"items": items, "continuation": None})

        return api.read(req, Permission.READER, body)

    @bp.route(route="api/v1/vms/{vm_id}/checkpoints", methods=["POST"], auth_level=_ANONYMOUS)
    @bp.durable_client_input(client_name="client")
    async def api_create_checkpoint(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        """Make a production checkpoint (``name``, unique on the VM)."""
        return await change(
            req,
            client,
            "create_checkpoint",
            lambda s, w, caller, key: s.create_checkpoint(
                w, vm_id(req), parse_change(CheckpointCreateRequest, json_body(req)), caller, key=key
            ),
        )

    @bp.route(route="api/v1/vms/{vm_id}/checkpoints/{checkpoint_id}/apply", methods=["POST"], auth_level=_ANONYMOUS)
    @bp.durable_client_input(client_name="client")
    async def api_apply_checkpoint(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        """Revert the VM to a checkpoint (optional body ``{"allow_restart": true}`` for a running VM)."""
        checkpoint_id = req.route_params["checkpoint_id"]
        return await change(
            req,
            client,
            "apply_checkpoint",
            lambda s, w, caller, key: s.apply_checkpoint(
                w,
                vm_id(req),
                checkpoint_id,
                parse_change(CheckpointApplyRequest, json_body(req, required=False)),
                caller,
                key=key,
            ),
        )

    @bp.route(route="api/v1/vms/{vm_id}/checkpoints/{checkpoint_id}", methods=["DELETE"], auth_level=_ANONYMOUS)
    @bp.durable_client_input(client_name="client")
    async def api_remove_checkpoint(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        """Delete a checkpoint (Hyper-V merges its disks)."""
        checkpoint_id = req.route_params["checkpoint_id"]
        return await change(
            req,
            client,
            "remove_checkpoint",
            lambda s, w, caller, key: s.remove_checkpoint(w, vm_id(req), checkpoint_id, caller, key=key),
        )

    @bp.route(route="api/v1/vms/{vm_id}/migrate", methods=["POST"], auth_level=_ANONYMOUS)
    @bp.durable_client_input(client_name="client")
    async def api_migrate_vm(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        """Live-migrate the VM to ``host`` (within its cluster, or with its storage to ``storage_path``)."""
        return await change(
            req,
            client,
            "migrate_vm",
            lambda s, w, caller, key: s.migrate(
                w, vm_id(req), parse_change(MigrateRequest, json_body(req)), caller, key=key
            ),
        )

    return bp
