"""The Durable management HTTP API (the extension's ``HttpApiHandler`` equivalent).

It is served on the RPC base and on ``/runtime/webhooks/durabletask``.

Responses follow what the Python SDK's client accepts (``durable-functions.md`` C2-C5):
JSON or empty bodies, 202 + ``Location``/``Retry-After`` while an instance runs, 200 when it
is done (500 for ``Failed`` with ``returnInternalServerErrorOnFailure=true``), 404/410 for
unknown/finished instances, list paging by ``x-ms-continuation-token`` (100 per page).
Request bodies may be JSON-encoded twice (the SDK sends ``df_dumps`` output as aiohttp
``json=``), so a body that decodes to a JSON string holding JSON is decoded again.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any
from urllib.parse import quote, unquote

from . import history as h
from .engine import Engine
from .http_types import Request, Response
from .lifecycle import validate_instance_id
from .store import InstanceQuery, InstanceRow, Store, decode_token, encode_token

PAGE_SIZE = 100
RUNNING_CODES = {"Pending", "Running", "ContinuedAsNew", "Suspended"}
_FRIENDLY = {
    h.EventType.EXECUTION_STARTED: "ExecutionStarted",
    h.EventType.EXECUTION_COMPLETED: "ExecutionCompleted",
    h.EventType.EXECUTION_TERMINATED: "ExecutionTerminated",
    h.EventType.TASK_COMPLETED: "TaskCompleted",
    h.EventType.TASK_FAILED: "TaskFailed",
    h.EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED: "SubOrchestrationInstanceCompleted",
    h.EventType.SUB_ORCHESTRATION_INSTANCE_FAILED: "SubOrchestrationInstanceFailed",
    h.EventType.TIMER_CREATED: "TimerCreated",
    h.EventType.TIMER_FIRED: "TimerFired",
    h.EventType.EVENT_RAISED: "EventRaised",
    h.EventType.EVENT_SENT: "EventSent",
    h.EventType.EXECUTION_SUSPENDED: "ExecutionSuspended",
    h.EventType.EXECUTION_RESUMED: "ExecutionResumed",
}
_STATUS_NAMES = {int(s): s.name.title().replace("_", "") for s in h.OrchestrationStatus}


def json_response(status: int, body: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    """A JSON response."""
    return Response(status, json.dumps(body).encode(), [("content-type", "application/json"), *(headers or [])])


def error_response(status: int, message: str) -> Response:
    """An error shaped like ASP.NET's ``CreateErrorResponse`` (what the SDK reads for 400)."""
    return json_response(status, {"Message": message, "ExceptionMessage": message})


def decode_body(body: bytes) -> tuple[bool, Any]:
    """Decode a JSON body, unwrapping one level of double encoding; (ok, value)."""
    if not body.strip():
        return True, None
    try:
        value = json.loads(body)
    except ValueError:
        return False, None
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = json.loads(value)
    return True, value


def _truthy(value: str | None, default: bool) -> bool:
    return default if value is None else value.strip().lower() == "true"


def _time_param(value: str | None) -> str | None:
    return h.iso(h.parse_iso(value)) if value else None


