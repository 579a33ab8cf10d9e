"""Routes of the dashboard: the page, its versioned assets, its config, and the sign-in redirect page.

- ``/`` and every client-side path (``/vms``, ``/vms/<id>``, ``/jobs/<id>``, ``/hosts/<name>`` …): the page
  (``no-cache``); any other path answers the same page with ``404`` so the UI shows "not found". The page's route
  never matches ``api/…`` or the host's own prefixes (``admin/``, ``runtime/``, ``.auth/``): those stay the API's and
  the host's.
- ``/ui/<build>/<file>``: the UI's modules, styles and the vendored MSAL.js. ``<build>`` is a digest of every
  asset, so a file under the current build is cached for a year (``immutable``) and a deploy changes every URL.
- ``/ui-config.json``: what the UI needs to sign in (client id, authority, scope — no secrets) or, in the local
  ``none`` mode, the fixed local caller and its roles (anonymous, ``no-cache``).
- ``/auth/redirect``: MSAL's redirect page (it hands the authorization code back to the app and returns).

Every response carries a strict Content-Security-Policy: scripts and styles only from this origin (no inline code,
no ``eval``), API calls only to this origin plus the Entra login host when Entra sign-in is on.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from functools import lru_cache
from urllib.parse import urlsplit

import azure.functions as func

from functions.api.docs import STATIC, serve_static
from functions.api.http import error_response
from functions.auth import LOCAL_OBJECT_ID, RoleMap
from functions.settings import AuthSettings, SettingsError

__all__ = ["ASSET_DIRS", "PAGE_ROUTE", "blueprint", "build_id", "content_security_policy", "ui_config"]

# Served under /ui/<build>/: the UI's own files and the vendored MSAL.js (relative to functions/static).
ASSET_DIRS = ("dashboard", "vendor/msal-browser")
REDIRECT_PATH = "/auth/redirect"
_IMMUTABLE = "public, max-age=31536000, immutable"
# Client-side routes of the single-page app (served the page with 200).
_CLIENT_ROUTES = re.compile(r"^(|vms|vms/new|vms/[^/]+|jobs|jobs/[^/]+|hosts/[^/]+|ip-pools|ip-pools/[^/]+)$")
# The page's route: every path except the host's own and the API's (the real host protects only /admin, so a plain
# catch-all would shadow /runtime/webhooks/durabletask/…; App Service Authentication owns /.auth). The expression
# avoids '/' and brackets, which route templates treat specially (brackets must be doubled in ASP.NET templates).
PAGE_ROUTE = r"{*path:regex(^(?!(api|admin|runtime|\.auth)(\W|$)).*$)}"
_BUILD_MARK = "{{build}}"


@lru_cache(maxsize=1)
def build_id() -> str:
    """A digest of every served asset: changes whenever any file (or the vendored MSAL) changes."""
    digest = hashlib.sha256()
    for directory in ASSET_DIRS:
        root = STATIC / directory
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(STATIC)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _login_origin(auth: AuthSettings) -> str:
    parts = urlsplit(auth.authority)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(auth: AuthSettings | None, *, framable: bool = False) -> str:
    """The dashboard's policy; Entra mode adds the login host for MSAL's metadata/token calls and silent frames."""
    login = f" {_login_origin(auth)}" if auth is not None and auth.mode == "entra" else ""
    ancestors = "'self'" if framable else "'none'"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
        f"connect-src 'self'{login}; frame-src 'self'{login}; manifest-src 'self'; base-uri 'none'; "
        f"form-action 'self'; frame-ancestors {ancestors}"
    )


def _headers(auth: AuthSettings | None, *, framable: bool = False) -> dict[str, str]:
    return {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "SAMEORIGIN" if framable else "DENY",
        "Referrer-Policy": "no-referrer",
        "Content-Security-Policy": content_security_policy(auth, framable=framable),
    }


def api_scope(auth: AuthSettings) -> str:
    """The scope the UI asks for: the API's App ID URI (default ``api://<client id>``) with ``/.default``."""
    uri = (auth.app_id_uri or f"api://{auth.client_id}").rstrip("/")
    return f"{uri}/.default"


