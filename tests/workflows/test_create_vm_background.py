"""The create workflow (version 4) replayed with the real SDK: the OS disk is prepared in the background on the host.

One activity starts the copy on the host and returns; the orchestration polls its status between growing durable
timers (no activity waits for it), keeps the clone slot for the whole copy (renewing it), retries a copy the host
reports as failed transiently under a new operation id, stops the copy on a cancel or past its deadline, and
compensates as before. Instances of earlier versions keep their one ``vm_prepare_disk`` activity.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from functions.provisioning.payloads import HostOperation
from functions.workflows.create_vm import create_vm
from functions.workflows.host_operations import MAX_WAIT, next_wait
from tests.support.replay import TIMER_CREATED, Replay, Scheduled
from tests.unit.test_vm_request import LINUX
from tests.workflows.test_create_vm_guest_checks import v3, v3_results
from tests.workflows.test_create_vm_replay import Fail, drive, happy_results, job_patches, work

FOLDER = "C:\\ClusterStorage\\Volume1\\Hyper-V\\web01"
TOTAL = 3_328_599_654
DISK = happy_results()["vm_prepare_disk"]


def v4(payload: dict[str, Any] = LINUX, **timing: Any) -> dict[str, Any]:
    """A version-4 input: version 3's guest checks, and the disk prepared in the background."""
    document = v3(payload, **{"host_poll_interval": 10, "disk_timeout": 3600, **timing})
    document["version"] = 4
    return document


def operation(state: str = "running", percent: float = 0.0, attempt: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"job-1.prepare_disk.{attempt}",
        "kind": "prepare_disk",
        "job_id": "job-1",
        "folder": FOLDER,
        "state": state,
        "bytes_done": int(TOTAL * percent / 100),
        "bytes_total": TOTAL,
        "percent": percent,
        "started": "2026-11-01T12:00:05Z",
        "updated": "2026-11-01T12:00:05Z",
        "result": {**DISK, "created": True} if state == "succeeded" else None,
        "error": None,
        **extra,
    }


def background(*statuses: dict[str, Any], start: dict[str, Any] | None = None) -> dict[str, Any]:
    """Version 3's happy results, the host operation answering ``start`` then ``statuses`` (the last repeats)."""
    results = v3_results()
    answers = list(statuses)

    def status(_: Scheduled) -> dict[str, Any]:
        return answers.pop(0) if len(answers) > 1 else answers[0]

    results["host_operation_start"] = start or operation()
    results["host_operation_status"] = status
    results["host_operation_stop"] = {"id": "job-1.prepare_disk.1", "state": "canceled", "stopped": True}
    return results


def activities(replay: Replay, name: str) -> list[Scheduled]:
    return [task for task in replay.scheduled if task.name == name]


def waits(replay: Replay, after: Scheduled, before: Scheduled) -> list[float]:
    """Seconds each durable timer created between two tasks was set for (fire time minus creation time)."""
    created = {e["EventId"]: e["Timestamp"] for e in replay.history if e["EventType"] == TIMER_CREATED}
    found = []
    for timer in replay.scheduled:
        if timer.kind == "timer" and after.id < timer.id < before.id and timer.fire_at is not None:
            made = datetime.fromisoformat(created[timer.id].replace("Z", "+00:00"))
            found.append(round((timer.fire_at - made).total_seconds(), 3))
    return found


def test_the_disk_is_copied_in_the_background_and_polled_with_growing_timers() -> None:
    replay = Replay(create_vm, v4())
    results = background(operation(percent=0), operation(percent=0), operation("succeeded", 100))
    calls = work(drive(replay, results))
    assert replay.state.get("error") is None
    assert calls[:7] == [
        "vm_place",
        "vm_preflight",
        "host_operation_start",
        "host_operation_status",
        "host_operation_status",
        "host_operation_status",
        "vm_create",
    ]
    assert "vm_prepare_disk" not in calls
    start = activities(replay, "host_operation_start")[0].input
    assert (start["operation_id"], start["kind"], start["request"]["name"]) == (
        "job-1.prepare_disk.1",
        "prepare_disk",
        "web01",
    )
    assert start["time_limit_seconds"] == 3600 + 600  # the host ends it itself shortly after the deadline
    polls = activities(replay, "host_operation_status")
    assert {(p.input["operation_id"], p.input["folder"]) for p in polls} == {("job-1.prepare_disk.1", FOLDER)}
    assert activities(replay, "vm_create")[0].input["disk"] == DISK
    # no progress to go by: each wait half as long again
    assert waits(replay, activities(replay, "host_operation_start")[0], polls[-1]) == [10, 15, 22.5]


