"""Anonymous health routes: ``/api/healthz`` (liveness) and ``/api/readyz`` (settings valid, storage reachable).

``healthz`` answers whenever the app is loaded, even with invalid settings. ``readyz`` answers 503 listing every
settings problem (names and rules, never values) or an unreachable storage account. Neither reveals host names or
exception texts (those go to the log).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import azure.functions as func

from functions import __version__
from functions.api.http import json_response
from functions.settings import Settings, SettingsError

__all__ = ["blueprint"]

log = logging.getLogger(__name__)


def blueprint(settings: Callable[[], Settings], storage_reachable: Callable[[], bool]) -> func.Blueprint:
    """The health routes; ``settings`` gives the process's settings or raises their problems."""
    bp = func.Blueprint()  # type: ignore[no-untyped-call]

    @bp.route(route="api/healthz", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    def healthz(req: func.HttpRequest) -> func.HttpResponse:
        """Liveness: the app is loaded; reports its version and build commit."""
        try:
            build = settings().build_commit
        except SettingsError:
            build = "unknown"
        return json_response({"status": "healthy", "version": __version__, "build": build})

    @bp.route(route="api/readyz", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    def readyz(req: func.HttpRequest) -> func.HttpResponse:
        """Readiness: every setting is valid and storage answers."""
        try:
            settings()
        except SettingsError as exc:
            checks = {"settings": "invalid", "storage": "not checked"}
            body = {"status": "not_ready", "checks": checks, "problems": exc.problems}
            return json_response(body, 503, {"Retry-After": "60"})
        storage_ok = storage_reachable()
        checks = {"settings": "ok", "storage": "ok" if storage_ok else "unreachable"}
        body = {"status": "ready" if storage_ok else "not_ready", "checks": checks}
        return json_response(body, 200 if storage_ok else 503)

    return bp
