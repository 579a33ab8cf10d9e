"""Version 5 of the create: a canceled guest wait is let end before the compensation touches the VM.

The child orchestration that polls the guest gets the cancel too, but a poll it already scheduled may still run; from
version 5 the create waits for the child to end (at most ``CANCEL_GRACE``) before it removes anything, so no poll
reads a VM the compensation is deleting. Version 3 and 4 instances keep compensating at once (their history says so;
see ``test_create_vm_guest_checks``).
"""

from __future__ import annotations

from datetime import timedelta

from functions.provisioning.workflow_data import CREATE_VERSION
from functions.workflows.create_vm import create_vm
from functions.workflows.guest_wait import CANCEL_GRACE
from tests.support.replay import Replay
from tests.workflows.test_create_vm_background import background, operation, v4
from tests.workflows.test_create_vm_replay import Fail, drive, job_patches

RESULTS = background(operation("succeeded", 100.0))


def _canceled_in_the_key_wait(version: int) -> Replay:
    replay = Replay(create_vm, v4() | {"version": version})
    drive(replay, RESULTS, until=lambda r: bool(r.pending("suborchestration")))
    replay.raise_event("cancel", {"by": "user-1"})
    return replay


def test_a_canceled_wait_is_let_end_before_anything_is_compensated() -> None:
    replay = _canceled_in_the_key_wait(CREATE_VERSION)
    (child,) = replay.pending("suborchestration")
    (grace,) = replay.pending("timer")
    assert grace.fire_at == replay.now + timedelta(seconds=CANCEL_GRACE)
    assert not replay.pending("activity")  # nothing compensated while the child may still poll the VM
    replay.fail(child, Fail("the job was canceled", category="Canceled").text())  # the child took its cancel
    assert grace.canceled
    calls = drive(replay, RESULTS)
    assert calls[0] == "vm_cleanup", calls  # the compensation begins once the child has ended
    final = job_patches(replay)[-1]
    assert (final["status"], final["failed_step"]) == ("Canceled", "wait_for_key")
    assert final["cleanup"]["status"] == "Succeeded"


def test_a_child_that_does_not_end_delays_the_compensation_by_the_grace_only() -> None:
    replay = _canceled_in_the_key_wait(CREATE_VERSION)
    canceled_at = replay.now
    replay.fire()  # the grace passes; the child never answered
    assert replay.now == canceled_at + timedelta(seconds=CANCEL_GRACE)
    assert replay.pending("suborchestration") and replay.pending("activity")  # compensating without it
    calls = drive(replay, RESULTS | {"create_vm_guest_wait": lambda _: {"status": {"state": None}}})
    assert "vm_cleanup" in calls
    assert job_patches(replay)[-1]["status"] == "Canceled"


def test_version_4_instances_still_compensate_at_once() -> None:
    replay = _canceled_in_the_key_wait(4)
    assert not replay.pending("timer")
    assert [task.name for task in replay.pending("activity")]  # the compensation's first step, the child still on
    assert replay.pending("suborchestration")
