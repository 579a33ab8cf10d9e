"""A batch of hosts synced at once: one thread per host, each host retried on its own, one time to report by.

The inventory sync hands each collect activity a batch of hosts (:mod:`functions.workflows.inventory`) instead of
one: a worker runs only a few activities at once (host.json ``maxConcurrentActivityFunctions``), and syncing a host
is mostly waiting for its WinRM round trips and Table requests, so an activity waits for its whole batch at once.
Hosts stay independent: a host whose sync raises is tried again (three attempts, two seconds apart, as the
orchestrator retries an activity) and then reported failed with the error; a host still running at ``report_by``
is reported as still running, and its thread goes on to store what it collects. A host's reported duration is its
whole sync in the batch.

The threads come from one pool per process (:func:`host_threads`, built by the composition root) and stay between
syncs: creating fifty threads while other batches already keep the worker busy takes seconds, so batches that
started together would otherwise begin their hosts seconds apart. A batch's hosts wait until every one of them has
its thread, then start together.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from functions.models.inventory import STILL_RUNNING, HostSyncSummary

__all__ = ["ATTEMPTS", "MAX_THREADS", "RETRY_SECONDS", "host_threads", "sync_batch"]

log = logging.getLogger(__name__)

ATTEMPTS = 3
RETRY_SECONDS = 2.0
MAX_THREADS = 2400
"""Hosts one process syncs at once at most: 24 activities (a worker's thread pool) of 100 hosts (the setting's
largest value). The pool only ever creates as many threads as were busy at the same time."""


def host_threads(max_threads: int = MAX_THREADS) -> concurrent.futures.ThreadPoolExecutor:
    """The process's pool of host-sync threads, shared by every batch (threads are kept between syncs)."""
    return concurrent.futures.ThreadPoolExecutor(max_workers=max_threads, thread_name_prefix="inventory-sync")


def _parse(moment: str | None) -> datetime | None:
    if moment is None:
        return None
    parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def sync_batch(
    hosts: Sequence[str],
    sync_one: Callable[[str], HostSyncSummary],
    *,
    report_by: str | None = None,
    threads: concurrent.futures.Executor | None = None,
    describe: Callable[[Exception], str] = lambda exc: type(exc).__name__,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[HostSyncSummary, ...]:
    """Sync every host in ``hosts`` at once with ``sync_one``; one summary per host, in order.

    ``threads`` runs the hosts (default: a pool of this batch's own); ``describe`` turns the last exception of a host
    that kept failing into the error its summary reports. A summary's ``duration_s`` is the host's whole sync in the
    batch (every attempt), from its start.
    """
    if not hosts:
        return ()

    go = threading.Event()

    def one(host: str) -> HostSyncSummary:
        go.wait()
        started = monotonic()
        failure: Exception | None = None
        for attempt in range(1, ATTEMPTS + 1):
            try:
                summary = sync_one(host)
                return dataclasses.replace(summary, duration_s=round(monotonic() - started, 3))
            except Exception as exc:
                failure = exc
                log.warning("inventory: syncing %s failed (attempt %d of %d): %r", host, attempt, ATTEMPTS, exc)
                if attempt < ATTEMPTS:
                    sleep(RETRY_SECONDS)
        assert failure is not None
        elapsed = round(monotonic() - started, 3)
        return HostSyncSummary(host=host, ok=False, error=describe(failure)[:500], duration_s=elapsed)

    deadline = _parse(report_by)
    pool = threads or host_threads(len(hosts))
    try:
        futures = [pool.submit(one, host) for host in hosts]
    finally:
        go.set()  # every host has its thread: they start together
        if threads is None:
            pool.shutdown(wait=False)  # takes no new work; a host still running finishes (and stores) on its own
    wait = None if deadline is None else max(0.0, (deadline - clock()).total_seconds())
    done, _ = concurrent.futures.wait(futures, timeout=wait)
    return tuple(
        future.result() if future in done else HostSyncSummary(host=host, ok=False, error=STILL_RUNNING)
        for host, future in zip(hosts, futures, strict=True)
    )
