"""History events per create at the default timings, replayed with the real Durable SDK in simulated time.

Azure Storage replays an orchestration's whole history at every episode, so history growth is replay cost. From
version 3 the create hands each guest wait to a child orchestration that backs its polls off and continues as new
(``functions/workflows/guest_wait.py``); version 2 polled in the create itself every 5 s and is the baseline,
measured in the same run. Three guests: a typical one (key after 1 min, applied 3 min after the data), a slow one
(key after 9 min, applied after 29 min) and one that never answers (both waits run to their deadlines: 10 + 30 min).
Prints, per version and guest: events in the create's history, the largest history any one instance replays (the
create or one generation of a wait), the total over every instance, and how many polls reached the host.
Target: at most 200 events per instance for version 3.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from functions.guest.mapping import guest_values
from functions.models import parse_vm_request
from functions.provisioning.workflow_data import CREATE_VERSION, Timing
from functions.sealing import seal_json
from functions.settings import Secret
from functions.workflows.create_vm import create_vm
from functions.workflows.guest_wait import create_vm_guest_wait
from tests.support.replay import T0, Fail, Replay, Scheduled, drive

VM_ID = "5f0c3d6e-1111-2222-3333-444455556666"
REQUEST = {
    "name": "web01",
    "host": "hv01",
    "image": "Ubuntu 24.04 LTS",
    "cpu_cores": 2,
    "memory_gb": 4,
    "network": "External",
    "guest": {"admin_username": "opsadmin", "admin_password": "correct horse battery staple"},
}
TARGET_EVENTS = 200


@dataclass(frozen=True)
class Guest:
    """When the guest publishes its key and applies its data (seconds after the start, after the data)."""

    name: str
    key_after: float
    applied_after: float


GUESTS = (Guest("typical", 60, 180), Guest("slow", 540, 1740), Guest("silent", 10**6, 10**6))


@dataclass
class Run:
    create_events: int = 0
    largest: int = 0
    total: int = 0
    polls: int = 0
    outcome: str = ""


def create_input(version: int) -> dict[str, Any]:
    request = parse_vm_request(REQUEST)
    key = Secret(base64.b64encode(os.urandom(32)).decode())
    sealed = seal_json(guest_values(request), "job-1", key=key)
    return {
        "job_id": "job-1",
        "request": request.model_dump(mode="json"),
        "os_family": "linux",
        "sealed_guest": sealed,
        "timing": Timing().to_json(),  # the defaults: 5 s polls, 10 + 30 min waits, 30 s publish delay
        "version": version,
    }


def guest_answer(guest: Guest, clock: Callable[[], datetime], published: list[datetime], run: Run) -> Any:
    def answer(_: Scheduled) -> dict[str, Any]:
        run.polls += 1
        moment = clock()
        if published and (moment - published[0]).total_seconds() >= guest.applied_after:
            state = "provisioningapplied"
        elif (moment - T0).total_seconds() >= guest.key_after:
            state = "waitingforaeskey"
        else:
            state = None
        fields = {"key": "echoed", "agent": "current"} if state else {"key": "absent"}
        return {"state": state, "error_summary": None, "public_key_present": state is not None, **fields}

    return answer


DISK = {"folder": "C:\\VMs\\web01", "path": "C:\\VMs\\web01\\web01.vhdx", "size_gb": 40.0, "created": True}


def operation(state: str) -> dict[str, Any]:
    """The background disk copy of version 4 (the bench's copy finishes at its first check)."""
    return {
        "id": "job-1.prepare_disk.1",
        "kind": "prepare_disk",
        "job_id": "job-1",
        "folder": DISK["folder"],
        "state": state,
        "bytes_done": 0 if state == "running" else 40 * 2**30,
        "bytes_total": 40 * 2**30,
        "percent": 0.0 if state == "running" else 100.0,
        "started": T0.isoformat(),
        "updated": T0.isoformat(),
        "result": DISK if state == "succeeded" else None,
        "error": None,
    }


def results(answer: Any, published: list[datetime], clock: Callable[[], datetime]) -> dict[str, Any]:
    def publish(_: Scheduled) -> dict[str, Any]:
        published.append(clock())
        return {"items": 7}

    return {
        "job_update": {"status": "Running"},
        "vm_preflight": {"target_volume": None},
        "vm_prepare_disk": DISK,
        "host_operation_start": operation("running"),
        "host_operation_status": operation("succeeded"),
        "vm_create": {"vm_id": VM_ID},
        "vm_start_and_announce": {"started": True, "version": "2.5.0"},
        "vm_guest_status": answer,
        "vm_publish_guest_data": publish,
        "vm_signal_published": {},
        "vm_finish_guest": {"removed_drives": 1},
        "vm_refresh_and_describe": {"id": VM_ID, "name": "web01", "host": "hv01", "state": "Running"},
        "vm_cleanup": {"summary": "removed the VM"},
        "vm_record_cleanup_debt": {"since": T0.isoformat()},
    }


def run_wait(document: dict[str, Any], start: datetime, run: Run, answers: Any) -> tuple[Any, datetime]:
    """Run one guest wait generation by generation; its output (or a failure) and the time it ended."""
    moment = start
    while True:
        child = Replay(create_vm_guest_wait, document, instance_id="job-1:wait", now=moment)
        current["replay"] = child
        drive(child, {"vm_guest_status": answers}, max_turns=100_000)
        run.largest = max(run.largest, len(child.history))
        run.total += len(child.history)
        moment = child.now
        if child.continued_with is None:
            error = child.state.get("error")
            return (Fail(str(error).split(" AETHERV-ERROR")[0], "GuestTimeout") if error else child.output), moment
        document = child.continued_with


current: dict[str, Replay] = {}


def measure(version: int, guest: Guest) -> Run:
    run = Run()
    published: list[datetime] = []
    parent = Replay(create_vm, create_input(version), now=T0)
    current["replay"] = parent
    clock = lambda: current["replay"].now  # noqa: E731 - the replay being driven keeps the simulated time
    answers = guest_answer(guest, clock, published, run)
    table = results(answers, published, clock)

    def wait(task: Scheduled) -> Any:
        output, ended = run_wait(task.input, parent.now, run, answers)
        current["replay"] = parent
        parent.now = ended
        return output

    table["create_vm_guest_wait"] = wait
    drive(parent, table, max_turns=100_000)
    run.create_events = len(parent.history)
    run.largest = max(run.largest, run.create_events)
    run.total += run.create_events
    run.outcome = "failed" if parent.state.get("error") else "succeeded"
    return run


def main() -> None:
    print(f"{'guest':8} {'version':>7} {'create':>7} {'largest':>8} {'total':>6} {'polls':>6}  outcome")
    for guest in GUESTS:
        baseline = measure(2, guest)
        current_run = measure(CREATE_VERSION, guest)
        for version, run in ((2, baseline), (CREATE_VERSION, current_run)):
            print(
                f"{guest.name:8} {version:>7} {run.create_events:>7} {run.largest:>8} {run.total:>6} "
                f"{run.polls:>6}  {run.outcome}"
            )
        ratio = current_run.largest / baseline.largest
        verdict = "ok" if current_run.largest <= TARGET_EVENTS else f"OVER the {TARGET_EVENTS}-event target"
        print(f"{guest.name:8} largest history per instance: {ratio:.2f}x the baseline ({verdict})")


if __name__ == "__main__":
    main()
