"""The OpenAPI 3.1 document, generated from the same pydantic models that validate requests and shape responses.

Served at ``/api/openapi.json``; ``/api/docs`` renders it with Swagger UI from vendored assets (no CDN).
"""

from __future__ import annotations

from pydantic import BaseModel

from functions import __version__
from functions.api.event_openapi import event_paths, event_schemas
from functions.api.ip_pool_openapi import ip_pool_paths, ip_pool_schemas
from functions.api.views import VM_STATES, CheckpointView, ClusterView, HostView, JobLogPage, JobView, VmView
from functions.hyperv.probe_report import ProbeReport
from functions.models.jobs import JobStatus
from functions.models.json import JsonObject
from functions.models.leases import LeaseRequest
from functions.models.vm_changes import (
    CheckpointApplyRequest,
    CheckpointCreateRequest,
    DiskAddRequest,
    DiskExpandRequest,
    MigrateRequest,
    NicAddRequest,
    NicUpdateRequest,
    VmUpdateRequest,
)
from functions.models.vm_request import VmCreateRequest

__all__ = ["openapi_document"]

_REF = "#/components/schemas/{model}"


_REQUESTS: tuple[type[BaseModel], ...] = (
    VmCreateRequest,
    VmUpdateRequest,
    DiskAddRequest,
    DiskExpandRequest,
    NicAddRequest,
    NicUpdateRequest,
    CheckpointCreateRequest,
    CheckpointApplyRequest,
    MigrateRequest,
    LeaseRequest,
)
"""Request bodies: their schemas are what the API validates (the others, what it sends)."""


def _schemas(*models: type[BaseModel]) -> JsonObject:
    schemas: JsonObject = {}
    for model in models:
        schema = model.model_json_schema(
            ref_template=_REF, mode="validation" if model in _REQUESTS else "serialization"
        )
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _page(item: str) -> JsonObject:
    return {
        "type": "object",
        "required": ["items", "continuation"],
        "properties": {"items": {"type": "array", "items": _ref(item)}, "continuation": {"type": ["string", "null"]}},
    }


def _json(schema: JsonObject, description: str) -> JsonObject:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_PROBLEM = {"$ref": "#/components/responses/Problem"}
_ERRORS = {"401": _PROBLEM, "403": _PROBLEM, "500": _PROBLEM, "503": _PROBLEM}
_ACCEPTED = {
    "description": "Accepted: the job document; poll the Location header",
    "headers": {
        "Location": {"schema": {"type": "string", "format": "uri"}, "description": "URL of the job"},
        "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before polling"},
    },
    "content": {"application/json": {"schema": _ref("JobView")}},
}
_LIST = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
    {"name": "continuation", "in": "query", "schema": {"type": "string"}},
]
_IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": 200},
    "description": "The same key with the same body returns the same job; with another body 409.",
}


def _path_param(name: str) -> JsonObject:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _read(summary: str, ok: JsonObject, params: list[JsonObject] | None = None) -> JsonObject:
    responses = {"200": ok, "400": _PROBLEM, "404": _PROBLEM, **_ERRORS}
    return {"summary": summary, "parameters": params or [], "responses": responses}


def _write(
    summary: str, params: list[JsonObject], body: JsonObject | None = None, *, body_required: bool = True
) -> JsonObject:
    operation: JsonObject = {
        "summary": summary,
        "parameters": params,
        "responses": {"202": _ACCEPTED, "400": _PROBLEM, "404": _PROBLEM, "409": _PROBLEM, "422": _PROBLEM, **_ERRORS},
    }
    if body is not None:
        operation["requestBody"] = {"required": body_required, "content": {"application/json": {"schema": body}}}
    return operation


def _changes() -> JsonObject:
    """The day-2 routes: resize, disks, adapters, checkpoints, migration (``docs/vm-changes.md``)."""
    vm, key = _path_param("vm_id"), _IDEMPOTENCY
    disk, nic, checkpoint = _path_param("disk_id"), _path_param("nic_id"), _path_param("checkpoint_id")
    return {
        "/v1/vms/{vm_id}/disks": {"post": _write("Add a data disk (job add_disk)", [vm, key], _ref("DiskAddRequest"))},
        "/v1/vms/{vm_id}/disks/{disk_id}/expand": {
            "post": _write("Grow a disk (job expand_disk)", [vm, disk, key], _ref("DiskExpandRequest"))
        },
        "/v1/vms/{vm_id}/disks/{disk_id}": {
            "delete": _write("Detach and delete a data disk (job remove_disk)", [vm, disk, key])
        },
        "/v1/vms/{vm_id}/nics": {
            "post": _write("Add a network adapter (job add_nic)", [vm, key], _ref("NicAddRequest"))
        },
        "/v1/vms/{vm_id}/nics/{nic_id}": {
            "patch": _write(
                "Reconnect an adapter or change its VLAN (job update_nic)", [vm, nic, key], _ref("NicUpdateRequest")
            ),
            "delete": _write("Remove a network adapter (job remove_nic)", [vm, nic, key]),
        },
        "/v1/vms/{vm_id}/checkpoints": {
            "get": _read(
                "The VM's checkpoints, read from its host", _json(_page("CheckpointView"), "Checkpoints"), [vm]
            ),
            "post": _write(
                "Make a production checkpoint (job create_checkpoint)", [vm, key], _ref("CheckpointCreateRequest")
            ),
        },
        "/v1/vms/{vm_id}/checkpoints/{checkpoint_id}/apply": {
            "post": _write(
                "Revert the VM to a checkpoint (job apply_checkpoint)",
                [vm, checkpoint, key],
                _ref("CheckpointApplyRequest"),
                body_required=False,
            )
        },
        "/v1/vms/{vm_id}/checkpoints/{checkpoint_id}": {
            "delete": _write("Delete a checkpoint (job remove_checkpoint)", [vm, checkpoint, key])
        },
        "/v1/vms/{vm_id}/migrate": {
            "post": _write("Live-migrate the VM to another host (job migrate_vm)", [vm, key], _ref("MigrateRequest"))
        },
    }


