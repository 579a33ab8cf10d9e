"""Host-owned paths: app routes may not claim or shadow them.

The Functions host keeps ``/admin/...`` for its admin API and ``/runtime/webhooks/...`` for
extension webhooks, among them the Durable management API ``/runtime/webhooks/durabletask/...``
that every status URL the SDK hands out points at.

- A route starting with ``admin`` is refused outright: ``ScriptHost.ValidateHttpFunction``
  lower-cases the route (without the route prefix) and throws "The specified route conflicts
  with one or more built in routes." when it ``StartsWith("admin")``
  (Azure/azure-functions-host ``src/WebJobs.Script/Host/ScriptHost.cs``). On Azure that function
  is not loaded and the rest of the app starts; the devhost refuses to start.
- A route that can *match* a host-owned path (a root catch-all ``{*path}`` with an empty route
  prefix, say) is accepted by that check, but competes with the host's own endpoints: the
  host's route manager has to put its warmup route ahead of "customer catch-all routes"
  (``src/WebJobs.Script.WebHost/WebScriptHostHttpRoutesManager.cs``), and current hosts answer
  such requests 404 and log "The request path '…' was rejected because it uses a reserved host
  route and matches the route for function '…'. Update the function route to use a non-reserved
  path." (``src/WebJobs.Script.WebHost/Middleware/ReservedRouteGuardMiddleware.cs``). Either way
  the management API is lost to the app, so the devhost refuses such a route at start-up
  (rule ``reserved-routes``, relaxable with ``--lenient``), naming the function and the route.

Whether a template can match is checked against sample host-owned paths, so a route whose
constraints exclude ``runtime`` and ``admin`` (for example
``{*path:regex(^(?!runtime|admin))}``) passes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .discovery import FunctionInfo
from .routing import compile_route

BUILT_IN_ROUTE_CONFLICT = "The specified route conflicts with one or more built in routes."
HOST_OWNED_SAMPLES = (
    "runtime/webhooks/durabletask",
    "runtime/webhooks/durabletask/instances",
    "runtime/webhooks/durabletask/instances/abc123",
    "runtime/webhooks/durabletask/instances/abc123/raiseEvent/Approval",
    "runtime/webhooks/durabletask/instances/abc123/terminate",
    "runtime/webhooks/durabletask/orchestrators/hello",
    "runtime/webhooks/durabletask/entities/Counter/key1",
    "runtime/webhooks/eventgrid",
    "admin/host/status",
    "admin/host/ping",
    "admin/functions/hello",
)


@dataclass(frozen=True)
class RouteConflict:
    """An app route that claims (``refused``) or can shadow a host-owned path."""

    function: str
    route: str
    message: str
    refused: bool


def _route(info: FunctionInfo) -> str:
    return str(info.trigger.get("route") or info.name)


def find_conflicts(functions: Iterable[FunctionInfo], route_prefix: str) -> list[RouteConflict]:
    """Every HTTP function whose route is in, or can match, the host's own path space."""
    conflicts: list[RouteConflict] = []
    for info in functions:
        if info.kind != "http":
            continue
        route = _route(info)
        if route.strip("/").lower().startswith("admin"):
            conflicts.append(
                RouteConflict(
                    info.name,
                    route,
                    f"function '{info.name}': route '{route}': {BUILT_IN_ROUTE_CONFLICT} (the host keeps "
                    "routes starting with 'admin'; on Azure this function would not be loaded)",
                    refused=True,
                )
            )
            continue
        template = compile_route(f"{route_prefix}/{route}" if route_prefix else route)
        hit = next((path for path in HOST_OWNED_SAMPLES if template.match(path) is not None), None)
        if hit is not None:
            shown_prefix = f"'{route_prefix}'" if route_prefix else "'' (empty)"
            conflicts.append(
                RouteConflict(
                    info.name,
                    route,
                    f"function '{info.name}': route '{route}' (route prefix {shown_prefix}) also matches the "
                    f"host-owned path '/{hit}'. On Azure it competes with the host's /runtime/webhooks "
                    "(the Durable management API and every status URL the SDK hands out) and /admin endpoints, "
                    "and current hosts reject such requests with 404. Constrain the route so it cannot match "
                    "them, e.g. '{*path:regex(^(?!runtime|admin))}'.",
                    refused=False,
                )
            )
    return conflicts
