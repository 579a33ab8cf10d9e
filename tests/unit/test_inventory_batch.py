"""A batch of hosts is synced at once: every host in its own thread, each retried on its own, reported in order,
a host still running when the batch must report is reported as such while its sync goes on, and batches share the
process's threads."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta

import pytest

from functions.inventory import batch
from functions.inventory.batch import host_threads, sync_batch
from functions.models.inventory import STILL_RUNNING, HostSyncSummary

HOSTS = [f"hv{n:02d}" for n in range(1, 13)]


def ok(host: str) -> HostSyncSummary:
    return HostSyncSummary(host=host, ok=True, vms=3, written=1)


def test_every_host_of_the_batch_runs_at_the_same_time() -> None:
    # Each sync waits until all of them are inside: only possible when every host has a thread of its own.
    inside = threading.Barrier(len(HOSTS), timeout=30)

    def sync_one(host: str) -> HostSyncSummary:
        inside.wait()
        return ok(host)

    summaries = sync_batch(HOSTS, sync_one)
    assert [s.host for s in summaries] == HOSTS
    assert all(s.ok for s in summaries)


def test_a_host_that_keeps_failing_is_reported_with_its_error_and_the_others_are_not_affected() -> None:
    attempts: dict[str, int] = {}
    lock = threading.Lock()
    pauses: list[float] = []

    def sync_one(host: str) -> HostSyncSummary:
        with lock:
            attempts[host] = attempts.get(host, 0) + 1
        if host == "hv02":
            raise ConnectionError("storage went away")
        if host == "hv03" and attempts[host] == 1:
            raise TimeoutError("once")
        return ok(host)

    summaries = sync_batch(
        ["hv01", "hv02", "hv03"], sync_one, describe=lambda exc: f"Broken: {exc}", sleep=pauses.append
    )
    assert attempts == {"hv01": 1, "hv02": batch.ATTEMPTS, "hv03": 2}
    assert [s.ok for s in summaries] == [True, False, True]
    assert summaries[1].error == "Broken: storage went away"
    assert pauses == [batch.RETRY_SECONDS] * batch.ATTEMPTS  # hv02 twice, hv03 once


def test_a_host_still_running_at_report_time_is_reported_and_its_sync_goes_on() -> None:
    release = threading.Event()
    finished = threading.Event()

    def sync_one(host: str) -> HostSyncSummary:
        if host == "hv02":
            release.wait(30)
            finished.set()
        return ok(host)

    now = datetime(2026, 1, 1, tzinfo=UTC)
    summaries = sync_batch(
        ["hv01", "hv02"], sync_one, report_by=(now - timedelta(seconds=1)).isoformat(), clock=lambda: now
    )
    assert summaries[1] == HostSyncSummary("hv02", ok=False, error=STILL_RUNNING)
    assert summaries[0].host == "hv01"  # done or still running, depending on how far its thread got in time
    release.set()
    assert finished.wait(30)  # the host's sync was not abandoned: it ends (and would store) on its own


def test_a_hosts_duration_is_its_whole_sync_in_the_batch() -> None:
    ticks = itertools.count(0, 4)
    summary = HostSyncSummary("hv01", ok=True, duration_s=0.5)  # what the collect and store alone took
    (reported,) = sync_batch(["hv01"], lambda host: summary, monotonic=lambda: float(next(ticks)))
    assert reported.duration_s == 4.0
    assert reported.vms == summary.vms and reported.ok


def test_batches_share_the_process_threads() -> None:
    threads = host_threads(4)
    seen: set[int] = set()
    lock = threading.Lock()

    def sync_one(host: str) -> HostSyncSummary:
        with lock:
            seen.add(threading.get_ident())
        return ok(host)

    try:
        for _ in range(3):
            assert all(s.ok for s in sync_batch(HOSTS[:4], sync_one, threads=threads))
    finally:
        threads.shutdown()
    assert len(seen) <= 4  # three batches of four hosts on the same four threads


def test_an_empty_batch_reports_nothing() -> None:
    assert sync_batch([], ok) == ()


@pytest.mark.parametrize("report_by", ["2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00"])
def test_report_by_is_read_as_utc(report_by: str) -> None:
    later = datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC)
    summaries = sync_batch(["hv01"], ok, report_by=report_by, clock=lambda: later)
    assert len(summaries) == 1  # a deadline already past does not fail the batch; the host may still make it
