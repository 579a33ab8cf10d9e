"""A local stack built to be broken: Azurite on fixed ports with its data on disk (so it can be stopped and started
again), a three-host lab, the app on a devhost subprocess with fast step retries. Outcomes are checked on the
peers' own state: what is on the simulated hosts, what the tables hold.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tools.azurite import Azurite, free_port, start_azurite
from tools.hvsim.guest import GuestBehaviour
from tools.hvsim.lab import Lab, LabHost
from tools.hvsim.models import TransitionTimes, default_guest_factory
from tools.stack import Stack, running_stack

FAST_GUEST = GuestBehaviour(boot_delay=0.2, poll_interval=0.1)


def _guests(os_family: str, iso_version: str, behaviour: Any, clock: Any) -> Any:
    return default_guest_factory(os_family, iso_version, behaviour or FAST_GUEST, clock)


@dataclass
class Chaos:
    """The stack and the switches that break it."""

    stack: Stack
    azurite: Azurite
    location: Path
    ports: tuple[int, int, int]

    @property
    def lab(self) -> Lab:
        return self.stack.lab

    def host(self, name: str) -> LabHost:
        return self.lab.host(name)

    def storage_down(self) -> None:
        """Stop Azurite (its data stays on disk)."""
        self.azurite.stop()

    def storage_up(self) -> None:
        """Start Azurite again on the same ports and data."""
        self.azurite = start_azurite(self.location, ports=self.ports)

    def job(self, job_id: str) -> dict[str, Any]:
        """The job as the API shows it (200, 202 and the problem of a failed job alike)."""
        status, _, body = self.stack.request("GET", f"/api/v1/jobs/{job_id}")
        assert status in (200, 202, 409, 422), (status, body)
        document: dict[str, Any] = body["job"] if status in (409, 422) else body
        return document

    def wait_job(self, job_id: str, timeout: float = 120) -> dict[str, Any]:
        """The job once it has ended."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if job["status"] in ("Succeeded", "Failed", "Canceled"):
                return job
            time.sleep(0.3)
        raise AssertionError(f"job {job_id} did not end: {self.job(job_id)}")

    def wait_step(self, job_id: str, step: str, timeout: float = 60) -> None:
        """Until the job's workflow reports ``step`` (custom status)."""
        self.stack.wait(job_id, timeout, until=lambda s: (s.get("customStatus") or {}).get("step") == step)

    def lab_vm_names(self, host: str) -> set[str]:
        return {vm.name for vm in self.host(host).model.vms.values()}

    def lab_folders(self, host: str, name: str) -> list[str]:
        model = self.host(host).model
        return [path for path in (f"C:\\Hyper-V\\{name}",) if model.fs.exists(path)]


@pytest.fixture(scope="package")
def chaos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chaos]:
    work = tmp_path_factory.mktemp("chaos")
    location = work / "azurite"
    ports = (free_port(), free_port(), free_port())
    times = TransitionTimes(start=0.2, stop=0.2, save=0.1, reboot=0.2)
    # its own account name: simulated hosts of one process must agree on a shared account's password
    options = {"times": times, "guest_factory": _guests, "ticker_interval": 0.05, "username": "LAB\\chaos"}
    azurite = start_azurite(location, ports=ports)
    try:
        with (
            Lab.start(hosts=3, vms_per_host=2, **options) as lab,
            running_stack(
                azurite,
                work,
                lab,
                AETHERV_INVENTORY_SCHEDULE="0 0 0 1 1 *",
                AETHERV_STEP_RETRY_ATTEMPTS="3",
                AETHERV_STEP_RETRY_SECONDS="0.5",
                AETHERV_ADDRESS_TIMEOUT="20",
            ) as stack,
        ):
            harness = Chaos(stack, azurite, location, ports)
            yield harness
            azurite = harness.azurite
    finally:
        with contextlib.suppress(Exception):
            azurite.stop()
