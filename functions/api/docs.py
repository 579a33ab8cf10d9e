"""``/api/openapi.json`` and ``/api/docs`` (Swagger UI from vendored assets, with a strict Content-Security-Policy)."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import urlsplit

import azure.functions as func

from functions.api.http import json_response

__all__ = ["bp", "serve_static"]

bp = func.Blueprint()  # type: ignore[no-untyped-call]
STATIC = Path(__file__).resolve().parent.parent / "static"
_DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Aether-V API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/api/docs/assets/vendor/swagger-ui/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/api/docs/assets/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/api/docs/assets/swagger-init.js"></script></body></html>
"""
_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": _DOCS_CSP,
}


@bp.route(route="api/openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def openapi_json(req: func.HttpRequest) -> func.HttpResponse:
    """The OpenAPI 3.1 document (anonymous: it describes the API, it holds no data)."""
    from functions.api.openapi import openapi_document

    parts = urlsplit(req.url)
    return json_response(
        openapi_document(f"{parts.scheme}://{parts.netloc}/api"), headers={"Cache-Control": "no-cache"}
    )


@bp.route(route="api/docs", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def docs(req: func.HttpRequest) -> func.HttpResponse:
    """Swagger UI."""
    return func.HttpResponse(
        _PAGE, mimetype="text/html", charset="utf-8", headers={**_HEADERS, "Cache-Control": "no-cache"}
    )


def _static_file(relative: str) -> Path | None:
    if any(ord(ch) < 0x20 or ch in "\\:" for ch in relative) or ".." in relative.split("/"):
        return None
    try:
        path = (STATIC / relative).resolve()
        return path if STATIC in path.parents and path.is_file() else None
    except (OSError, ValueError):  # a name too long for the file system, an embedded NUL …
        return None


def serve_static(relative: str, headers: dict[str, str], cache: str) -> func.HttpResponse:
    """A file under ``functions/static`` (no path escapes, no control characters), with its type and caching."""
    path = _static_file(relative)
    if path is None:
        return func.HttpResponse("not found", status_code=404, mimetype="text/plain", headers=headers)
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if path.suffix == ".js":
        content_type = "text/javascript"
    return func.HttpResponse(path.read_bytes(), mimetype=content_type, headers={**headers, "Cache-Control": cache})


@bp.route(route="api/docs/assets/{*path}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def docs_assets(req: func.HttpRequest) -> func.HttpResponse:
    """Swagger UI's vendored scripts and styles."""
    return serve_static(req.route_params.get("path", ""), _HEADERS, "public, max-age=3600")