_DRY_RUN = {
    "name": "dry_run",
    "in": "query",
    "required": False,
    "schema": {"type": "boolean"},
    "description": "true: run every check a create makes before its job exists and answer 200; nothing is created.",
}
_CREATE_CHECK: JsonObject = {
    "type": "object",
    "required": ["valid", "request", "host", "requires_approval", "warnings"],
    "properties": {
        "valid": {"type": "boolean", "const": True},
        "request": {"type": "object", "description": "The normalized request (guest secrets masked)."},
        "host": {"type": ["string", "null"], "description": "The host it names or placement would pick now."},
        "cluster": {"type": ["string", "null"]},
        "requires_approval": {"type": "boolean"},
        "approval_required_by": {"type": ["string", "null"], "description": "The rule that requires approval."},
        "ip_pool": {"type": ["string", "null"]},
        "warnings": {"type": "array", "items": {"type": "string"}, "description": "e.g. no host can take it now."},
    },
}


def _create_vm() -> JsonObject:
    """``POST /v1/vms``: a create (202 with the job), or with ``dry_run=true`` only its checks (200)."""
    operation = _write("Create a VM (dry_run=true: only check it)", [_IDEMPOTENCY, _DRY_RUN], _ref("VmCreateRequest"))
    operation["responses"] = {"200": _json(_CREATE_CHECK, "dry_run=true: the checks passed"), **operation["responses"]}
    return operation


