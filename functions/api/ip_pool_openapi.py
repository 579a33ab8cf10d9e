"""The IP pool part of the OpenAPI document: the ``/v1/ip-pools`` paths and their schemas.

The request schema is :class:`~functions.models.ip_pools.IpPoolSpec` (what ``PUT`` validates); the views are
described by the models below, which mirror :func:`functions.api.ip_pool_routes.pool_view`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from functions.models.ip_pools import AddressRange, IpPoolSpec
from functions.models.json import JsonObject

__all__ = ["ip_pool_paths", "ip_pool_schemas"]

_REF = "#/components/schemas/{model}"
_PROBLEM = {"$ref": "#/components/responses/Problem"}
_ERRORS = {"401": _PROBLEM, "403": _PROBLEM, "500": _PROBLEM, "503": _PROBLEM}


class IpPoolUsage(BaseModel):
    """How many addresses a pool can hand out, how many are allocated, how many are free."""

    total: int
    allocated: int
    free: int


class IpAllocationView(BaseModel):
    """One allocated address: the VM (its id once the create has made it) and the create job that took it."""

    address: str
    vm_id: str | None
    vm_name: str | None
    job_id: str
    since: str = Field(description="When the address was allocated (ISO 8601, UTC).")


class IpPoolView(BaseModel):
    """A pool as the API shows it: its definition, its usage (also as top-level counts) and its allocations."""

    name: str
    network: str
    vlan_id: int | None
    prefix_length: int
    gateway: str
    dns_servers: list[str]
    dns_suffix: str | None
    ranges: list[AddressRange]
    reserved: list[str]
    total: int
    allocated: int
    free: int
    usage: IpPoolUsage
    updated: str
    allocations: list[IpAllocationView] | None = Field(
        default=None, description="Only in the document of one pool (GET /v1/ip-pools/{pool}, PUT)."
    )


def ip_pool_schemas() -> JsonObject:
    """The component schemas of the pool routes."""
    schemas: JsonObject = {}
    for model, mode in ((IpPoolSpec, "validation"), (IpPoolView, "serialization")):
        schema = model.model_json_schema(ref_template=_REF, mode=mode)  # type: ignore[arg-type]
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas


def _json(name: str, description: str) -> JsonObject:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": _REF.format(model=name)}}}}


def ip_pool_paths() -> JsonObject:
    """The ``/v1/ip-pools`` paths."""
    pool: dict[str, Any] = {
        "name": "pool",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"},
    }
    listing = {
        "description": "Every pool with its usage",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["items", "continuation"],
                    "properties": {
                        "items": {"type": "array", "items": {"$ref": _REF.format(model="IpPoolView")}},
                        "continuation": {"type": "null", "description": "Always null: every pool is on one page."},
                    },
                }
            }
        },
    }
    return {
        "/v1/ip-pools": {
            "get": {
                "summary": "List IP address pools with their usage",
                "parameters": [],
                "responses": {"200": listing, **_ERRORS},
            }
        },
        "/v1/ip-pools/{pool}": {
            "get": {
                "summary": "Get an IP address pool with its usage and allocations",
                "parameters": [pool],
                "responses": {"200": _json("IpPoolView", "The pool"), "404": _PROBLEM, **_ERRORS},
            },
            "put": {
                "summary": "Create or replace an IP address pool (admins); 409 if an allocated address would fall out",
                "parameters": [pool],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": _REF.format(model="IpPoolSpec")}}},
                },
                "responses": {
                    "200": _json("IpPoolView", "The pool was replaced"),
                    "201": _json("IpPoolView", "The pool was created"),
                    "400": _PROBLEM,
                    "409": _PROBLEM,
                    "422": _PROBLEM,
                    **_ERRORS,
                },
            },
            "delete": {
                "summary": "Delete an IP address pool (admins); 409 while any of its addresses is allocated",
                "parameters": [pool],
                "responses": {"204": {"description": "Deleted"}, "404": _PROBLEM, "409": _PROBLEM, **_ERRORS},
            },
        },
    }