def _parsed(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class Management:
    """Handles management API requests for one devhost."""

    def __init__(self, engine: Engine, store: Store, hub_name: str) -> None:
        """Serve the task hub ``hub_name``: operations through ``engine``, reads from ``store``."""
        self.engine = engine
        self.store = store
        self.hub_name = hub_name

    def status_payload(self, row: InstanceRow, show_input: bool = True) -> dict[str, Any]:
        """``StatusResponsePayload`` for an instance."""
        return {
            "name": row.name,
            "instanceId": row.instance_id,
            "runtimeStatus": row.status,
            "input": _parsed(row.input) if show_input else None,
            "customStatus": _parsed(row.custom_status),
            "output": _parsed(row.output),
            "createdTime": h.iso_seconds(h.parse_iso(row.created)),
            "lastUpdatedTime": h.iso_seconds(h.parse_iso(row.updated)),
        }

    def check_status_payload(self, request: Request, instance_id: str) -> dict[str, str]:
        """The ``HttpManagementPayload`` returned by start and restart."""
        base = self._origin(request) + "/runtime/webhooks/durabletask/instances/" + quote(instance_id, safe="")
        common = f"taskHub={self.hub_name}&connection=Storage"
        return {
            "id": instance_id,
            "statusQueryGetUri": f"{base}?{common}",
            "sendEventPostUri": f"{base}/raiseEvent/{{eventName}}?{common}",
            "terminatePostUri": f"{base}/terminate?reason={{text}}&{common}",
            "rewindPostUri": f"{base}/rewind?reason={{text}}&{common}",
            "purgeHistoryDeleteUri": f"{base}?{common}",
            "restartPostUri": f"{base}/restart?{common}",
            "suspendPostUri": f"{base}/suspend?reason={{text}}&{common}",
            "resumePostUri": f"{base}/resume?reason={{text}}&{common}",
        }

    def _origin(self, request: Request) -> str:
        return request.url.split("/", 3)[0] + "//" + request.url.split("/", 3)[2]

    async def handle(self, request: Request, subpath: str) -> Response:
        """Dispatch one management request (``subpath`` is relative to the API base)."""
        parts = [unquote(p) for p in subpath.split("/")]
        method = request.method
        query = request.query()
        head = parts[0] if parts else ""
        if head == "orchestrators" and len(parts) in (2, 3) and method == "POST":
            return self.start(request, parts[1], parts[2] if len(parts) == 3 else None, query)
        if head == "instances":
            rest = [p for p in parts[1:]]
            if not rest or rest == [""]:
                if method == "GET":
                    return self.list_instances(request, query)
                if method == "DELETE":
                    return self.purge_many(query)
            elif len(rest) == 1:
                if method == "GET":
                    return self.status(request, rest[0], query)
                if method == "DELETE":
                    count = self.engine.purge([rest[0]])
                    return json_response(200, {"instancesDeleted": 1}) if count else Response(404)
            elif method == "POST":
                return self.instance_operation(request, rest, query)
        if head == "entities" and len(parts) >= 2:
            return self.entities(request, parts[1:], query)
        return Response(404)

    def start(self, request: Request, name: str, instance_id: str | None, query: dict[str, str]) -> Response:
        """``POST orchestrators/{name}[/{instanceId}]``."""
        ok, value = decode_body(request.body)
        if not ok:
            return error_response(400, "Invalid JSON content in the request body.")
        input_text = None if value is None else json.dumps(value)
        status, detail = self.engine.start_instance(name, instance_id, input_text, query.get("version", ""))
        if status == 202:
            payload = self.check_status_payload(request, detail)
            return json_response(202, payload, [("location", payload["statusQueryGetUri"]), ("retry-after", "10")])
        if status == 409:
            # The extension's DurableClient throws InvalidOperationException here, which the
            # HTTP API does not map: the caller sees a 500 carrying the message.
            return json_response(
                500,
                {
                    "Message": "An error has occurred.",
                    "ExceptionMessage": detail,
                    "ExceptionType": "System.InvalidOperationException",
                },
            )
        return error_response(400, detail)

    def status(self, request: Request, instance_id: str, query: dict[str, str]) -> Response:
        """``GET instances/{id}``."""
        row = self.store.instance(instance_id)
        if row is None:
            return Response(404)
        payload = self.status_payload(row, _truthy(query.get("showInput"), True))
        if _truthy(query.get("showHistory"), False):
            payload["historyEvents"] = self.friendly_history(
                self.store.history(instance_id), _truthy(query.get("showHistoryOutput"), False)
            )
        if row.status in RUNNING_CODES:
            return json_response(202, payload, [("location", request.url), ("retry-after", "5")])
        if row.status == "Failed" and _truthy(query.get("returnInternalServerErrorOnFailure"), False):
            return json_response(500, payload)
        return json_response(200, payload)

    def friendly_history(self, events: list[str], with_output: bool) -> list[dict[str, Any]]:
        """History as the status API shows it: scheduling merged into completions."""
        scheduled: dict[int, dict[str, Any]] = {}
        shown: list[dict[str, Any]] = []
        for text in events:
            event = json.loads(text)
            kind = event["EventType"]
            if kind in (h.EventType.TASK_SCHEDULED, h.EventType.SUB_ORCHESTRATION_INSTANCE_CREATED):
                scheduled[event["EventId"]] = event
                continue
            if kind not in _FRIENDLY:
                continue
            item: dict[str, Any] = {"EventType": _FRIENDLY[kind], "Timestamp": event["Timestamp"]}
            if kind == h.EventType.EXECUTION_STARTED:
                item["FunctionName"] = event.get("Name")
                if with_output:
                    item["Input"] = _parsed(event.get("Input"))
            elif kind == h.EventType.EXECUTION_COMPLETED:
                item["OrchestrationStatus"] = _STATUS_NAMES.get(event.get("OrchestrationStatus", -1), "Unknown")
                if with_output:
                    item["Result"] = _parsed(event.get("Result"))
            elif "TaskScheduledId" in event:
                origin = scheduled.get(event["TaskScheduledId"], {})
                item["FunctionName"] = origin.get("Name")
                item["ScheduledTime"] = origin.get("Timestamp")
                if "Reason" in event:
                    item["Reason"] = event["Reason"]
                    item["Details"] = event.get("Details")
                elif with_output:
                    item["Result"] = _parsed(event.get("Result"))
            elif kind in (h.EventType.TIMER_CREATED, h.EventType.TIMER_FIRED):
                item["FireAt"] = event.get("FireAt")
            elif kind in (h.EventType.EVENT_RAISED, h.EventType.EVENT_SENT):
                item["Name"] = event.get("Name")
                if with_output:
                    item["Input"] = _parsed(event.get("Input"))
            elif kind == h.EventType.EXECUTION_TERMINATED:
                item["Input"] = _parsed(event.get("Input"))
            shown.append(item)
        return shown

    def _query(self, query: dict[str, str]) -> InstanceQuery:
        statuses = [s.strip() for s in query.get("runtimeStatus", "").split(",") if s.strip()]
        return InstanceQuery(
            created_from=_time_param(query.get("createdTimeFrom")),
            created_to=_time_param(query.get("createdTimeTo")),
            statuses=statuses or None,
            prefix=query.get("instanceIdPrefix") or None,
        )

    def list_instances(self, request: Request, query: dict[str, str]) -> Response:
        """``GET instances/`` with filters and continuation paging."""
        try:
            filters = self._query(query)
        except ValueError as exc:
            return error_response(400, f"Invalid query: {exc}")
        top = int(query["top"]) if query.get("top", "").isdigit() and int(query["top"]) > 0 else PAGE_SIZE
        token = request.header("x-ms-continuation-token")
        after = decode_token(token) if token else None
        rows = self.store.query(filters, top + 1, after)
        headers: list[tuple[str, str]] = []
        if len(rows) > top:
            rows = rows[:top]
            headers.append(("x-ms-continuation-token", encode_token(rows[-1].created, rows[-1].instance_id)))
        show_input = _truthy(query.get("showInput"), True)
        return json_response(200, [self.status_payload(r, show_input) for r in rows], headers)

    def purge_many(self, query: dict[str, str]) -> Response:
        """``DELETE instances/?createdTimeFrom=...``."""
        if not query.get("createdTimeFrom"):
            return error_response(400, "createdTimeFrom is required to purge instances.")
        try:
            filters = self._query(query)
        except ValueError as exc:
            return error_response(400, f"Invalid query: {exc}")
        if filters.created_to is None:
            filters.created_to = h.iso(h.utc_now())
        count = self.engine.purge(self.store.matching_ids(filters))
        return json_response(200, {"instancesDeleted": count}) if count else Response(404)

    def instance_operation(self, request: Request, rest: list[str], query: dict[str, str]) -> Response:
        """``POST instances/{id}/raiseEvent/{name}|terminate|suspend|resume|restart|rewind``."""
        engine = self.engine
        instance_id, operation = rest[0], rest[1]
        reason = query.get("reason", "")
        if operation == "raiseEvent" and len(rest) == 3:
            ok, value = decode_body(request.body)
            if not ok:
                return error_response(400, "Only application/json request content is supported")
            return Response(engine.raise_event(instance_id, rest[2], json.dumps(value)))
        if len(rest) != 2:
            return Response(404)
        if operation == "terminate":
            return Response(engine.terminate(instance_id, reason))
        if operation == "suspend":
            return Response(engine.suspend(instance_id, reason))
        if operation == "resume":
            return Response(engine.resume(instance_id, reason))
        if operation == "restart":
            row = self.store.instance(instance_id)
            if row is None:
                return Response(404)
            new_id = None if _truthy(query.get("restartWithNewInstanceId"), True) else instance_id
            status, detail = engine.start_instance(row.name, new_id, row.input, row.version)
            if status != 202:
                return error_response(400 if status != 409 else 500, detail)
            payload = self.check_status_payload(request, detail)
            return json_response(202, payload, [("location", payload["statusQueryGetUri"])])
        if operation == "rewind":
            row = self.store.instance(instance_id)
            if row is None:
                return Response(404)
            if row.status != "Failed":
                return Response(410)
            return error_response(501, "Rewind is not supported by the devhost.")
        return Response(404)

    def entities(self, request: Request, parts: list[str], query: dict[str, str]) -> Response:
        """``GET/POST/DELETE entities/{name}[/{key}]``."""
        name = parts[0]
        store = self.store
        if len(parts) == 1 or (len(parts) == 2 and parts[1] == ""):
            if request.method != "GET":
                return Response(404)
            top = int(query["top"]) if query.get("top", "").isdigit() and int(query["top"]) > 0 else PAGE_SIZE
            token = request.header("x-ms-continuation-token")
            rows = store.entities(name.lower(), top + 1, token)
            headers: list[tuple[str, str]] = []
            if len(rows) > top:
                rows = rows[:top]
                headers.append(("x-ms-continuation-token", rows[-1].entity_id))
            fetch_state = _truthy(query.get("fetchState"), False)
            body = []
            for row in rows:
                item: dict[str, Any] = {
                    "entityId": {"name": row.name, "key": row.key},
                    "lastOperationTime": h.iso_seconds(h.parse_iso(row.last_op)),
                }
                if fetch_state:
                    item["state"] = _parsed(row.state)
                body.append(item)
            return json_response(200, body, headers)
        key = "" if parts[1] == "$" else parts[1]
        entity_id = f"@{name.lower()}@{key}"
        if validate_instance_id(key or "x") is not None and key:
            return error_response(400, f"Entity key '{key}' is invalid.")
        if request.method == "GET":
            entity = store.entity(entity_id)
            if entity is None:
                return Response(404)
            return json_response(200, _parsed(entity.state))
        if request.method in ("POST", "DELETE"):
            operation = query.get("op") or ("delete" if request.method == "DELETE" else "")
            if not operation:
                return error_response(400, "The 'op' query parameter is required.")
            ok, value = decode_body(request.body)
            if not ok:
                return error_response(400, "Invalid JSON content in the request body.")
            self.engine.signal_entity(entity_id, operation, None if value is None else json.dumps(value))
            return Response(202)
        return Response(404)


__all__ = ["Management", "decode_body"]
