"""Builds the Functions app: validates settings (listing every problem), creates the DFApp, registers blueprints."""

from __future__ import annotations

import logging

import azure.durable_functions as df
import azure.functions as func

from functions.api import docs, routes
from functions.api.health import bp as health_bp
from functions.auth import startup_warning
from functions.dashboard.routes import bp as dashboard_bp
from functions.settings import get_settings
from functions.workflows import create_vm, inventory, inventory_activities, lifecycle, throttle, vm_activities
from functions.workflows.starters import register_inventory_timer

__all__ = ["create_app"]


def create_app() -> df.DFApp:
    """Validate settings, then assemble the app from the blueprints."""
    settings = get_settings()
    warning = startup_warning(settings)
    if warning:
        logging.getLogger("aetherv").warning(warning)
    # The storage SDK logs every HTTP request at INFO; keep the app's log about the app.
    logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)
    app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    for blueprint in (
        health_bp,
        docs.bp,
        routes.bp,
        inventory.bp,
        inventory_activities.bp,
        create_vm.bp,
        lifecycle.bp,
        vm_activities.bp,
        throttle.bp,
        dashboard_bp,
    ):
        app.register_functions(blueprint)
    register_inventory_timer(app, settings.inventory_schedule)
    return app
