"""``/api/…`` paths no route serves: a 404 problem document (not the host's empty 404), for every method."""

from __future__ import annotations

import azure.functions as func

from functions.api.http import problem_response

__all__ = ["bp"]

bp = func.Blueprint()  # type: ignore[no-untyped-call]


@bp.route(
    route="api/{*rest}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    auth_level=func.AuthLevel.ANONYMOUS,
)
def api_not_found(req: func.HttpRequest) -> func.HttpResponse:
    """No API route has this path (or not for this method)."""
    rest = req.route_params.get("rest", "")
    return problem_response(404, "Not found", f"no route api/{rest}", kind="urn:aetherv:problem:not-found")
