"""The IP pool service: pool definitions (create, replace, read, delete) and the pool side of a VM create.

Pool writes are audited and validated like requests (every problem at once, overlap with other pools included).
For a create that names a pool in ``guest.ipv4.pool``, :meth:`PoolService.check_create` resolves the network and
VLAN and refuses what cannot work before any job exists (unknown pool, a mismatch, no free address), and
:meth:`PoolService.allocate_for` takes the address atomically for the job and returns the request with the pool's
values filled in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from functions.errors import Conflict, NotFound
from functions.inventory.repository import InventoryRepository
from functions.ippools.store import Allocation, PoolRecord, PoolStore
from functions.jobs.records import JobStore
from functions.models.ip_pools import IpPoolSpec, parse_pool, pool_name_problems
from functions.models.jobs import JobStatus
from functions.models.problems import Problem, RequestValidationError
from functions.models.vm_request import Ipv4Config, VmCreateRequest
from functions.services.audit import AuditTrail, Caller

__all__ = ["IN_USE_SECONDS", "PoolChoice", "PoolService"]

IN_USE_SECONDS = 5.0
"""How long one scan of the inventory's VM addresses is reused."""


@dataclass(frozen=True)
class PoolChoice:
    """A create's pool, once checked: its name and definition."""

    name: str
    spec: IpPoolSpec


def pool_name(request: VmCreateRequest) -> str | None:
    """The pool a create request names in ``guest.ipv4.pool``, if any."""
    ipv4 = request.guest.ipv4 if request.guest else None
    return ipv4.pool if ipv4 is not None else None


