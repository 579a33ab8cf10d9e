"""The create workflow (version 3) judging the guest before it publishes, replayed with the real SDK.

The create hands each guest wait to a child orchestration (``create_vm_guest_wait``) and asks the publish step to
check the agent. The child (replayed on its own):

- uses a key only when the poll says it is this run's and the agent is known (a stale key keeps it polling);
- backs the poll interval off while nothing changes, and continues as new every few polls;
- completes an agent that never reports once the guest's integration services confirm the host name and address,
  with a warning — and otherwise ends at the deadline;
- fails on ``provisioningfailed``.

Instances of earlier versions still poll in the create itself, with a plain target.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from functions.workflows.create_vm import create_vm
from functions.workflows.guest_wait import MAX_BACKOFF, POLLS_PER_GENERATION, create_vm_guest_wait
from tests.support.replay import T0, Replay, Scheduled
from tests.unit.test_vm_request import LINUX
from tests.workflows.test_create_vm_faults import cleanup_result, v2
from tests.workflows.test_create_vm_replay import VM_ID, Fail, drive, happy_results, job_patches


def v3(payload: dict[str, Any], **timing: Any) -> dict[str, Any]:
    document = v2(payload, **timing)
    document["version"] = 3
    return document


def polls(*answers: dict[str, Any]) -> Any:
    """A guest-status answer per poll (the last one repeats); the payloads are kept in ``.seen``."""
    sequence: Iterator[dict[str, Any]] = iter(answers)
    last: dict[str, Any] = answers[-1]
    seen: list[dict[str, Any]] = []

    def answer(task: Scheduled) -> dict[str, Any]:
        nonlocal last
        seen.append(task.input)
        last = next(sequence, last)
        return {"error_summary": None, "public_key_present": True, **last}

    answer.seen = seen  # type: ignore[attr-defined]
    return answer


READY = {"state": "waitingforaeskey", "key": "echoed", "agent": "current", "agent_name": "aetherv-linux/2.5.0"}
APPLIED = {"state": "provisioningapplied", "key": "echoed"}


def waits(task: Scheduled) -> dict[str, Any]:
    """The child orchestration's output for each wait the create starts."""
    state = "waitingforaeskey" if task.input["step"] == "wait_for_key" else "provisioningapplied"
    return {"status": {"state": state, "public_key_present": True, "key": "echoed"}, "warning": None}


def v3_results(**overrides: Any) -> dict[str, Any]:
    results = happy_results()
    results["vm_start_and_announce"] = {"started": True, "version": "2.5.0", "pre_start_key": "ab" * 32}
    results["vm_publish_guest_data"] = {"items": 7, "agent": "aetherv-linux/2.5.0"}
    results["create_vm_guest_wait"] = waits
    results["vm_cleanup"] = cleanup_result()
    results["vm_record_cleanup_debt"] = {"since": "2026-11-01T12:05:00Z"}
    return results | overrides


# -- the create ---------------------------------------------------------------------------------------------------


def test_the_guest_waits_run_in_child_orchestrations_and_the_publish_checks_the_agent() -> None:
    replay = Replay(create_vm, v3(LINUX))
    calls = drive(replay, v3_results())
    assert not replay.state.get("error"), replay.state
    assert "vm_guest_status" not in calls  # the create itself never polls
    children = [t for t in replay.scheduled if t.kind == "suborchestration"]
    assert [(t.entity, t.input["step"], t.input["wanted"]) for t in children] == [
        ("job-1:wait_for_key", "wait_for_key", ["waitingforaeskey"]),
        ("job-1:wait_for_apply", "wait_for_apply", ["provisioningapplied"]),
    ]
    key_wait, apply_wait = (t.input for t in children)
    assert key_wait["check"]["version"] == "2.5.0" and key_wait["check"]["pre_start_key"] == "ab" * 32
    assert key_wait["check"]["hostname"] == "web01" and key_wait["published_at"] is None
    assert apply_wait["published_at"] is not None
    publish = next(t for t in replay.scheduled if t.name == "vm_publish_guest_data").input
    assert publish["check_agent"] is True and publish["version"] == "2.5.0"
    preflight = next(t for t in replay.scheduled if t.name == "vm_preflight").input
    assert preflight["guest"] is True
    assert replay.output["guest_agent"] == "aetherv-linux/2.5.0"


