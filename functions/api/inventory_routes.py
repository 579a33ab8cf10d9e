"""Inventory routes: the summary, hosts, clusters, a host's library, the host probe, and the inventory refresh."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from functions.api.http import Api, accepted, json_response, page_size
from functions.api.views import host_view, summary_view
from functions.auth import Permission
from functions.services.audit import Caller
from functions.services.bundle import Services
from functions.workflows.starter import DurableWorkflows

__all__ = ["blueprint"]


def blueprint(api: Api) -> df.Blueprint:
    """The inventory routes."""
    bp = df.Blueprint()

    @bp.route(route="api/v1/inventory", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    def api_get_inventory(req: func.HttpRequest) -> func.HttpResponse:
        """Summary: totals, clusters, hosts (connected and not), last sync."""
        return api.read(req, Permission.READER, lambda s, _: json_response(summary_view(s.inventory.summary())))

    @bp.route(route="api/v1/hosts", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    def api_list_hosts(req: func.HttpRequest) -> func.HttpResponse:
        """The hosts in the inventory, by name; paged with ``limit`` and ``continuation``."""

        def body(s: Services, _: Caller) -> func.HttpResponse:
            page = s.hosts.page(page_size=page_size(req), continuation=req.params.get("continuation"))
            return json_response({"items": [host_view(h) for h in page.items], "continuation": page.continuation})

        return api.read(req, Permission.READER, body)

    @bp.route(route="api/v1/hosts/{host}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    def api_get_host(req: func.HttpRequest) -> func.HttpResponse:
        """One host."""
        name = req.route_params["host"]
        return api.read(req, Permission.READER, lambda s, _: json_response(host_view(s.hosts.get(name))))

    @bp.route(route="api/v1/clusters", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    def api_list_clusters(req: func.HttpRequest) -> func.HttpResponse:
        """Clusters derived from host membership."""

        def body(s: Services, _: Caller) -> func.HttpResponse:
            return json_response({"items": [c.to_json() for c in s.hosts.clusters()], "continuation": None})

        return api.read(req, Permission.READER, body)

    @bp.route(route="api/v1/hosts/{host}/images", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    def api_list_images(req: func.HttpRequest) -> func.HttpResponse:
        """The host's golden images (what a create form offers)."""
        name = req.route_params["host"]

        def body(s: Services, _: Caller) -> func.HttpResponse:
            items = [image.model_dump(mode="json") for image in s.hosts.images(name)]
            return json_response({"items": items, "continuation": None})

        return api.read(req, Permission.READER, body)

    @bp.route(route="api/v1/hosts/{host}/networks", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    def api_list_networks(req: func.HttpRequest) -> func.HttpResponse:
        """The host's virtual switches."""
        name = req.route_params["host"]

        def body(s: Services, _: Caller) -> func.HttpResponse:
            items = [switch.model_dump(mode="json") for switch in s.hosts.networks(name)]
            return json_response({"items": items, "continuation": None})

        return api.read(req, Permission.READER, body)

    @bp.route(route="api/v1/hosts/{host}/probe", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
    def api_probe_host(req: func.HttpRequest) -> func.HttpResponse:
        """Probe a configured host stage by stage (admins; audited): 200 with the report, whatever it found."""
        name = req.route_params["host"]

        def body(s: Services, caller: Caller) -> func.HttpResponse:
            return json_response(s.hosts.probe(name, caller).model_dump(mode="json"))

        return api.act(req, action="probe_host", target={"host": name}, required=Permission.ADMIN, body=body)

    @bp.route(route="api/v1/inventory/refresh", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
    @bp.durable_client_input(client_name="client")
    async def api_refresh_inventory(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        """Refresh every host now, or one with ``?host=``; 202 with the job."""
        host = req.params.get("host")

        def body(s: Services, caller: Caller, workflows: DurableWorkflows) -> func.HttpResponse:
            job = s.inventory.refresh(workflows, host, caller)
            return accepted(req, s.jobs.state_of(workflows, job).to_view())

        return await api.write(
            req, client, action="refresh_inventory", target={"host": host}, required=Permission.OPERATOR, body=body
        )

    return bp