def ui_config(auth: AuthSettings) -> dict[str, object]:
    """What the UI needs to know before its first API call; never a secret."""
    role_map = RoleMap.from_settings(auth)
    roles = {"reader": role_map.reader, "operator": role_map.operator, "admin": role_map.admin}
    config: dict[str, object] = {"mode": auth.mode, "build": build_id(), "api": "/api/v1", "roles": roles}
    if auth.mode == "entra":
        config["entra"] = {
            "client_id": auth.client_id,
            "tenant_id": auth.tenant_id,
            "authority": f"{auth.authority.rstrip('/')}/{auth.tenant_id}",
            "known_authority": urlsplit(auth.authority).netloc,
            "scopes": [api_scope(auth)],
            "redirect_path": REDIRECT_PATH,
        }
    else:
        config["local"] = {"user": "local developer", "id": LOCAL_OBJECT_ID, "roles": list(role_map.all_roles())}
    return config


@lru_cache(maxsize=4)
def _page(name: str, build: str) -> bytes:
    text = (STATIC / "dashboard" / name).read_text(encoding="utf-8")
    return text.replace(_BUILD_MARK, build).encode("utf-8")


def blueprint(auth: Callable[[], AuthSettings]) -> func.Blueprint:
    """The dashboard's routes; ``auth`` gives the auth settings (or raises when the settings are invalid)."""
    bp = func.Blueprint()  # type: ignore[no-untyped-call]

    def current() -> AuthSettings | None:
        try:
            return auth()
        except SettingsError:
            return None

    def html(name: str, status: int = 200, *, framable: bool = False) -> func.HttpResponse:
        headers = {**_headers(current(), framable=framable), "Cache-Control": "no-cache"}
        return func.HttpResponse(
            _page(name, build_id()), status_code=status, mimetype="text/html", charset="utf-8", headers=headers
        )

    @bp.route(route="ui-config.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    def dashboard_config(req: func.HttpRequest) -> func.HttpResponse:
        """The UI's sign-in configuration (anonymous, no secrets)."""
        try:
            settings = auth()
        except SettingsError as exc:
            return error_response(exc)
        return func.HttpResponse(
            json.dumps(ui_config(settings)),
            mimetype="application/json",
            headers={**_headers(settings), "Cache-Control": "no-cache"},
        )

    @bp.route(route="ui/{build}/{*path}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    def dashboard_assets(req: func.HttpRequest) -> func.HttpResponse:
        """The UI's files and vendored MSAL.js, cached for good under the current build."""
        relative = req.route_params.get("path", "")
        fresh = req.route_params.get("build") == build_id()
        headers = _headers(current())
        target = relative if relative.startswith("vendor/") else f"dashboard/{relative}"
        if ".." in relative.split("/") or not any(target.startswith(d + "/") for d in ASSET_DIRS):
            return func.HttpResponse("not found", status_code=404, mimetype="text/plain", headers=headers)
        # An old page asking for an old build gets today's file, but must not keep it.
        return serve_static(target, headers, _IMMUTABLE if fresh else "no-cache")

    @bp.route(route="auth/redirect", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    def dashboard_sign_in_redirect(req: func.HttpRequest) -> func.HttpResponse:
        """MSAL's redirect URI: hands the sign-in response to the app (framable by this origin for silent renewal)."""
        return html("redirect.html", framable=True)

    @bp.route(route=PAGE_ROUTE, methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    def dashboard_page(req: func.HttpRequest) -> func.HttpResponse:
        """The page, for every client-side path (a path the UI does not know answers it with 404)."""
        path = req.route_params.get("path", "").strip("/")
        return html("index.html", 200 if _CLIENT_ROUTES.match(path) else 404)

    return bp