class PoolService:
    """IP pools (see the module docstring)."""

    def __init__(
        self, store: PoolStore, inventory: InventoryRepository, audit: AuditTrail, jobs: JobStore | None = None
    ) -> None:
        self.store = store
        self.inventory = inventory
        self.audit = audit
        self.jobs = jobs
        self._in_use: tuple[float, frozenset[str]] | None = None  # (read at, addresses): one scan serves a burst

    # -- pools ---------------------------------------------------------------------------------------------------

    def list(self) -> list[PoolRecord]:
        """Every pool with its usage."""
        return self.store.all()

    def get(self, name: str) -> PoolRecord:
        """One pool with its allocations; ``NotFound`` if there is none."""
        record = self.store.get(name) if not pool_name_problems(name) else None
        if record is None:
            raise NotFound(f"IP pool {name} does not exist")
        return record

    def put(self, name: str, payload: Any, caller: Caller) -> tuple[PoolRecord, bool]:
        """Create or replace pool ``name``; returns it and whether it was created."""
        exists = not pool_name_problems(name) and self.store.get(name) is not None
        with self.audit.write(caller, "put_ip_pool", {"pool": name}, status=200 if exists else 201) as record:
            others = self.store.definitions()
            spec = parse_pool(name, payload, others)
            created = self.store.put(name, spec)
            record.detail = "created" if created else "replaced"
        return self.get(name), created

    def delete(self, name: str, caller: Caller) -> None:
        """Delete pool ``name`` (refused while it has allocations)."""
        with self.audit.write(caller, "delete_ip_pool", {"pool": name}, status=204):
            if pool_name_problems(name):
                raise NotFound(f"IP pool {name} does not exist")
            self.store.delete(name)

    # -- creates -------------------------------------------------------------------------------------------------

    def check_create(self, request: VmCreateRequest) -> tuple[VmCreateRequest, PoolChoice | None]:
        """The request with ``network``/``vlan_id`` defaulted from its pool, and the pool; refuses what cannot work.

        422 for an unknown pool or a network/VLAN that differs from the pool's. Whether an address is free is
        :meth:`ensure_free` (before a new job is made); the allocation is :meth:`allocate_for` (when it is made).
        """
        name = pool_name(request)
        if name is None:
            return request, None
        record = self.store.get(name) if not pool_name_problems(name) else None
        if record is None:
            raise RequestValidationError([Problem("guest.ipv4.pool", f"no IP pool named {name}", "unknown_pool")])
        spec = record.spec
        problems: list[Problem] = []
        if request.network is not None and request.network.lower() != spec.network.lower():
            problems.append(
                Problem("network", f"must be the pool's network {spec.network} (or omitted)", "pool_mismatch")
            )
        if request.vlan_id is not None and request.vlan_id != spec.vlan_id:
            wanted = f"the pool's VLAN {spec.vlan_id}" if spec.vlan_id is not None else "omitted (the pool is untagged)"
            problems.append(Problem("vlan_id", f"must be {wanted}", "pool_mismatch"))
        if problems:
            raise RequestValidationError(problems)
        resolved = request.model_copy(update={"network": spec.network, "vlan_id": spec.vlan_id})
        return resolved, PoolChoice(name, spec)

    def ensure_free(self, choice: PoolChoice) -> None:
        """``Conflict`` (409) when the pool has no address to hand out right now (after reclaiming stale ones)."""
        record = self.get(choice.name)
        in_use = self.addresses_in_use()
        if not self._has_free(record, in_use) and self.reclaim(record):
            record = self.get(choice.name)
        if not self._has_free(record, in_use):
            raise Conflict(
                f"IP pool {choice.name} has no free address ({record.usage.allocated} allocated of "
                f"{record.usage.total})",
                extra={"pool": choice.name},
            )

    @staticmethod
    def _has_free(record: PoolRecord, in_use: frozenset[str]) -> bool:
        taken = {a.address for a in record.allocations} | in_use
        return any(address not in taken for address in record.spec.candidates())

    def reclaim(self, record: PoolRecord) -> int:
        """Release allocations whose create job ended without a VM and without giving them back; how many.

        Such a job failed or was canceled before its compensation could release the address (its process ended
        between allocating and starting the workflow, or the release kept failing). An allocation that names a VM
        (a VM kept for diagnosis, a VM whose cleanup waits for its host) is never reclaimed.
        """
        if self.jobs is None:
            return 0
        released = 0
        for allocation in record.allocations:
            if allocation.vm_id is not None:
                continue
            job = self.jobs.get(allocation.job_id)
            if job is not None and job.final and job.status != JobStatus.SUCCEEDED:
                released += self.store.release(allocation.pool, allocation.address, allocation.job_id)
        return released

    def addresses_in_use(self) -> frozenset[str]:
        """Every IPv4 address the inventory reports on a VM (one inventory scan serves the creates of a few seconds).

        The pool's own allocations are exact (its table); this only keeps addresses configured outside the pools
        (reported by the hosts) from being handed out, so a scan a few seconds old is as good as a new one.
        """
        cached, now = self._in_use, time.monotonic()
        if cached is not None and now - cached[0] < IN_USE_SECONDS:
            return cached[1]
        found = frozenset(address for vm in self.inventory.iter_vms() for address in vm.ip_addresses if "." in address)
        self._in_use = (now, found)
        return found

    def allocate_for(
        self, request: VmCreateRequest, choice: PoolChoice, job_id: str
    ) -> tuple[VmCreateRequest, Allocation]:
        """Allocate the job's address (atomically; the one it holds on a repeat) and fill in the pool's values."""
        in_use = self.addresses_in_use()
        try:
            allocation, spec = self.store.allocate(
                choice.name, job_id=job_id, vm_name=request.name, host=request.host, skip=in_use
            )
        except Conflict:
            if not self.reclaim(self.get(choice.name)):
                raise
            allocation, spec = self.store.allocate(
                choice.name, job_id=job_id, vm_name=request.name, host=request.host, skip=in_use
            )
        ipv4 = Ipv4Config(
            address=allocation.address,
            prefix_length=spec.prefix_length,
            gateway=spec.gateway,
            dns_servers=list(spec.dns_servers),
            dns_suffix=spec.dns_suffix,
        )
        assert request.guest is not None  # a pool is named in guest.ipv4
        guest = request.guest.model_copy(update={"ipv4": ipv4})
        return request.model_copy(update={"guest": guest}), allocation

    def release(self, allocation: Allocation) -> None:
        """Give an allocation back (its job never started)."""
        self.store.release(allocation.pool, allocation.address, allocation.job_id)
