"""The lease route: ``PUT /api/v1/vms/{vm_id}/lease`` sets, extends or clears a VM's lease (``docs/leases.md``).

The body is ``{"expires_at": "<RFC 3339>"}``, ``{"hours": n}`` or ``{"expires_at": null}`` (clear). An Operator may
change the lease of a VM they requested, an Admin any VM's; the answer is ``200`` with ``{"vm_id", "lease"}``
(``lease``: the VM document's ``lease``, ``null`` once cleared).
"""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from functions.api.http import Api, json_body, json_response
from functions.auth import Permission
from functions.errors import Unavailable
from functions.models.leases import LeaseRequest
from functions.models.vm_changes import parse_change
from functions.services.audit import Caller
from functions.services.bundle import Services
from functions.workflows.starter import DurableWorkflows

__all__ = ["blueprint"]


def blueprint(api: Api) -> df.Blueprint:
    """The lease route."""
    bp = df.Blueprint()

    @bp.route(route="api/v1/vms/{vm_id}/lease", methods=["PUT"], auth_level=func.AuthLevel.ANONYMOUS)
    @bp.durable_client_input(client_name="client")
    async def api_set_vm_lease(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        """Set, extend or clear a VM's lease; 200 with the lease."""
        vm_id = req.route_params["vm_id"]

        def body(s: Services, caller: Caller, workflows: DurableWorkflows) -> func.HttpResponse:
            request = parse_change(LeaseRequest, json_body(req))
            if s.leases is None:
                raise Unavailable("leases are not configured")
            lease = s.leases.set(workflows, vm_id, request, caller)
            return json_response({"vm_id": vm_id.lower(), "lease": lease.view() if lease else None})

        target = {"vm_id": vm_id}
        return await api.write(req, client, action="set_lease", target=target, required=Permission.OPERATOR, body=body)

    return bp