def openapi_document(server_url: str = "/api") -> JsonObject:
    """The whole OpenAPI 3.1 document."""
    vm_filters = [
        {"name": "host", "in": "query", "schema": {"type": "string"}},
        {"name": "state", "in": "query", "schema": {"enum": list(VM_STATES)}},
        {"name": "name_prefix", "in": "query", "schema": {"type": "string"}},
        {"name": "stale", "in": "query", "schema": {"type": "boolean"}},
        {
            "name": "expiring_within_hours",
            "in": "query",
            "schema": {"type": "number", "exclusiveMinimum": 0, "maximum": 87600},
            "description": "Only VMs whose lease expires within this many hours (docs/leases.md).",
        },
        *_LIST,
    ]
    job_filters = [
        {
            "name": "status",
            "in": "query",
            "schema": {"enum": [str(status) for status in JobStatus]},
        },
        {"name": "kind", "in": "query", "schema": {"type": "string"}},
        {"name": "vm_id", "in": "query", "schema": {"type": "string"}},
        {"name": "requested_by", "in": "query", "schema": {"type": "string"}},
        *_LIST,
    ]
    library = {"type": "object", "properties": {"items": {"type": "array"}, "continuation": {"type": "null"}}}
    paths: JsonObject = {
        "/v1/inventory": {"get": _read("Inventory summary", _json({"type": "object"}, "Totals, clusters, hosts"))},
        "/v1/hosts": {"get": _read("List hosts", _json(_page("HostView"), "Hosts"))},
        "/v1/hosts/{host}": {"get": _read("Get a host", _json(_ref("HostView"), "The host"), [_path_param("host")])},
        "/v1/hosts/{host}/vms": {
            "get": _read("List a host's VMs", _json(_page("VmView"), "VMs"), [_path_param("host"), *vm_filters])
        },
        "/v1/hosts/{host}/images": {
            "get": _read("List the host's images", _json(library, "Images"), [_path_param("host")])
        },
        "/v1/hosts/{host}/networks": {
            "get": _read("List the host's virtual switches", _json(library, "Switches"), [_path_param("host")])
        },
        "/v1/vms": {
            "get": _read("List VMs", _json(_page("VmView"), "VMs"), vm_filters),
            "post": _create_vm(),
        },
        "/v1/vms/{vm_id}": {
            "get": _read("Get a VM", _json(_ref("VmView"), "The VM"), [_path_param("vm_id")]),
            "delete": _write("Delete a VM with its disks", [_path_param("vm_id"), _IDEMPOTENCY]),
            "patch": _write(
                "Resize a VM or replace its notes (job update_vm)",
                [_path_param("vm_id"), _IDEMPOTENCY],
                _ref("VmUpdateRequest"),
            ),
        },
        "/v1/vms/{vm_id}/{action}": {
            "post": _write(
                "Power action: start, stop (turn off), shutdown (guest), restart",
                [
                    _path_param("vm_id"),
                    {
                        "name": "action",
                        "in": "path",
                        "required": True,
                        "schema": {"enum": ["start", "stop", "shutdown", "restart"]},
                    },
                    _IDEMPOTENCY,
                ],
            )
        },
        "/v1/vms/{vm_id}/lease": {
            "put": {
                "summary": "Set, extend or clear the VM's lease: `{expires_at}`, `{hours}` or `{expires_at: null}` "
                "(Operators for VMs they requested, Admins for any; docs/leases.md)",
                "parameters": [_path_param("vm_id")],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("LeaseRequest")}}},
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["vm_id", "lease"],
                            "properties": {
                                "vm_id": {"type": "string"},
                                "lease": {"anyOf": [_ref("LeaseView"), {"type": "null"}]},
                            },
                        },
                        "The VM's lease (null: cleared)",
                    ),
                    "400": _PROBLEM,
                    "404": _PROBLEM,
                    "409": _PROBLEM,
                    "422": _PROBLEM,
                    **_ERRORS,
                },
            }
        },
        "/v1/hosts/{host}/probe": {
            "post": {
                "summary": "Probe a configured host stage by stage: name resolution, TCP, TLS, WinRM authentication, "
                "a PowerShell round trip (admins). 200 whatever it found: `ok`, `failed_stage` and `summary` tell.",
                "parameters": [_path_param("host")],
                "responses": {
                    "200": _json(_ref("ProbeReport"), "The probe's report"),
                    "404": _PROBLEM,
                    **_ERRORS,
                },
            }
        },
        "/v1/clusters": {"get": _read("List clusters", _json(_page("ClusterView"), "Clusters"))},
        "/v1/inventory/refresh": {
            "post": _write("Refresh the inventory now", [{"name": "host", "in": "query", "schema": {"type": "string"}}])
        },
        "/v1/jobs": {"get": _read("List jobs, newest first", _json(_page("JobView"), "Jobs"), job_filters)},
        "/v1/jobs/{job_id}": {
            "get": {
                "summary": "Get a job: 202 while it runs, 200 succeeded, 422 failed, 409 canceled",
                "parameters": [_path_param("job_id")],
                "responses": {
                    "200": _json(_ref("JobView"), "The job succeeded"),
                    "202": _ACCEPTED,
                    "404": _PROBLEM,
                    "409": _PROBLEM,
                    "422": _PROBLEM,
                    **_ERRORS,
                },
            }
        },
        "/v1/jobs/{job_id}/log": {
            "get": _read(
                "The job's log, oldest first: pass `next` as `after` to read on (and to follow a running job)",
                _json(_ref("JobLogPage"), "A page of log entries"),
                [
                    _path_param("job_id"),
                    {"name": "after", "in": "query", "schema": {"type": "string"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                ],
            )
        },
        "/v1/jobs/{job_id}/cancel": {"post": _write("Cancel a running job", [_path_param("job_id")])},
        "/v1/jobs/{job_id}/approve": {
            "post": _write(
                "Approve a create awaiting approval (Admin, not its requester)",
                [_path_param("job_id")],
                _ref("DecisionRequest"),
                body_required=False,
            )
        },
        "/v1/jobs/{job_id}/reject": {
            "post": _write(
                "Reject a create awaiting approval with a reason (Admin, not its requester); it ends Canceled",
                [_path_param("job_id")],
                _ref("DecisionRequest"),
            )
        },
        "/v1/audit": {"get": _read("The audit log (admins)", _json({"type": "object"}, "Audit records"), _LIST)},
        **_changes(),
        **ip_pool_paths(),
        **event_paths(),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Aether-V Orchestrator API",
            "version": __version__,
            "description": "Create, change and remove Hyper-V VMs; read the inventory; follow jobs.",
        },
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": {
                **_schemas(*_REQUESTS, VmView, HostView, ClusterView, JobView, ProbeReport, CheckpointView, JobLogPage),
                **ip_pool_schemas(),
                **event_schemas(),
            },
            "responses": {
                "Problem": {
                    "description": "RFC 9457 problem details",
                    "content": {
                        "application/problem+json": {
                            "schema": {
                                "type": "object",
                                "required": ["title", "status"],
                                "properties": {
                                    "type": {"type": "string"},
                                    "title": {"type": "string"},
                                    "status": {"type": "integer"},
                                    "detail": {"type": "string"},
                                    "errors": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "properties": {
                                                "field": {"type": "string"},
                                                "message": {"type": "string"},
                                                "code": {"type": "string"},
                                            },
                                        },
                                    },
                                },
                            }
                        }
                    },
                }
            },
        },
    }
