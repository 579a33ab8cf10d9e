"""The services one process serves requests with, as the composition root built them (one object to hand around).

Triggers receive a provider of :class:`Services` (``functions/app.py``): calling it returns the process's services,
built on first use, or raises the settings problem that stops them being built (answered 503 by the API).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from functions.auth import Authenticator
from functions.services.audit import AuditTrail
from functions.services.events import EventService
from functions.services.hosts import HostService
from functions.services.inventory import InventoryService
from functions.services.ip_pools import PoolService
from functions.services.jobs import JobService
from functions.services.leases import LeaseService
from functions.services.vm_changes import VmChangeService
from functions.services.vms import VmService
from functions.settings import AuthSettings

__all__ = ["Services", "ServicesProvider"]


@dataclass(frozen=True)
class Services:
    """Every service of the app, and the authenticator that tells who calls."""

    authenticator: Authenticator
    auth_settings: AuthSettings
    audit: AuditTrail
    vms: VmService
    hosts: HostService
    inventory: InventoryService
    jobs: JobService
    changes: VmChangeService
    pools: PoolService
    leases: LeaseService | None = None
    """VM leases (``None`` only in graphs that tests build without them)."""
    events: EventService | None = None
    """Event delivery and dead letters (``None`` only in graphs that tests build without them)."""


ServicesProvider = Callable[[], Services]