def test_the_waits_follow_the_copys_progress() -> None:
    """Half the time the copy still needs at its speed so far: long waits while much is left, short ones at the end."""
    replay = Replay(create_vm, v4(disk_timeout=36000))
    statuses = [operation(percent=p) for p in (0.5, 10, 50, 90)] + [operation("succeeded", 100)]
    drive(replay, background(*statuses))
    start, last = activities(replay, "host_operation_start")[0], activities(replay, "host_operation_status")[-1]
    timers = waits(replay, start, last)
    # 0.5 % after 11 s, 10 % after 612 s, 50 % after 1213 s: half an hour and more to go, so ten minutes at most
    assert timers[:4] == [10, MAX_WAIT, MAX_WAIT, MAX_WAIT]
    assert 90 < timers[4] < 110  # 90 % after 1814 s: about 200 s to go, checked in half of it


@pytest.mark.parametrize(
    ("done", "elapsed", "expected"),
    [
        (0, 30, 15.0),  # nothing to go by: half as long again
        (50, 100, 50.0),  # half done in 100 s: 100 s to go, wait half of it
        (99, 100, 10.0),  # 1 s to go: never below the first wait
        (1, 100, MAX_WAIT),  # hours to go: at most ten minutes
        (100, 100, 15.0),  # all copied (finishing): half as long again
    ],
)
def test_next_wait(done: int, elapsed: float, expected: float) -> None:
    model = HostOperation.model_validate(operation(percent=done) | {"bytes_done": done, "bytes_total": 100})
    assert next_wait(10, 10, model, elapsed) == expected


def test_the_job_names_the_host_operation_and_shows_its_progress() -> None:
    replay = Replay(create_vm, v4())
    seen: list[float] = []

    def watch(r: Replay) -> bool:
        steps = (r.custom_status or {}).get("steps") or []
        disk = next((s for s in steps if s["name"] == "prepare_disk"), None)
        if disk and "operation" in disk and (not seen or seen[-1] != disk["operation"]["percent"]):
            seen.append(disk["operation"]["percent"])
        return False

    drive(replay, background(operation(percent=30), operation("succeeded", 100)), until=watch)
    assert seen == [0.0, 30.0, 100.0]
    recorded = [p for p in job_patches(replay) if "status" not in p and "steps" in p]
    assert recorded, "the job record learns the operation as soon as it started"
    step = next(s for s in recorded[0]["steps"] if s["name"] == "prepare_disk")
    assert step["operation"]["id"] == "job-1.prepare_disk.1"
    final = next(s for s in job_patches(replay)[-1]["steps"] if s["name"] == "prepare_disk")
    assert (final["status"], final["operation"]["state"]) == ("Succeeded", "succeeded")


def test_nothing_to_copy_needs_no_poll() -> None:
    blank = {"name": "scratch01", "host": "hv01", "cpu_cores": 1, "memory_gb": 2, "disk_gb": 40, "os_family": "linux"}
    replay = Replay(create_vm, v4(blank))
    calls = work(drive(replay, background(start=operation("succeeded", 100))))
    assert calls[:3] == ["vm_preflight", "host_operation_start", "vm_create"]


def test_the_clone_slot_is_held_for_the_whole_copy_and_renewed() -> None:
    replay = Replay(create_vm, v4(host_poll_interval=600, disk_timeout=20000))  # waits 600, 900, 1350, 2025, 3037.5 s
    statuses = [operation(percent=0)] * 4 + [operation("succeeded", 100)]  # no progress: the waits grow
    calls = drive(replay, background(*statuses))
    entity = [c for c in calls if c.startswith("entity:")]
    start, release = calls.index("host_operation_start"), calls.index("entity:release")
    during = [c for c in calls[start:release] if c.startswith("entity:")]
    assert entity[0] == "entity:acquire" and entity[-1] == "entity:release"
    assert during == ["entity:acquire"] * 3  # renewed every half hour or more while the copy runs, never released
    assert release > len(calls) - 1 - calls[::-1].index("host_operation_status")  # released after the last poll
    assert release < calls.index("vm_create")
    renewals = [t for t in replay.scheduled if t.kind == "entity" and t.name == "acquire"][1:]
    assert all(r.input["owner"] == "job-1" for r in renewals)


def test_a_copy_the_host_reports_failed_transiently_is_tried_again_under_a_new_id() -> None:
    replay = Replay(create_vm, v4())
    attempts: list[str] = []

    def start(task: Scheduled) -> dict[str, Any]:
        attempts.append(task.input["operation_id"])
        return operation(attempt=len(attempts))

    statuses = iter(
        [
            operation("failed", 40, error={"category": "HostOperationFailed", "message": "I/O error"}),
            operation("succeeded", 100, attempt=2),
        ]
    )
    results = background()
    results["host_operation_start"] = start
    results["host_operation_status"] = lambda _: next(statuses)
    drive(replay, results)
    assert replay.state.get("error") is None
    assert attempts == ["job-1.prepare_disk.1", "job-1.prepare_disk.2"]


