"""Starting workflows from outside an orchestration (timers, HTTP): settings are read here, never in orchestrators."""

from __future__ import annotations

import logging
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from functions.settings import get_settings
from functions.workflows.inventory import INSTANCE_ID, inventory_sync

__all__ = ["register_inventory_timer", "start_inventory_sync", "sync_input"]

log = logging.getLogger(__name__)
_RUNNING = frozenset({"Running", "Pending", "ContinuedAsNew", "Suspended"})


def sync_input(hosts: list[str] | None = None) -> dict[str, Any]:
    """The input of a sync of ``hosts`` (default: every configured host, and prune the others)."""
    settings = get_settings()
    winrm = settings.winrm
    # Worst case for one host: connect, then one long receive, twice over (one script run per host).
    deadline = 2 * (winrm.connect_timeout + winrm.read_timeout) + 60
    selected = hosts if hosts is not None else [host.name for host in settings.hosts]
    return {"hosts": selected, "prune": hosts is None, "deadline_seconds": deadline}


async def _running(client: df.DurableOrchestrationClient, instance_id: str) -> bool:
    status = await client.get_status(instance_id)
    return bool(status) and status.runtime_status is not None and status.runtime_status.value in _RUNNING


async def start_inventory_sync(
    client: df.DurableOrchestrationClient, hosts: list[str] | None = None
) -> tuple[str, bool]:
    """Start the singleton sync unless one is running; returns (instance id, whether this call started it).

    Check-then-start is racy: when two starters race, the extension rejects the second ``start_new`` for the
    running instance, which is taken as "already running".
    """
    if await _running(client, INSTANCE_ID):
        return INSTANCE_ID, False
    try:
        await client.start_new(inventory_sync._function._name, INSTANCE_ID, sync_input(hosts))
    except Exception as exc:  # the SDK raises a plain Exception for a rejected start
        if await _running(client, INSTANCE_ID):
            return INSTANCE_ID, False
        raise RuntimeError("could not start the inventory sync") from exc
    return INSTANCE_ID, True


async def inventory_timer(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    """Timer: start a sync unless the previous one is still running."""
    instance_id, started = await start_inventory_sync(client)
    if not started:
        log.info("inventory sync %s is still running; this tick is skipped", instance_id)


def register_inventory_timer(app: df.DFApp, schedule: str) -> None:
    """Register the sync timer on ``app`` with the schedule from settings; it also runs once at start-up."""
    with_client = app.durable_client_input(client_name="client")(inventory_timer)
    app.timer_trigger(schedule=schedule, arg_name="timer", run_on_startup=True)(with_client)