def test_a_refused_publish_fails_the_job_and_compensates() -> None:
    refusal = Fail("nothing was published — guest.admin_password: …", category="GuestAgentCannotApply")
    replay = Replay(create_vm, v3(LINUX))
    calls = drive(replay, v3_results(vm_publish_guest_data=refusal))
    assert "vm_signal_published" not in calls
    assert calls.count("vm_publish_guest_data") == 1  # a permanent refusal is not retried
    final = job_patches(replay)[-1]
    assert (final["status"], final["failed_step"]) == ("Failed", "publish")
    assert final["error"]["category"] == "GuestAgentCannotApply"
    assert final["cleanup"]["status"] == "Succeeded"


def test_a_wait_that_fails_in_the_child_fails_the_job_with_its_error_and_compensates() -> None:
    def waits_then_timeout(task: Scheduled) -> Any:
        if task.input["step"] == "wait_for_apply":
            return Fail("waited 1800 s for the guest to apply its data", category="GuestTimeout")
        return waits(task)

    replay = Replay(create_vm, v3(LINUX))
    drive(replay, v3_results(create_vm_guest_wait=waits_then_timeout))
    final = job_patches(replay)[-1]
    assert (final["status"], final["failed_step"]) == ("Failed", "wait_for_apply")
    assert final["error"]["category"] == "GuestTimeout"
    assert final["cleanup"]["status"] == "Succeeded"


def test_a_warning_from_the_wait_lands_on_the_job() -> None:
    def silent(task: Scheduled) -> Any:
        output = waits(task)
        if task.input["step"] == "wait_for_apply":
            output["warning"] = "the guest's agent does not report completion; …"
        return output

    replay = Replay(create_vm, v3(LINUX))
    drive(replay, v3_results(create_vm_guest_wait=silent))
    final = job_patches(replay)[-1]
    assert final["status"] == "Succeeded"
    assert any("does not report completion" in w for w in final["add_warnings"])


def test_a_cancel_during_a_wait_of_version_3_ends_it_at_once_and_compensates() -> None:
    replay = Replay(create_vm, v3(LINUX))
    drive(replay, v3_results(), until=lambda r: bool(r.pending("suborchestration")))
    replay.raise_event("cancel", {"by": "user-1"})
    calls = drive(replay, v3_results(create_vm_guest_wait=lambda _: {"status": {"state": None}}))
    final = job_patches(replay)[-1]
    assert final["status"] == "Canceled"
    assert final["failed_step"] == "wait_for_key"
    assert "vm_cleanup" in calls
    kinds = [(e["EventType"], e.get("Name")) for e in replay.history]
    cleanup = kinds.index((4, "vm_cleanup"))  # TaskScheduled
    assert (8, None) not in kinds[:cleanup]  # compensation began before the abandoned wait said anything


def test_version_2_instances_poll_in_the_create_with_the_plain_target() -> None:
    status = polls({"state": "waitingforaeskey"}, {"state": "provisioningapplied"})
    replay = Replay(create_vm, v2(LINUX))
    drive(replay, v3_results(vm_guest_status=status))
    assert not [t for t in replay.scheduled if t.kind == "suborchestration"]
    assert set(status.seen[0]) == {"job_id", "host", "vm_id"}
    publish = next(t for t in replay.scheduled if t.name == "vm_publish_guest_data").input
    assert "check_agent" not in publish
    preflight = next(t for t in replay.scheduled if t.name == "vm_preflight").input
    assert "guest" not in preflight


# -- the wait -----------------------------------------------------------------------------------------------------


def wait_input(step: str = "wait_for_key", **extra: Any) -> dict[str, Any]:
    check = {"job_id": "job-1", "host": "hv02", "vm_id": VM_ID, "os_family": "linux", "version": "2.5.0"}
    timing = {"key_timeout": 600, "apply_timeout": 1800, "poll_interval": 5, "retry_attempts": 3}
    timeout = timing["key_timeout" if step == "wait_for_key" else "apply_timeout"]
    document = {
        "step": step,
        "check": {**check, "pre_start_key": "ab" * 32, "hostname": "web01"},
        "wanted": ["waitingforaeskey" if step == "wait_for_key" else "provisioningapplied"],
        "what": "the guest's provisioning key",
        "deadline": (T0 + timedelta(seconds=timeout)).isoformat(),
        "timing": timing,
        "interval": 5,
        "published_at": None,
    }
    return document | extra


def run_wait(document: dict[str, Any], status: Any, *, generations: int = 50) -> tuple[Replay, list[Replay]]:
    """Run the wait, following ``continue_as_new`` generation by generation; the last replay and all of them."""
    replays: list[Replay] = []
    for _ in range(generations):
        replay = Replay(create_vm_guest_wait, document, instance_id="job-1:wait_for_key")
        if replays:
            replay.now = replays[-1].now
        drive(replay, {"vm_guest_status": status}, max_turns=4000)
        replays.append(replay)
        if replay.continued_with is None:
            return replay, replays
        document = replay.continued_with
    raise AssertionError("the wait did not end")


