"""No activity outlives ``functionTimeout``: an image copy longer than it still makes the VM, end to end.

A stack of its own: the devhost enforces a ``functionTimeout`` of 3 s (the app setting
``AzureFunctionsJobHost__functionTimeout`` shortens host.json's 10 minutes, as Azure lets app settings override
host.json), and its lab copies golden images at 256 MB/s of real time, so the Debian image (2.2 GB) takes about
9 s to copy — three times the timeout.

- A create (this build: the disk prepared in the background) succeeds: the copy runs on the host while the
  orchestration polls it with durable timers, and the devhost's own history shows every activity finished well
  inside the timeout while the ``prepare_disk`` step took longer than it.
- The same slow copy through the single ``vm_prepare_disk`` activity of earlier builds (a version-3 instance, as one
  in flight would go on after an upgrade) fails with the host's timeout: the test is known to bite.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from functions.provisioning.payloads import VmSpec
from functions.provisioning.workflow_data import CreateInput, Timing
from tests.e2e.conftest import fast_guests
from tests.unit.test_vm_request import LINUX
from tools.azurite import Azurite
from tools.hvsim.lab import Lab
from tools.hvsim.models import MB, TransitionTimes
from tools.stack import Stack, running_stack

FUNCTION_TIMEOUT = 3.0
COPY_RATE = 256 * MB  # bytes per second
IMAGE = "Debian 12"
TASK_SCHEDULED, TASK_COMPLETED, TASK_FAILED = 4, 5, 6


@pytest.fixture(scope="module")
def slow_stack(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    times = TransitionTimes(start=0.2, stop=0.2, save=0.1, reboot=0.2)
    options: dict[str, Any] = {"times": times, "guest_factory": fast_guests, "ticker_interval": 0.05}
    with (
        Lab.start(
            hosts=3, vms_per_host=1, username="LAB\\slowcopy", copy_mb_per_second=COPY_RATE / MB, **options
        ) as lab,
        running_stack(
            azurite,
            tmp_path_factory.mktemp("slow-copy"),
            lab,
            AzureFunctionsJobHost__functionTimeout="00:00:03",
            AETHERV_HOST_OPERATION_POLL_INTERVAL="0.5",
            AETHERV_INVENTORY_SCHEDULE="0 0 0 1 1 *",
        ) as stack,
    ):
        yield stack


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def activity_durations(stack: Stack, instance_id: str) -> dict[str, float]:
    """The longest run of each activity in the instance's history, in seconds (scheduled → completed or failed)."""
    history = stack.history(instance_id)
    scheduled = {e["EventId"]: (e["Name"], _at(e["Timestamp"])) for e in history if e["EventType"] == TASK_SCHEDULED}
    longest: dict[str, float] = {}
    for event in history:
        if event["EventType"] in (TASK_COMPLETED, TASK_FAILED):
            name, at = scheduled[event["TaskScheduledId"]]
            seconds = (_at(event["Timestamp"]) - at).total_seconds()
            longest[name] = max(longest.get(name, 0.0), seconds)
    return longest


def test_an_image_copy_longer_than_the_function_timeout_makes_the_vm(slow_stack: Stack) -> None:
    stack = slow_stack
    payload = copy.deepcopy(LINUX)
    payload.update(name="slow-e2e01", host="hv03", image=IMAGE)
    image = stack.lab.host("hv03").model.find_image(IMAGE, None)
    assert image is not None
    copy_seconds = image.size / COPY_RATE
    assert copy_seconds > 2.5 * FUNCTION_TIMEOUT

    began = time.monotonic()
    status, _, job = stack.request("POST", "/api/v1/vms", payload)
    assert status == 202, job
    outcome = stack.wait(job["id"], 180)
    elapsed = time.monotonic() - began
    record = stack.jobs.get(job["id"])
    assert record is not None
    assert (outcome["runtimeStatus"], record.status) == ("Completed", "Succeeded"), (outcome, record)
    assert elapsed > copy_seconds

    step = next(s for s in record.steps if s.name == "prepare_disk")
    assert step.operation is not None
    assert (step.operation["id"], step.operation["state"]) == (f"{job['id']}.prepare_disk.1", "succeeded")
    assert step.started and step.finished
    step_seconds = (_at(step.finished) - _at(step.started)).total_seconds()
    assert step_seconds > copy_seconds > FUNCTION_TIMEOUT

    durations = activity_durations(stack, job["id"])
    assert durations["host_operation_start"] < FUNCTION_TIMEOUT
    assert durations["host_operation_status"] < FUNCTION_TIMEOUT
    assert max(durations.values()) < FUNCTION_TIMEOUT, durations
    failed = [e for e in stack.history(job["id"]) if e["EventType"] == TASK_FAILED]
    assert failed == []

    host = stack.lab.host("hv03").model
    assert host.background.started == [f"{job['id']}.prepare_disk.1"]  # copied once
    vm = next(vm for vm in host.vms.values() if vm.name == "slow-e2e01")
    assert vm.state == "Running"
    print(
        f"\ncopy {copy_seconds:.1f} s, prepare_disk step {step_seconds:.1f} s, whole create {elapsed:.1f} s; "
        f"functionTimeout {FUNCTION_TIMEOUT:g} s; longest activity {max(durations.values()):.2f} s "
        f"({max(durations, key=lambda name: durations[name])})"
    )


def test_the_same_copy_in_one_activity_runs_past_the_function_timeout(slow_stack: Stack) -> None:
    """What instances of earlier builds do (versions 1 to 3): the whole copy in ``vm_prepare_disk``. It times out."""
    stack = slow_stack
    request = VmSpec(name="slow-e2e02", cpu_cores=1, memory_gb=2, host="hv02", image=IMAGE)
    job_id = "create-vm-slow-e2e02-" + uuid.uuid4().hex[:6]
    document = CreateInput(job_id, request, "linux", None, Timing(retry_attempts=1), version=3).to_json()
    stack.start("create_vm", job_id, document)
    outcome = stack.wait(job_id, 120)
    assert outcome["runtimeStatus"] == "Failed", outcome
    failures = [e for e in stack.history(job_id) if e["EventType"] == TASK_FAILED]
    reasons = [str(e["Reason"]) for e in failures]
    assert (
        "Activity function 'vm_prepare_disk' failed: Timeout value of 00:00:03 was exceeded by function: "
        "Functions.vm_prepare_disk"
    ) in reasons, reasons
    output = str(outcome["output"])
    assert "InternalError" in output  # the timeout is none of the step's own categories: permanent
    # Its compensation ran while the abandoned copy still held the disk open on the host: it could not clean up.
    assert "(cleanup: Failed)" in output
    assert stack.lab.host("hv02").model.background.started == []  # nothing ran in the background there