def test_a_permanent_copy_failure_fails_the_step_and_compensates() -> None:
    replay = Replay(create_vm, v4())
    full = operation("failed", 12, error={"category": "InsufficientResources", "message": "There is not enough space"})
    calls = drive(replay, background(full))
    assert calls.count("host_operation_start") == 1
    assert work(calls)[-2:] == ["vm_cleanup", "vm_refresh_and_describe"]
    assert calls.index("entity:release") < calls.index("vm_cleanup")
    final = job_patches(replay)[-1]
    assert final["error"]["category"] == "InsufficientResources"
    assert "job-1.prepare_disk.1" in final["error"]["message"]
    assert final["failed_step"] == "prepare_disk"


def test_transient_failures_use_up_the_attempts() -> None:
    replay = Replay(create_vm, v4())
    lost = {"category": "HostOperationFailed", "message": "the worker ended without a result"}
    results = background(operation("failed", 3, error=lost))
    results["host_operation_start"] = lambda task: operation(attempt=int(task.input["operation_id"][-1]))
    calls = work(drive(replay, results))
    assert calls.count("host_operation_start") == 3  # TIMING retry_attempts
    final = job_patches(replay)[-1]
    assert (final["error"]["category"], final["error"]["transient"]) == ("HostOperationFailed", True)
    assert final["cleanup"]["status"] == "Succeeded"


def test_a_status_check_that_fails_transiently_does_not_stop_the_wait() -> None:
    replay = Replay(create_vm, v4(retry_attempts=2))
    answers = iter(
        [
            Fail("refused", category="HostUnreachable", transient=True),
            Fail("refused", category="HostUnreachable", transient=True),
            Fail("refused", category="HostUnreachable", transient=True),
            operation("succeeded", 100),
        ]
    )
    results = background()
    results["host_operation_status"] = lambda _: next(answers)
    drive(replay, results)
    assert replay.state.get("error") is None
    assert len(activities(replay, "host_operation_status")) == 4


def test_past_the_deadline_the_copy_is_stopped_and_the_job_fails() -> None:
    replay = Replay(create_vm, v4(disk_timeout=60))
    calls = work(drive(replay, background(operation(percent=0))))
    assert calls.index("host_operation_stop") < calls.index("vm_cleanup")
    stop = activities(replay, "host_operation_stop")[0].input
    assert (stop["operation_id"], stop["folder"]) == ("job-1.prepare_disk.1", FOLDER)
    final = job_patches(replay)[-1]
    assert final["error"]["category"] == "HostOperationTimeout"
    assert "within 60 s (0 % done)" in final["error"]["message"]
    start, stopped = activities(replay, "host_operation_start")[0], activities(replay, "host_operation_stop")[0]
    timers = waits(replay, start, stopped)
    assert timers[:3] == [10, 15, 22.5]
    assert len(timers) == 4 and timers[3] < 22.5 * 1.5  # the last wait ends at the deadline


def test_a_cancel_while_copying_stops_the_copy_then_compensates() -> None:
    replay = Replay(create_vm, v4())
    results = background(operation(percent=20))
    drive(replay, results, until=lambda r: len(activities(r, "host_operation_status")) >= 2)
    replay.raise_event("cancel", {"by": "alice"})
    calls = drive(replay, results)
    # the status check in flight is waited for (never abandoned), then the copy is stopped
    assert work(calls) == ["host_operation_status", "host_operation_stop", "vm_cleanup", "vm_refresh_and_describe"]
    assert calls.index("entity:release") < calls.index("vm_cleanup")
    final = job_patches(replay)[-1]
    assert (final["status"], final["failed_step"]) == ("Canceled", "prepare_disk")


def test_a_repeated_start_asks_for_the_same_operation() -> None:
    replay = Replay(create_vm, v4())
    answers = iter([Fail("reply lost", category="OperationTimeout", transient=True), operation("succeeded", 100)])
    results = background()
    results["host_operation_start"] = lambda _: next(answers)
    drive(replay, results)
    assert replay.state.get("error") is None
    assert [t.input["operation_id"] for t in activities(replay, "host_operation_start")] == ["job-1.prepare_disk.1"] * 2


def test_instances_of_earlier_versions_prepare_the_disk_in_one_activity() -> None:
    for version in (1, 2, 3):
        document = v4()
        document["version"] = version
        replay = Replay(create_vm, document)
        calls = work(drive(replay, background()))
        assert "vm_prepare_disk" in calls
        assert not [c for c in calls if c.startswith("host_operation")]
