"""The whole local stack for end-to-end tests: Azurite, a simulated Hyper-V lab and the app on the devhost.

The lab runs in the test process (so tests can inject faults and read counters); the app runs in a devhost
subprocess, exactly as ``make run`` starts it, with fast guest-handshake timing. Tests talk to the app over HTTP
and read the tables directly to check what the workflows wrote.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tools.azurite import Azurite
from tools.fakeentra.authority import FakeEntra
from tools.hvsim.guest import GuestBehaviour
from tools.hvsim.lab import Lab
from tools.hvsim.models import TransitionTimes, default_guest_factory
from tools.stack import Stack, running_stack

FAST_GUEST = GuestBehaviour(boot_delay=0.2, poll_interval=0.1)


def fast_guests(os_family: str, iso_version: str, behaviour: Any, clock: Any) -> Any:
    """The lab's simulated guests, polling every 0.1 s instead of 5 s."""
    return default_guest_factory(os_family, iso_version, behaviour or FAST_GUEST, clock)


@pytest.fixture(scope="session")
def stack(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The session's stack (one lab, one devhost); tests must not assume a pristine lab."""
    times = TransitionTimes(start=0.2, stop=0.2, save=0.1, reboot=0.2)
    lab_options = {"times": times, "guest_factory": fast_guests, "ticker_interval": 0.05, "username": "LAB\\e2e"}
    with (
        Lab.start(hosts=3, vms_per_host=3, **lab_options) as lab,
        running_stack(azurite, tmp_path_factory.mktemp("stack"), lab) as stack,
    ):
        yield stack


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
    """The app in Entra mode against the fake authority (no Hyper-V lab: authorization comes first)."""
    work = tmp_path_factory.mktemp("secured")
    with running_stack(azurite, work, None, AETHERV_INVENTORY_SCHEDULE="0 0 0 1 1 *", **entra.env()) as stack:
        yield stack


@contextlib.contextmanager
def own_stack(
    azurite: Azurite, work: Path, username: str, *, hosts: int = 3, vms: int = 1, **settings: str
) -> Iterator[Stack]:
    """A stack with a lab of its own, once its start-up sync stored every host; ``settings`` override the app's.

    ``username``: the lab's own account (``LAB\\<name>``): labs in one process share hvsim's NTLM accounts, and each
    lab sets its account's password.
    """
    times = TransitionTimes(start=0.2, stop=0.2, save=0.1, reboot=0.2)
    options = {"times": times, "guest_factory": fast_guests, "ticker_interval": 0.05, "username": username}
    with (
        Lab.start(hosts=hosts, vms_per_host=vms, **options) as lab,
        running_stack(azurite, work, lab, **settings) as stack,
    ):
        deadline = time.monotonic() + 60
        while len(stack.repo.list_hosts()) < len(lab.hosts):
            assert time.monotonic() < deadline, "the start-up sync did not store every host"
            time.sleep(0.2)
        yield stack


APPROVAL_TIMEOUT = 12
"""Seconds a create waits for its decision on the approvals stack."""


@pytest.fixture(scope="session")
def approving(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of its own whose host ``hv02`` requires approval for creates, with a short deadline (local mode)."""
    env = {"AETHERV_APPROVAL_HOSTS": "hv02", "AETHERV_APPROVAL_TIMEOUT": str(APPROVAL_TIMEOUT)}
    with own_stack(azurite, tmp_path_factory.mktemp("approvals"), "LAB\\approvals", **env) as stack:
        yield stack
