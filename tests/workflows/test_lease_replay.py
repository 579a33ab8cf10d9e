"""The lease orchestration replayed with the real Durable SDK: warning, expiry, a lease changed or cleared while
its timer waits, a VM that is gone, and waits bounded by the check interval (each wait ends in continue_as_new)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from functions.models.leases import format_moment
from functions.provisioning.leases import LEASE_CHANGED, LeaseInput
from functions.workflows.lease import vm_lease
from tests.support.replay import T0, Fail, Replay, drive

VM_ID = "5f0c3d6e-1111-2222-3333-444455556666"
SPEC = LeaseInput(VM_ID, warning_seconds=30, check_seconds=3600).to_json()


@dataclass
class Lease:
    """The lease as the activities would find it in the table (the test changes it between generations)."""

    expires: datetime | None
    version: int = 1
    warned: bool = False
    vm_exists: bool = True
    calls: list[str] = field(default_factory=list)
    delete_jobs: list[int] = field(default_factory=list)

    def check(self) -> dict[str, Any]:
        self.calls.append("lease_check")
        if self.expires is None or not self.vm_exists:
            return {"active": False}
        return {
            "active": True,
            "version": self.version,
            "expires_at": format_moment(self.expires),
            "warn_at": format_moment(self.expires - timedelta(seconds=30)),
            "warned": self.warned,
            "delete_job_id": None,
        }


def generation(lease: Lease, now: datetime, spec: Any = SPEC) -> Replay:
    """One execution of the orchestration, run until it waits (or ends); activities answered from ``lease``."""
    replay = Replay(vm_lease, spec, instance_id=f"lease-{VM_ID}", now=now)
    replay.run()
    while replay.pending("activity"):
        task = replay.activity()
        if task.name != "lease_check":
            lease.calls.append(str(task.name))
        if task.name == "lease_check":
            replay.complete(task, lease.check(), after=0)
        elif task.name == "lease_warn":
            assert task.input == {"vm_id": VM_ID, "version": lease.version}
            lease.warned = True
            replay.complete(task, True, after=0)
        elif task.name == "lease_expire":
            assert task.input == {"vm_id": VM_ID, "version": lease.version}
            lease.delete_jobs.append(lease.version)
            replay.complete(task, f"delete-vm-{VM_ID}-1", after=0)
        else:
            raise AssertionError(task.name)
    return replay


def timer_at(replay: Replay) -> datetime:
    (timer,) = replay.pending("timer")
    assert timer.fire_at is not None
    return timer.fire_at


def test_it_warns_at_the_warning_time_then_deletes_at_expiry_and_ends_when_the_vm_is_gone() -> None:
    lease = Lease(expires=T0 + timedelta(seconds=100))
    first = generation(lease, T0)
    assert lease.calls == ["lease_check"]
    assert timer_at(first) == T0 + timedelta(seconds=70)  # the warning time
    first.fire()
    assert first.done and first.continued_with == SPEC

    second = generation(lease, T0 + timedelta(seconds=70))
    assert lease.calls[-2:] == ["lease_check", "lease_warn"] and lease.warned
    assert timer_at(second) == T0 + timedelta(seconds=100)  # the expiry
    second.fire()
    assert second.continued_with == SPEC

    third = generation(lease, T0 + timedelta(seconds=100))
    assert lease.calls[-2:] == ["lease_check", "lease_expire"] and lease.delete_jobs == [1]
    assert timer_at(third) == T0 + timedelta(seconds=100 + 3600)  # look again after the check interval
    third.fire()

    lease.vm_exists = False  # the delete job removed it
    fourth = generation(lease, T0 + timedelta(seconds=3700))
    assert fourth.done and fourth.continued_with is None
    assert fourth.output == {"vm_id": VM_ID, "outcome": "ended"}
    assert lease.delete_jobs == [1]


def test_a_vm_still_there_after_its_delete_gets_another_delete_job() -> None:
    lease = Lease(expires=T0, warned=True)
    generation(lease, T0 + timedelta(seconds=1)).fire()
    generation(lease, T0 + timedelta(seconds=3601))
    assert lease.delete_jobs == [1, 1]


def test_a_lease_extended_while_the_timer_waits_does_not_delete_at_the_old_time() -> None:
    lease = Lease(expires=T0 + timedelta(seconds=100), warned=True)
    first = generation(lease, T0 + timedelta(seconds=80))
    assert timer_at(first) == T0 + timedelta(seconds=100)
    lease.expires, lease.version, lease.warned = T0 + timedelta(hours=5), 2, False  # PUT …/lease
    first.raise_event(LEASE_CHANGED)
    assert first.done and first.continued_with == SPEC
    assert all(t.canceled or t.done for t in first.scheduled if t.kind == "timer")

    second = generation(lease, T0 + timedelta(seconds=81))
    assert "lease_expire" not in lease.calls and "lease_warn" not in lease.calls
    assert timer_at(second) == T0 + timedelta(seconds=81 + 3600)  # at most the check interval, then a re-read


def test_a_lease_extended_without_the_event_is_read_again_when_the_timer_fires() -> None:
    lease = Lease(expires=T0 + timedelta(seconds=100), warned=True)
    first = generation(lease, T0 + timedelta(seconds=80))
    lease.expires, lease.version, lease.warned = T0 + timedelta(seconds=500), 2, False  # the event was lost
    first.fire()
    second = generation(lease, T0 + timedelta(seconds=100))
    assert "lease_expire" not in lease.calls
    assert timer_at(second) == T0 + timedelta(seconds=470)  # the new warning time


def test_a_cleared_lease_ends_the_orchestration_without_a_delete() -> None:
    lease = Lease(expires=T0 + timedelta(seconds=100))
    first = generation(lease, T0)
    lease.expires = None  # {"expires_at": null}
    first.raise_event(LEASE_CHANGED)
    second = generation(lease, T0 + timedelta(seconds=1))
    assert second.done and second.output == {"vm_id": VM_ID, "outcome": "ended"}
    assert lease.calls == ["lease_check", "lease_check"]


def test_a_vm_already_gone_ends_it_at_once() -> None:
    lease = Lease(expires=T0 + timedelta(seconds=100), vm_exists=False)
    replay = generation(lease, T0)
    assert replay.done and replay.output == {"vm_id": VM_ID, "outcome": "ended"}
    assert not replay.pending("timer") and lease.calls == ["lease_check"]


def test_a_long_lease_waits_at_most_the_check_interval_per_execution() -> None:
    lease = Lease(expires=T0 + timedelta(days=30))
    replay = generation(lease, T0)
    assert timer_at(replay) == T0 + timedelta(seconds=3600)
    replay.fire()
    assert replay.continued_with == SPEC and len(replay.history) < 20


def test_a_step_that_keeps_failing_waits_the_check_interval_and_tries_again() -> None:
    lease = Lease(expires=T0, warned=True)
    replay = Replay(vm_lease, SPEC, instance_id=f"lease-{VM_ID}", now=T0 + timedelta(seconds=1))
    calls = drive(
        replay, {"lease_check": lease.check(), "lease_expire": Fail("the table is down", "StorageUnavailable")}
    )
    assert calls.count("lease_expire") == 5  # every attempt of its retry policy
    assert replay.state.get("error") is None and replay.continued_with == SPEC
