"""Builds the Functions app: validates settings (listing every problem), creates the DFApp, registers blueprints."""

from __future__ import annotations

import logging

import azure.durable_functions as df
import azure.functions as func

from functions.api.health import bp as health_bp
from functions.settings import get_settings

__all__ = ["create_app"]


def create_app() -> df.DFApp:
    """Validate settings, then assemble the app from the blueprints."""
    get_settings()
    # The storage SDK logs every HTTP request at INFO; keep the app's log about the app.
    logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)
    app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    app.register_functions(health_bp)
    return app
