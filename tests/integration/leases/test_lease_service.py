"""The lease service against Azurite: who may change a lease, its bounds, the copy on the VM row that the listing
shows and filters, the warning and the delete at expiry (each safe to run twice), and a VM that is gone.

The workflow engine is played by :class:`Engine` (the Durable client's seam, as in the submission tests).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from azure.data.tables import TableServiceClient

from functions.audit.log import AuditLog
from functions.auth import Permission
from functions.auth.principal import IdentityType, Principal
from functions.errors import Forbidden, InvalidRequest
from functions.inventory.keys import encode_key
from functions.inventory.repository import InventoryRepository
from functions.jobs.records import JobStore
from functions.jobs.submission import JobSubmitter, WorkflowStatus
from functions.leases.store import LeaseStore
from functions.models.jobs import JobTarget
from functions.models.leases import LeaseRequest, format_moment
from functions.provisioning.contracts import Orchestration
from functions.provisioning.leases import LeaseStep
from functions.provisioning.workflow_data import Timing
from functions.services.audit import AuditTrail, Caller
from functions.services.leases import LeaseService, LeaseTiming, lease_instance
from functions.services.vms import VmFilters, VmService
from functions.settings import Secret
from tools.azurite import Azurite

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
VM_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "lease-web01"))


def person(object_id: str, permission: Permission) -> Caller:
    return Caller(
        Principal(
            object_id=object_id,
            display_name=object_id.title(),
            identity_type=IdentityType.USER,
            tenant_id="t",
            app_id="app",
            username=f"{object_id}@example.com",
            roles=(),
            permission=permission,
        )
    )


ALICE = person("alice", Permission.OPERATOR)
BOB = person("bob", Permission.OPERATOR)
ADMIN = person("root", Permission.ADMIN)


@dataclass
class Engine:
    started: list[tuple[str, str, Any]] = field(default_factory=list)
    events: list[tuple[str, str]] = field(default_factory=list)
    statuses: dict[str, WorkflowStatus] = field(default_factory=dict)

    def start(self, orchestration: Orchestration[Any], instance_id: str, payload: Any) -> None:
        self.started.append((orchestration.name, instance_id, payload))
        self.statuses[instance_id] = WorkflowStatus("Running")

    def status(self, instance_id: str) -> WorkflowStatus | None:
        return self.statuses.get(instance_id)

    def raise_event(self, instance_id: str, name: str, data: Any) -> None:
        self.events.append((instance_id, name))


@dataclass
class World:
    service: LeaseService
    repo: InventoryRepository
    jobs: JobStore
    audit: AuditLog
    engine: Engine
    clock: dict[str, datetime]
    tables: TableServiceClient
    prefix: str

    def vm_row(self) -> dict[str, Any]:
        return dict(self.tables.get_table_client(f"{self.prefix}Vms").get_entity(encode_key("hv01"), VM_ID))

    def actions(self) -> list[tuple[str, str]]:
        return [(r.action, str(r.who.get("object_id"))) for r in reversed(self.audit.list(page_size=100).items)]


def snapshot(repo: InventoryRepository, at: datetime, *, cpu: int = 2, vms: bool = True) -> None:
    found = [{"id": VM_ID, "name": "web01", "state": "Running", "cpu_cores": cpu, "memory_gb": 4.0}] if vms else []
    repo.apply_snapshot("hv01", {"cluster": None}, found, at)


@pytest.fixture
def world(azurite: Azurite) -> World:
    prefix = "l" + uuid.uuid4().hex[:10]
    clock = {"now": T0}
    tables = TableServiceClient.from_connection_string(azurite.connection_string)
    repo = InventoryRepository(tables, prefix)
    repo.ensure_tables()
    snapshot(repo, T0 - timedelta(minutes=5))
    jobs = JobStore(tables, prefix, clock=lambda: clock["now"])
    submitter = JobSubmitter(jobs, b"k" * 32, clock=lambda: clock["now"])
    audit = AuditLog(tables, prefix, clock=lambda: clock["now"])
    trail = AuditTrail(audit)
    vms = VmService(repo, cast(Any, None), submitter, trail, timing=Timing(), seal_key=Secret("x"))
    service = LeaseService(
        LeaseStore(tables, prefix),
        repo,
        jobs,
        vms,
        trail,
        timing=LeaseTiming(max_hours=100, warning_seconds=3600, check_seconds=600),
        clock=lambda: clock["now"],
    )
    created = jobs.new_job(
        id="create-vm-web01-1",
        kind="create_vm",
        target=JobTarget(host="hv01", name="web01", vm_id=VM_ID),
        requested_by=ALICE.requester,
    )
    jobs.create(created)
    return World(service, repo, jobs, audit, Engine(), clock, tables, prefix)


def at(hours: float) -> LeaseRequest:
    return LeaseRequest(expires_at=T0 + timedelta(hours=hours))


def test_the_requester_sets_a_lease_the_row_shows_it_and_its_workflow_starts(world: World) -> None:
    lease = world.service.set(world.engine, VM_ID, at(48), ALICE)
    assert lease is not None and lease.expires_at == "2026-11-03T12:00:00Z"
    assert lease.requested_by["id"] == "alice" and lease.version == 1
    assert world.engine.started == [("vm_lease", lease_instance(VM_ID), world.service.workflow_input(VM_ID))]
    row = world.vm_row()
    assert row["lease_expires_at"] == "2026-11-03T12:00:00Z"
    vm = world.repo.get_vm(VM_ID)
    assert vm is not None and vm.details["lease"]["expires_at"] == "2026-11-03T12:00:00Z"
    assert ("set_lease", "alice") in world.actions()


def test_another_operator_is_refused_and_an_admin_may_change_any_lease(world: World) -> None:
    with pytest.raises(Forbidden):
        world.service.set(world.engine, VM_ID, at(10), BOB)
    assert world.service.store.get(VM_ID) is None
    lease = world.service.set(world.engine, VM_ID, LeaseRequest(hours=5), ADMIN)
    assert lease is not None and lease.requested_by["id"] == "alice" and lease.set_by["id"] == "root"
    assert any(action == "set_lease" for action, _ in world.actions())


def test_an_expiry_in_the_past_or_beyond_the_bound_is_refused_naming_the_field(world: World) -> None:
    with pytest.raises(InvalidRequest) as past:
        world.service.set(world.engine, VM_ID, at(-1), ALICE)
    assert [p.field for p in past.value.problems] == ["expires_at"]
    with pytest.raises(InvalidRequest) as far:
        world.service.set(world.engine, VM_ID, LeaseRequest(hours=101), ALICE)
    assert [p.field for p in far.value.problems] == ["hours"]
    with pytest.raises(InvalidRequest) as later:
        world.service.set(world.engine, VM_ID, at(101), ALICE)
    assert "AETHERV_LEASE_MAX_HOURS" in later.value.problems[0].message


def test_extending_raises_the_version_and_tells_the_waiting_workflow_clearing_removes_the_copy(world: World) -> None:
    world.service.set(world.engine, VM_ID, at(10), ALICE)
    lease = world.service.set(world.engine, VM_ID, at(20), ALICE)
    assert lease is not None and lease.version == 2
    assert world.engine.events == [(lease_instance(VM_ID), "lease_changed")]
    assert world.service.set(world.engine, VM_ID, LeaseRequest(expires_at=None), ALICE) is None
    assert world.service.store.get(VM_ID) is None
    assert "lease_expires_at" not in world.vm_row() and "lease_json" not in world.vm_row()
    assert world.engine.events[-1] == (lease_instance(VM_ID), "lease_changed")


def test_the_listing_filters_vms_whose_lease_expires_soon(world: World) -> None:
    filters = VmFilters(expiring_within_hours=24)
    world.clock["now"] = datetime.now(UTC)  # the filter counts from the real now
    world.service.set(world.engine, VM_ID, LeaseRequest(hours=48), ALICE)
    assert world.service.vms.list(filters, page_size=50, continuation=None).items == []
    world.service.set(world.engine, VM_ID, LeaseRequest(hours=2), ALICE)
    found = world.service.vms.list(filters, page_size=50, continuation=None).items
    assert [vm.id for vm in found] == [VM_ID] and found[0].details["lease"]["version"] == 2


def test_a_sync_that_rewrites_the_row_keeps_the_lease_copy(world: World) -> None:
    world.service.set(world.engine, VM_ID, at(10), ALICE)
    snapshot(world.repo, T0, cpu=4)  # the VM changed: its row is replaced
    row = world.vm_row()
    assert row["cpu_cores"] == 4 and row["lease_expires_at"] == "2026-11-01T22:00:00Z"


def test_the_warning_is_recorded_once_and_only_for_the_version_read(world: World) -> None:
    lease = world.service.set(world.engine, VM_ID, at(10), ALICE)
    assert lease is not None
    assert world.service.warn(LeaseStep(VM_ID, version=7)) is False
    world.clock["now"] = T0 + timedelta(hours=9)
    assert world.service.warn(LeaseStep(VM_ID, lease.version)) is True
    assert world.service.warn(LeaseStep(VM_ID, lease.version)) is False  # the activity ran twice
    stored = world.service.store.get(VM_ID)
    assert stored is not None and stored.warned_at == format_moment(T0 + timedelta(hours=9))
    assert [a for a in world.actions() if a[0] == "lease_warning"] == [("lease_warning", "system:lease")]
    check = world.service.check(LeaseStep(VM_ID))
    assert check.active and check.warned and check.warn_at == "2026-11-01T21:00:00Z"


def test_at_expiry_one_delete_job_runs_as_system_lease_even_when_the_activity_runs_twice(world: World) -> None:
    lease = world.service.set(world.engine, VM_ID, at(1), ALICE)
    assert lease is not None
    world.clock["now"] = T0 + timedelta(hours=1)
    assert world.service.expire(world.engine, LeaseStep(VM_ID, version=lease.version + 1)) is None
    first = world.service.expire(world.engine, LeaseStep(VM_ID, lease.version))
    second = world.service.expire(world.engine, LeaseStep(VM_ID, lease.version))
    assert first is not None and first == second
    job = world.jobs.get(first)
    assert job is not None and job.kind == "delete_vm" and job.requested_by.id == "system:lease"
    assert [name for name, *_ in world.engine.started].count("delete_vm") == 1
    stored = world.service.store.get(VM_ID)
    assert stored is not None and stored.delete_job_id == first and stored.delete_attempts == 1
    assert ("delete_vm", "system:lease") in world.actions() and ("lease_expired", "system:lease") in world.actions()


def test_a_vm_gone_from_the_inventory_ends_its_lease_without_error(world: World) -> None:
    world.service.set(world.engine, VM_ID, at(10), ALICE)
    snapshot(world.repo, T0, vms=False)  # deleted by hand on the host
    assert world.service.check(LeaseStep(VM_ID)).active is False
    assert world.service.store.get(VM_ID) is None
    assert ("lease_ended", "system:lease") in world.actions()
    assert world.service.expire(world.engine, LeaseStep(VM_ID, 1)) is None
