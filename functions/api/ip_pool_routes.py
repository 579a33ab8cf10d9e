"""IP pool routes: create or replace (``PUT``), list and read with usage (Reader), delete (Admin).

``PUT /api/v1/ip-pools/{pool}`` answers ``201`` when it created the pool and ``200`` when it replaced it, with the
pool as ``GET`` shows it; ``DELETE`` answers ``204`` (``409`` while an address is allocated). The rules a pool must
follow are :func:`functions.models.ip_pools.parse_pool`'s.
"""

from __future__ import annotations

from typing import Any

import azure.functions as func
from azure.durable_functions import Blueprint

from functions.api.http import SECURITY_HEADERS, Api, documents_response, json_body, json_response
from functions.auth import Permission
from functions.ippools.store import PoolRecord
from functions.services.audit import Caller
from functions.services.bundle import Services

__all__ = ["blueprint", "pool_view"]

_ANONYMOUS = func.AuthLevel.ANONYMOUS


def pool_view(record: PoolRecord, *, allocations: bool) -> dict[str, Any]:
    """A pool as the API shows it: its definition, its usage and (for one pool) its allocations."""
    usage = record.usage
    counts = {"total": usage.total, "allocated": usage.allocated, "free": usage.free}
    view: dict[str, Any] = {
        "name": record.name,
        **record.spec.model_dump(mode="json"),
        **counts,
        "usage": counts,
        "updated": record.updated,
    }
    if allocations:
        view["allocations"] = [allocation.to_json() for allocation in record.allocations]
    return view


def blueprint(api: Api) -> Blueprint:
    """The IP pool routes."""
    bp = Blueprint()

    @bp.route(route="api/v1/ip-pools", methods=["GET"], auth_level=_ANONYMOUS)
    def api_list_ip_pools(req: func.HttpRequest) -> func.HttpResponse:
        """Every IP pool with its usage (``total``, ``allocated``, ``free``)."""

        def body(s: Services, _: Caller) -> func.HttpResponse:
            items = [pool_view(p, allocations=False) for p in s.pools.list()]
            return documents_response({"items": items, "continuation": None})  # every pool on one page

        return api.read(req, Permission.READER, body)

    @bp.route(route="api/v1/ip-pools/{pool}", methods=["GET"], auth_level=_ANONYMOUS)
    def api_get_ip_pool(req: func.HttpRequest) -> func.HttpResponse:
        """One IP pool with its usage and its allocations."""
        name = req.route_params["pool"]
        return api.read(
            req, Permission.READER, lambda s, _: documents_response(pool_view(s.pools.get(name), allocations=True))
        )

    @bp.route(route="api/v1/ip-pools/{pool}", methods=["PUT"], auth_level=_ANONYMOUS)
    def api_put_ip_pool(req: func.HttpRequest) -> func.HttpResponse:
        """Create or replace an IP pool (Admin)."""
        name = req.route_params["pool"]

        def body(s: Services, caller: Caller) -> func.HttpResponse:
            record, created = s.pools.put(name, json_body(req), caller)
            return json_response(pool_view(record, allocations=True), status=201 if created else 200)

        return api.act(req, action="put_ip_pool", target={"pool": name}, required=Permission.ADMIN, body=body)

    @bp.route(route="api/v1/ip-pools/{pool}", methods=["DELETE"], auth_level=_ANONYMOUS)
    def api_delete_ip_pool(req: func.HttpRequest) -> func.HttpResponse:
        """Delete an IP pool (Admin); refused while any of its addresses is allocated."""
        name = req.route_params["pool"]

        def body(s: Services, caller: Caller) -> func.HttpResponse:
            s.pools.delete(name, caller)
            return func.HttpResponse(status_code=204, headers=dict(SECURITY_HEADERS))

        return api.act(req, action="delete_ip_pool", target={"pool": name}, required=Permission.ADMIN, body=body)

    return bp
