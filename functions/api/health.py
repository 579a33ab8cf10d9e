"""Anonymous health routes: ``/api/healthz`` (liveness) and ``/api/readyz`` (settings valid, storage reachable).

Both reveal nothing sensitive: no settings values, host names or exception texts (those go to the log).
"""

from __future__ import annotations

import json
import logging

import azure.functions as func

from functions import __version__
from functions.settings import get_settings
from functions.storage import table_service

__all__ = ["bp"]

bp = func.Blueprint()  # type: ignore[no-untyped-call]
log = logging.getLogger(__name__)

_NO_STORE = {"Cache-Control": "no-store"}


def _json(status: int, body: dict[str, object]) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json", headers=dict(_NO_STORE))


@bp.route(route="api/healthz", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def healthz(req: func.HttpRequest) -> func.HttpResponse:
    """Liveness: the app is loaded; reports its version and build commit."""
    return _json(200, {"status": "healthy", "version": __version__, "build": get_settings().build_commit})


def storage_reachable() -> bool:
    """Whether Table Storage answers a minimal request with the configured credentials."""
    try:
        next(iter(table_service().list_tables(results_per_page=1)), None)
    except Exception:
        log.warning("readiness: storage is not reachable", exc_info=True)
        return False
    return True


@bp.route(route="api/readyz", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def readyz(req: func.HttpRequest) -> func.HttpResponse:
    """Readiness: settings are valid (the app would not have loaded otherwise) and storage is reachable."""
    get_settings()
    storage_ok = storage_reachable()
    checks = {"settings": "ok", "storage": "ok" if storage_ok else "unreachable"}
    return _json(200 if storage_ok else 503, {"status": "ready" if storage_ok else "not_ready", "checks": checks})
