"""Activities of the inventory sync: collect and store one host (also the single-host refresh), prune hosts."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from functions.inventory import sync

__all__ = ["bp", "inventory_collect_host", "inventory_prune"]

bp = df.Blueprint()


@bp.activity_trigger(input_name="host")
def inventory_collect_host(host: str) -> dict[str, Any]:
    """Collect one host and store its inventory; returns a small summary (never raises for host failures)."""
    return sync.collect_and_store(host).to_json()


@bp.activity_trigger(input_name="hosts")
def inventory_prune(hosts: list[str]) -> dict[str, Any]:
    """Remove hosts that are no longer configured (and their VMs) from the tables."""
    return sync.prune(hosts)
