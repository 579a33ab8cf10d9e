"""The whole local stack for end-to-end tests: Azurite, a simulated Hyper-V lab and the app on the devhost.

The lab runs in the test process (so tests can inject faults and read counters); the app runs in a devhost
subprocess, exactly as ``make run`` starts it, with fast guest-handshake timing. Tests talk to the app over HTTP
and read the tables directly to check what the workflows wrote.
"""

from __future__ import annotations

import base64
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.data.tables import TableServiceClient

from functions.inventory.repository import InventoryRepository
from functions.jobs.store import JobStore
from functions.settings import Secret
from tools.azurite import Azurite, free_port
from tools.fakeentra.authority import FakeEntra
from tools.hvsim.guest import GuestBehaviour
from tools.hvsim.lab import Lab
from tools.hvsim.models import TransitionTimes, default_guest_factory
from tools.stack import Stack, stack_env

FAST_GUEST = GuestBehaviour(boot_delay=0.2, poll_interval=0.1)


def fast_guests(os_family: str, iso_version: str, behaviour: Any, clock: Any) -> Any:
    """The lab's simulated guests, polling every 0.1 s instead of 5 s."""
    return default_guest_factory(os_family, iso_version, behaviour or FAST_GUEST, clock)


@pytest.fixture(scope="session")
def stack(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The session's stack (one lab, one devhost); tests must not assume a pristine lab."""
    times = TransitionTimes(start=0.2, stop=0.2, save=0.1, reboot=0.2)
    lab_options = {"times": times, "guest_factory": fast_guests, "ticker_interval": 0.05, "username": "LAB\\e2e"}
    with Lab.start(hosts=3, vms_per_host=3, **lab_options) as lab:
        prefix = "e" + uuid.uuid4().hex[:10]
        seal_key = Secret(base64.b64encode(os.urandom(32)).decode())
        env = stack_env(azurite, lab, prefix, seal_key, "E2E" + uuid.uuid4().hex[:8])
        service = TableServiceClient.from_connection_string(azurite.connection_string)
        work = tmp_path_factory.mktemp("stack")
        stack = Stack(
            base_url=f"http://127.0.0.1:{free_port()}",
            lab=lab,
            env=env,
            repo=InventoryRepository(service, prefix),
            jobs=JobStore(service, prefix),
            seal_key=seal_key,
            store_dir=work / "taskhub",
            log_path=work / "devhost.log",
        )
        stack.launch()
        try:
            yield stack
        finally:
            stack.stop()


@pytest.fixture
def synced(stack: Stack) -> Stack:
    """The stack once its start-up inventory sync has stored every host."""
    deadline = time.monotonic() + 60
    while len(stack.repo.list_hosts()) < len(stack.lab.hosts):
        assert time.monotonic() < deadline, "the start-up sync did not store every host"
        time.sleep(0.2)
    return stack


TENANT = "7d1c5d52-6f8e-4c1a-9a39-1f4b2f6c1e11"
CLIENT = "0b3d6a2e-9f61-4d8f-8a0c-5c2e7e0f4a22"


@pytest.fixture(scope="session")
def entra() -> Iterator[FakeEntra]:
    authority = FakeEntra(TENANT, CLIENT)
    authority.start()
    yield authority
    authority.stop()


@pytest.fixture(scope="session")
def secured(azurite: Azurite, entra: FakeEntra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    prefix = "a" + uuid.uuid4().hex[:10]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "AzureWebJobsStorage": azurite.connection_string,
        "AETHERV_TASK_HUB": "Auth" + uuid.uuid4().hex[:8],
        "AETHERV_TABLE_PREFIX": prefix,
        "AETHERV_SEAL_KEY": base64.b64encode(os.urandom(32)).decode(),
        "AETHERV_INVENTORY_SCHEDULE": "0 0 0 1 1 *",
        **entra.env(),
    }
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    work = tmp_path_factory.mktemp("secured")
    stack = Stack(
        base_url=f"http://127.0.0.1:{free_port()}",
        lab=None,  # type: ignore[arg-type]
        env=env,
        repo=InventoryRepository(service, prefix),
        jobs=JobStore(service, prefix),
        seal_key=Secret(env["AETHERV_SEAL_KEY"]),
        store_dir=Path(work) / "taskhub",
        log_path=Path(work) / "devhost.log",
    )
    stack.launch()
    yield stack
    stack.stop()
