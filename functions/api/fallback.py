"""``/api/…`` paths no route serves: a 404 problem document (not the host's empty 404), for every method."""

from __future__ import annotations

import azure.functions as func

from functions.api.http import error_response
from functions.errors import NotFound

__all__ = ["bp"]

bp = func.Blueprint()  # type: ignore[no-untyped-call]


@bp.route(
    route="api/{*rest}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    auth_level=func.AuthLevel.ANONYMOUS,
)
def api_not_found(req: func.HttpRequest) -> func.HttpResponse:
    """No API route has this path (or not for this method)."""
    return error_response(NotFound(f"no route api/{req.route_params.get('rest', '')}"))
