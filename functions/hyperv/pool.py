"""Per-worker WinRM session reuse: authenticated sessions with an open shell, lent to one activity at a time.

Every host operation used to open a connection, repeat the NTLM handshake and create a shell, then delete the shell
(three to four extra round trips per activity, each crossing a Hybrid Connection relay in production). A
:class:`SessionPool` keeps the :class:`~functions.hyperv.transport.WinRMTransport` an activity used and lends it to the
next activity on the same host and connection options:

- **One borrower at a time.** :meth:`SessionPool.lend` hands a session to the calling thread only (the transport
  refuses any other thread) and takes it back when the block ends; concurrent activities on one host get sessions
  of their own. The pool's state is guarded by one lock; no network I/O happens under it.
- **Checked before reuse.** A session is lent again only if no command failed on it (a transport error or timeout
  leaves the command's state on the host unknown), it was idle less than ``idle_seconds`` and it is younger than
  ``max_age_seconds`` (a periodic fresh handshake); otherwise it is closed and a new one opened. A session whose
  keep-alive connection went stale in between reconnects once by itself (see the transport's "Health").
- **Replaced after a failure**, closed (its shell deleted) after ``idle_seconds`` without use by a daemon reaper
  thread that runs only while sessions are idle, when more than ``max_idle_per_host`` wait for one host (WinRM allows
  30 shells per user and host by default, ``MaxShellsPerUser``), and when the process exits.
- **At-least-once safe.** Reuse changes only how a command reaches the host, never what it does: every operation
  stays safe to repeat, and a command that may have started is never re-sent by the pool or the transport.

``idle_seconds`` 0 turns reuse off: each lend opens a session and closes it at the end (the behaviour before). The
default (60 s, ``AETHERV_WINRM_SESSION_IDLE_SECONDS``) stays below HTTP.sys's 120 s idle connection timeout, so a
lent session's connection is normally still open.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from functions.hyperv.transport import ConnectionOptions, WinRMTransport

__all__ = ["PoolStats", "SessionPool"]

log = logging.getLogger(__name__)

_pools: weakref.WeakSet[SessionPool] = weakref.WeakSet()


@dataclass
class PoolStats:
    """Counters of one pool: sessions opened, lends served by a kept session, sessions closed and why."""

    opened: int = 0
    reused: int = 0
    closed_idle: int = 0
    closed_failed: int = 0
    closed_surplus: int = 0


@dataclass
class _Idle:
    transport: WinRMTransport
    created: float
    since: float


class SessionPool:
    """Keeps WinRM sessions per connection options (one host, one set of credentials) between activities."""

    def __init__(
        self,
        *,
        idle_seconds: float = 60.0,
        max_age_seconds: float = 900.0,
        max_idle_per_host: int = 4,
        factory: Callable[[ConnectionOptions], WinRMTransport] = WinRMTransport,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle_seconds = idle_seconds
        self.max_age_seconds = max_age_seconds
        self.max_idle_per_host = max_idle_per_host
        self.stats = PoolStats()
        self._factory = factory
        self._clock = clock
        self._lock = threading.Lock()
        self._idle: dict[ConnectionOptions, list[_Idle]] = {}
        self._reaper: threading.Thread | None = None
        self._wake = threading.Condition(self._lock)
        _pools.add(self)

    @property
    def enabled(self) -> bool:
        """Whether sessions are kept between lends."""
        return self.idle_seconds > 0

    def idle_count(self, options: ConnectionOptions | None = None) -> int:
        """Sessions waiting to be lent (for ``options``, or in all)."""
        with self._lock:
            if options is not None:
                return len(self._idle.get(options, ()))
            return sum(len(entries) for entries in self._idle.values())

    @contextlib.contextmanager
    def lend(self, options: ConnectionOptions) -> Iterator[WinRMTransport]:
        """A session for ``options``, owned by the calling thread until the block ends."""
        if not self.enabled:
            transport = self._factory(options)
            try:
                yield transport
            finally:
                transport.close()
            return
        transport, created = self._take(options)
        transport.adopt()
        try:
            yield transport
        finally:
            transport.release()
            self._give_back(options, transport, created)

    def close_all(self) -> None:
        """Close every idle session now (their shells deleted, best effort)."""
        with self._lock:
            entries = [entry for idle in self._idle.values() for entry in idle]
            self._idle.clear()
            self._wake.notify_all()
        for entry in entries:
            _close_quietly(entry.transport)

    # -- internals ---------------------------------------------------------------------------------------------------

    def _take(self, options: ConnectionOptions) -> tuple[WinRMTransport, float]:
        now = self._clock()
        stale: list[_Idle] = []
        chosen: _Idle | None = None
        with self._lock:
            entries = self._idle.get(options, [])
            while entries:
                entry = entries.pop()  # the most recently used first: its connection is the likeliest to be open
                if self._usable(entry, now):
                    chosen = entry
                    break
                stale.append(entry)
            if not entries:
                self._idle.pop(options, None)
            if chosen is not None:
                self.stats.reused += 1
            else:
                self.stats.opened += 1
            self.stats.closed_idle += len(stale)
        for entry in stale:
            _close_quietly(entry.transport)
        if chosen is not None:
            return chosen.transport, chosen.created
        return self._factory(options), now

    def _usable(self, entry: _Idle, now: float) -> bool:
        return (
            entry.transport.reusable
            and now - entry.since < self.idle_seconds
            and now - entry.created < self.max_age_seconds
        )

    def _give_back(self, options: ConnectionOptions, transport: WinRMTransport, created: float) -> None:
        now = self._clock()
        surplus: _Idle | None = None
        if not transport.reusable or now - created >= self.max_age_seconds:
            with self._lock:
                self.stats.closed_failed += not transport.reusable
            if transport.reusable:
                log.debug("WinRM session to %s reached its maximum age; closing it", transport.host)
            _close_quietly(transport)
            return
        with self._lock:
            entries = self._idle.setdefault(options, [])
            entries.append(_Idle(transport, created, now))
            if len(entries) > self.max_idle_per_host:
                surplus = entries.pop(0)
                self.stats.closed_surplus += 1
            self._ensure_reaper()
            self._wake.notify_all()
        if surplus is not None:
            _close_quietly(surplus.transport)

    def _ensure_reaper(self) -> None:
        """Start the reaper thread unless it runs (called with the lock held)."""
        if self._reaper is not None and self._reaper.is_alive():
            return
        self._reaper = threading.Thread(target=self._reap, name="winrm-session-reaper", daemon=True)
        self._reaper.start()

    def _reap(self) -> None:
        """Close sessions idle for ``idle_seconds``; ends when none is left."""
        while True:
            expired: list[_Idle] = []
            with self._lock:
                if not self._idle:
                    self._reaper = None
                    return
                now = self._clock()
                next_due = float("inf")
                for options in list(self._idle):
                    keep = []
                    for entry in self._idle[options]:
                        if self._usable(entry, now):
                            keep.append(entry)
                            next_due = min(next_due, entry.since + self.idle_seconds)
                        else:
                            expired.append(entry)
                    if keep:
                        self._idle[options] = keep
                    else:
                        del self._idle[options]
                self.stats.closed_idle += len(expired)
                if not expired:
                    self._wake.wait(timeout=max(0.05, min(next_due - now, self.idle_seconds)))
            for entry in expired:
                _close_quietly(entry.transport)


def _close_quietly(transport: WinRMTransport) -> None:
    try:
        transport.close()
    except Exception as exc:  # a host that went away: its shell expires there by its idle timeout
        log.debug("closing the WinRM session to %s failed: %s", transport.host, type(exc).__name__)


@atexit.register
def _close_pools() -> None:
    for pool in list(_pools):
        pool.close_all()