def test_a_stale_key_and_an_unknown_agent_keep_the_wait_polling() -> None:
    status = polls(
        {"state": None, "key": "absent"},
        {"state": "waitingforaeskey", "key": "stale"},
        {"state": "waitingforaeskey", "key": "new", "agent": "unknown"},
        {"state": "waitingforaeskey", "key": "new", "agent": "upstream"},
    )
    last, _ = run_wait(wait_input(), status)
    assert last.output["status"]["agent"] == "upstream"
    assert len(status.seen) == 4
    # "seen before" counts this run's key only: the stale one does not make the unknown agent an HLVMM one
    assert [p["state_seen_before"] for p in status.seen] == [False, False, False, True]


def test_a_poll_that_reads_no_state_keeps_the_last_one_seen() -> None:
    status = polls(
        {"state": "applying"},
        {"state": None},  # the agent rewrites its pool while it applies
        {"state": None},
        {"state": "provisioningapplied"},
    )
    document = wait_input("wait_for_apply", guest_state="waitingforaeskey", what="the guest to apply its data")
    last, _ = run_wait(document, status)
    assert last.output["status"]["state"] == "provisioningapplied"
    # what each poll is told it saw last: its log line says "applying → provisioningapplied", never "none → …"
    assert [p["last_state"] for p in status.seen] == ["waitingforaeskey", "applying", "applying", "applying"]
    assert last.custom_status["guest_state"] == "provisioningapplied"


def test_the_wait_backs_off_and_continues_as_new_so_no_history_grows_with_it() -> None:
    status = polls({"state": None, "key": "absent"})  # the guest never answers
    last, generations = run_wait(wait_input(), status)
    assert last.state.get("error") and "GuestTimeout" in last.state["error"]
    assert len(generations) > 1
    assert all(len(g.history) <= 200 for g in generations), [len(g.history) for g in generations]
    timers = [t for g in generations for t in g.scheduled if t.kind == "timer"]
    gaps = [(t.fire_at - g_now).total_seconds() for t, g_now in _timer_starts(generations)]
    assert max(gaps) <= 5 * MAX_BACKOFF and gaps[0] == 5 and gaps[1] == 7.5
    assert len(status.seen) < 600 / 5  # fewer polls than a fixed 5-second interval
    assert len(timers) == len(status.seen) - 1
    assert all(len(g.scheduled) <= 2 * POLLS_PER_GENERATION for g in generations)


def _timer_starts(generations: list[Replay]) -> list[tuple[Scheduled, Any]]:
    starts = []
    for replay in generations:
        for event in replay.history:
            if event["EventType"] == 10:  # TimerCreated: when it was created
                task = next(t for t in replay.scheduled if t.id == event["EventId"])
                starts.append((task, datetime.fromisoformat(event["Timestamp"].replace("Z", "+00:00"))))
    return starts


def test_a_silent_agent_confirmed_by_the_integration_services_completes_with_a_warning() -> None:
    silent = {"state": "waitingforaeskey", "key": "new", "agent": "upstream", "confirmed": False}
    status = polls(*([silent] * 6), {**silent, "confirmed": True})
    document = wait_input("wait_for_apply", published_at=T0.isoformat(), what="the guest to apply its data")
    last, _ = run_wait(document, status)
    assert "does not report completion" in last.output["warning"]
    assert last.now - T0 < timedelta(minutes=10)  # well before the 30-minute apply timeout


def test_a_silent_agent_without_confirmation_ends_at_the_deadline() -> None:
    silent = {"state": "waitingforaeskey", "key": "new", "agent": "upstream", "confirmed": False}
    document = wait_input("wait_for_apply", published_at=T0.isoformat(), what="the guest to apply its data")
    last, _ = run_wait(document, polls(silent))
    assert "GuestTimeout" in last.state["error"] and "waited 1800 s" in last.state["error"]


def test_a_failed_guest_fails_the_wait_with_its_summary() -> None:
    failed = {"state": "provisioningfailed", "error_summary": "error applying:mod_net"}
    last, _ = run_wait(wait_input("wait_for_apply"), polls({"state": "applying"}, failed))
    assert "GuestProvisioningFailed" in last.state["error"] and "mod_net" in last.state["error"]
