"""Host/backend registry: the simulated hosts and clusters of one lab, with reset, clocks and the guest ticker.

Organised like a moto backend: :class:`Backend` is the registry of :class:`~tools.hvsim.models.hosts.FakeHost`
and :class:`~tools.hvsim.models.cluster.FakeCluster` objects with :meth:`Backend.reset`; it is also the
:class:`~tools.hvsim.models.vms.Runtime` every host and VM reads its clocks, transition times and guest-agent
factory from. Its background ticker advances every running guest agent, as time passing inside real guests would.
:meth:`Backend.reset` and :meth:`Backend.close` release every VM's guest (no agent process outlives them).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from tools.hvsim.guest import GuestBehaviour
from tools.hvsim.models.cluster import FakeCluster
from tools.hvsim.models.core import Clock
from tools.hvsim.models.guest_os import GuestFactory, default_guest_factory
from tools.hvsim.models.hosts import FakeHost
from tools.hvsim.models.migration import MigrationControl
from tools.hvsim.models.vms import FakeVm, TransitionTimes

__all__ = ["Backend"]


class Backend:
    """The registry of simulated hosts and clusters (one per lab), with reset, a clock and a guest ticker.

    ``times`` are the VM transition times; ``guest_factory`` builds each VM's provisioning agent (default:
    :func:`~tools.hvsim.models.guest_os.default_guest_factory`); ``guest_behaviour`` is the lab-wide default
    behaviour of guests (a host's or VM's own wins; None: the factory's default); ``clock``/``sleep`` drive every
    wait (tests pass a manual clock whose ``sleep`` advances it); ``copy_rate`` is how fast hosts copy images
    (bytes per second of that clock; None: at once), unless a host has its own.
    """

    def __init__(
        self,
        *,
        clock: Clock = time.monotonic,
        times: TransitionTimes | None = None,
        guest_factory: GuestFactory = default_guest_factory,
        wall_clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        guest_behaviour: GuestBehaviour | None = None,
        copy_rate: float | None = None,
    ) -> None:
        self.clock = clock
        self.copy_rate = copy_rate
        self.guest_behaviour = guest_behaviour
        self.sleep = sleep
        self.times = times or TransitionTimes()
        self.guest_factory = guest_factory
        self._wall_clock = wall_clock or (lambda: datetime.now(UTC))
        self.hosts: dict[str, FakeHost] = {}
        self.clusters: dict[str, FakeCluster] = {}
        self.migration = MigrationControl()  # unreachable destinations and migration faults (tests inject them)
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()

    def now(self) -> datetime:
        """Wall-clock time for creation timestamps."""
        return self._wall_clock()

    def reset(self) -> None:
        """Forget every host and cluster (releasing every VM's guest first)."""
        self.release_guests()
        self.hosts.clear()
        self.clusters.clear()
        self.migration.reset()

    def release_guests(self) -> None:
        """Stop every guest agent process and delete its sandbox."""
        for vm in list(self.all_vms()):
            vm.dispose()

    def close(self) -> None:
        """Stop the ticker and release every guest (the lab stops)."""
        self.stop_ticker()
        self.release_guests()

    def add_host(self, host: FakeHost) -> FakeHost:
        """Register ``host`` (by lower-case name)."""
        self.hosts[host.name.lower()] = host
        return host

    def host(self, name: str) -> FakeHost:
        """The host named ``name``; ``KeyError`` otherwise."""
        return self.hosts[name.lower()]

    def all_vms(self) -> Iterator[FakeVm]:
        """Every VM of every host."""
        for host in list(self.hosts.values()):
            yield from list(host.vms.values())

    def tick(self) -> None:
        """Advance every running guest agent and background worker once."""
        for host in list(self.hosts.values()):
            with host.lock:
                host.background.settle()
                for vm in list(host.vms.values()):
                    vm.tick_guest()

    def start_ticker(self, interval: float = 0.2) -> None:
        """Tick guests in a daemon thread every ``interval`` seconds until :meth:`stop_ticker`."""
        if self._ticker is not None:
            return
        self._stop.clear()

        def run() -> None:
            while not self._stop.wait(interval):
                self.tick()

        self._ticker = threading.Thread(target=run, name="hvsim-guest-ticker", daemon=True)
        self._ticker.start()

    def stop_ticker(self) -> None:
        """Stop the background ticker."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
            self._ticker = None
