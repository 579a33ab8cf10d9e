"""WinRM session reuse and batched commands against the simulated host, checked on the host's own counters.

Every figure here is read from hvsim (NTLM handshakes, shells opened and deleted, commands, round trips), never
from the pool's own view of itself.
"""

from __future__ import annotations

import gc
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any

import pytest

from functions.hyperv.client import HyperVClient
from functions.hyperv.errors import HostUnreachable, VmNotFound
from functions.hyperv.factory import open_client
from functions.hyperv.models import PreflightSpec
from functions.hyperv.pool import SessionPool
from functions.settings import WinRMSettings
from tools.hvsim.lab import Lab, LabHost

Lend = Callable[[], AbstractContextManager[HyperVClient]]


@pytest.fixture
def pool() -> Iterator[SessionPool]:
    sessions = SessionPool(idle_seconds=30)
    yield sessions
    sessions.close_all()
    collect_reset_sockets()  # a reset connection's socket may outlive the test in a traceback the pool dropped


@pytest.fixture
def lend(lab: Lab, winrm_settings: WinRMSettings, standalone: LabHost, pool: SessionPool) -> Lend:
    """``lend()``: a client for hv03 on a session of ``pool`` (what one activity gets)."""

    def factory() -> AbstractContextManager[HyperVClient]:
        return open_client(standalone.endpoint_setting, settings=winrm_settings, addresses=lab.addresses, pool=pool)

    return factory


def counters(host: LabHost) -> dict[str, Any]:
    return host.server.counters.snapshot()


def in_thread(work: Callable[[], Any]) -> Any:
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(work).result()


