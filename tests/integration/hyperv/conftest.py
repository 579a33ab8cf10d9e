"""Fixtures: one simulated lab for the session, reset before every test, and Hyper-V clients for its hosts.

The lab runs on a manual clock with immediate VM transitions and no background guest ticker, so every test is
deterministic; a test that needs time to pass advances ``lab_clock`` or sets ``lab.backend.times``. Its Linux
guests are simulated (the real agent process runs in real time); ``test_hyperv_linux_agent.py`` runs the real
agent in a lab of its own.
Clients go through the real stack: ``open_client`` → WinRM transport (pywinrm, HTTPS, NTLM) → PowerShell runner
→ the hvsim WS-Management server → the operation handlers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest

from functions.hyperv.client import HyperVClient
from functions.hyperv.factory import open_client
from functions.settings import HostEndpoint, WinRMSettings
from tools.hvsim.guest import GuestBehaviour
from tools.hvsim.lab import Lab, LabHost
from tools.hvsim.models import ManualClock, TransitionTimes
from tools.isobuild import BuiltIsos, build_all

STANDALONE = "hv03"
CLUSTER_NODE = "hv01"

ClientFactory = Callable[..., AbstractContextManager[HyperVClient]]


@pytest.fixture(scope="session")
def lab_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="session")
def hvlab(lab_clock: ManualClock) -> Iterator[Lab]:
    simulated = GuestBehaviour(real_linux_agent=False)  # the real Linux agent runs in real time, not on lab_clock
    options: dict[str, Any] = {"ticker_interval": None, "clock": lab_clock, "sleep": lab_clock.sleep}
    with Lab.start(hosts=3, vms_per_host=5, guest_behaviour=simulated, **options) as lab:
        yield lab


@pytest.fixture
def lab(hvlab: Lab) -> Iterator[Lab]:
    """The session's lab, freshly re-seeded, without faults, with zeroed counters and immediate transitions."""
    hvlab.backend.times = TransitionTimes()
    hvlab.reset()
    yield hvlab
    hvlab.backend.times = TransitionTimes()


@pytest.fixture
def winrm_settings(lab: Lab) -> WinRMSettings:
    """``WinRMSettings`` that reach the lab (HTTPS, NTLM, the lab's CA)."""
    return lab.winrm_settings(connect_timeout=2, operation_timeout=5, read_timeout=10)


@pytest.fixture
def host_endpoints(lab: Lab) -> dict[str, HostEndpoint]:
    """The lab's hosts as the app configures them (``AETHERV_HOSTS``)."""
    return {host.name: host.endpoint_setting for host in lab.hosts}


@pytest.fixture
def connect(lab: Lab, winrm_settings: WinRMSettings) -> ClientFactory:
    """``connect(name, **options)``: a context manager yielding a client for that lab host."""

    def factory(name: str, *, settings: WinRMSettings | None = None, timeout: float | None = None) -> Any:
        return open_client(
            lab.host(name).endpoint_setting,
            settings=settings or winrm_settings,
            addresses=lab.addresses,
            timeout=timeout,
        )

    return factory


@pytest.fixture
def standalone(lab: Lab) -> LabHost:
    return lab.host(STANDALONE)


@pytest.fixture
def node(lab: Lab) -> LabHost:
    return lab.host(CLUSTER_NODE)


@pytest.fixture
def hv(connect: ClientFactory) -> Iterator[HyperVClient]:
    """A client for the standalone host ``hv03``."""
    with connect(STANDALONE) as client:
        yield client


@pytest.fixture
def hv_node(connect: ClientFactory) -> Iterator[HyperVClient]:
    """A client for the cluster node ``hv01``."""
    with connect(CLUSTER_NODE) as client:
        yield client


@pytest.fixture(scope="session")
def provisioning_isos(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], BuiltIsos]:
    """``provisioning_isos(version)``: the real provisioning ISOs, built by ``tools.isobuild`` (once per version)."""
    built: dict[str, BuiltIsos] = {}

    def build(version: str = "2.5.0") -> BuiltIsos:
        if version not in built:
            built[version] = build_all(tmp_path_factory.mktemp(f"isos-{version}"), version=version)
        return built[version]

    return build
