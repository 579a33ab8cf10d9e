"""Units and time shared by every room of the model: byte units, the injectable clock and a manual clock.

Time comes from an injectable clock (``time.monotonic`` by default), so every transition is deterministic in
tests: a :class:`ManualClock` moves only when a test advances it or when a wait sleeps on it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["GB", "MB", "Clock", "ManualClock"]

GB = 1024**3
MB = 1024**2

Clock = Callable[[], float]
"""Seconds on a monotonic scale (``time.monotonic`` or a :class:`ManualClock`)."""


class ManualClock:
    """A clock that moves only when told: ``advance`` it, or let ``sleep`` advance it (deterministic tests)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        with self._lock:
            self.now += seconds

    def sleep(self, seconds: float) -> None:
        """What a wait does under this clock: time passes at once."""
        self.advance(seconds)