def collect_reset_sockets() -> None:
    """Collect the sockets a reset left in exception tracebacks (HTTP stack frames), as the collector would later.

    A reset connection's socket can stay referenced from the traceback of the error it raised, a reference cycle
    that only the garbage collector frees — with or without session reuse. Collected here, its ResourceWarning
    cannot surface in whichever test happens to run the collector next.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def live_shells(host: LabHost) -> int:
    snapshot = counters(host)
    return int(snapshot["shells_opened"]) - int(snapshot["shells_deleted"])


def test_the_next_activity_reuses_the_session_from_another_thread(
    lend: Lend, standalone: LabHost, pool: SessionPool
) -> None:
    def activity() -> int:
        with lend() as hv:
            before = counters(standalone)["http_round_trips"]
            hv.list_switches()
            return int(counters(standalone)["http_round_trips"] - before)

    first = in_thread(activity)
    second = in_thread(activity)  # another worker thread, as the next activity would run

    snapshot = counters(standalone)
    assert snapshot["ntlm_handshakes"] == 1
    assert snapshot["shells_opened"] == 1
    assert snapshot["shells_deleted"] == 0
    assert first > second == 4  # Command, Send, Receive, Signal: no handshake, no shell
    assert (pool.stats.opened, pool.stats.reused) == (1, 1)


def test_concurrent_activities_get_sessions_of_their_own_and_close_all_deletes_every_shell(
    lend: Lend, standalone: LabHost, pool: SessionPool
) -> None:
    barrier = threading.Barrier(4)

    def activity() -> list[str]:
        with lend() as hv:
            barrier.wait(timeout=30)  # all four hold a session at once
            return [hv.list_switches()[0].name, hv.list_isos().install_dir]

    with ThreadPoolExecutor(max_workers=4) as executor:
        results = list(executor.map(lambda _: activity(), range(4)))
    assert len({tuple(result) for result in results}) == 1
    assert counters(standalone)["shells_opened"] == 4
    assert pool.idle_count() == 4

    pool.close_all()
    assert live_shells(standalone) == 0
    assert pool.idle_count() == 0


def test_a_script_error_keeps_the_session(lend: Lend, standalone: LabHost, pool: SessionPool) -> None:
    with lend() as hv, pytest.raises(VmNotFound):
        hv.get_vm(str(uuid.uuid4()))
    with lend() as hv:
        hv.list_switches()
    assert counters(standalone)["shells_opened"] == 1
    assert pool.stats.reused == 1


def test_a_session_is_replaced_after_a_transport_failure(lend: Lend, standalone: LabHost, pool: SessionPool) -> None:
    with lend() as hv:
        hv.list_switches()
    standalone.server.faults.update({"reset_connections": True})
    with warnings.catch_warnings():  # the reset socket may be freed (and warn) as soon as the error is let go
        warnings.simplefilter("ignore", ResourceWarning)
        with lend() as hv, pytest.raises(HostUnreachable):
            hv.list_switches()
    standalone.server.faults.clear()
    collect_reset_sockets()
    assert pool.idle_count() == 0  # the failed session was not kept

    with lend() as hv:
        hv.list_switches()
    assert pool.stats.closed_failed == 1
    assert pool.stats.opened == 2
    assert counters(standalone)["shells_opened"] == 2


def test_a_connection_the_host_closed_is_reopened_with_the_same_shell(
    lend: Lend, standalone: LabHost, pool: SessionPool
) -> None:
    with lend() as hv:
        hv.list_switches()
    standalone.server.close_connections()  # what HTTP.sys does after 120 s idle: the NTLM context goes with it

    with lend() as hv:
        assert hv.list_switches()
    snapshot = counters(standalone)
    assert snapshot["shells_opened"] == 1  # the shell outlives the connection
    assert snapshot["ntlm_handshakes"] == 2
    assert pool.stats.reused == 1


def test_idle_sessions_are_closed_and_their_shells_deleted(
    lab: Lab, winrm_settings: WinRMSettings, standalone: LabHost
) -> None:
    short = SessionPool(idle_seconds=0.3)
    with open_client(standalone.endpoint_setting, settings=winrm_settings, addresses=lab.addresses, pool=short) as hv:
        hv.list_switches()
    assert live_shells(standalone) == 1
    deadline = time.monotonic() + 10
    while live_shells(standalone) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live_shells(standalone) == 0
    assert short.idle_count() == 0
    assert short.stats.closed_idle == 1


def test_without_reuse_every_activity_closes_its_session(
    lab: Lab, winrm_settings: WinRMSettings, standalone: LabHost
) -> None:
    off = SessionPool(idle_seconds=0)
    for _ in range(2):
        with open_client(standalone.endpoint_setting, settings=winrm_settings, addresses=lab.addresses, pool=off) as hv:
            hv.list_switches()
        assert live_shells(standalone) == 0
    assert counters(standalone)["ntlm_handshakes"] == 2


def test_a_lent_session_refuses_another_thread(lend: Lend) -> None:
    with lend() as hv:
        hv.list_switches()
        transport = hv._runner.transport  # type: ignore[attr-defined]
        with pytest.raises(RuntimeError, match="another thread"):
            in_thread(lambda: transport.execute("ipconfig"))


def test_operations_that_go_together_run_in_one_command(hv: HyperVClient, standalone: LabHost) -> None:
    hv.list_switches()  # authenticate and open the shell first
    before = counters(standalone)
    report, library = hv.preflight_with_library(PreflightSpec(name="batch01", memory_gb=1))
    after = counters(standalone)
    assert after["commands"] - before["commands"] == 1
    assert after["http_round_trips"] - before["http_round_trips"] == 4
    assert report.ok
    assert library.install_dir
    operations = [item.operation for item in standalone.server.received_operations()[-2:]]
    assert operations == ["preflight_create", "list_isos"]


def test_a_failing_step_stops_the_batch_and_raises_its_error(hv: HyperVClient, standalone: LabHost) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(VmNotFound):
        hv.finish_guest(missing, "hlvmm.")
    received = [item.operation for item in standalone.server.received_operations()]
    assert received[-1] == "eject_iso"  # the first step failed: the KVP clean-up never ran
    assert "write_host_kvp" not in received
