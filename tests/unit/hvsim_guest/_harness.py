"""A minimal host following §15 of the protocol against one SimulatedGuest, on a fake clock.

It uses the real host side (functions.guest) for everything it publishes, and drives the guest the way the
simulator host model does: a tick before every host write and before every read of the guest pool. Guests play
the upstream agents (``agent="upstream"``) unless a test asks for this project's (``agent="aetherv"``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from cryptography.hazmat.primitives.asymmetric import rsa

from functions.guest import names
from functions.guest.errors import GuestKeyError
from functions.guest.kvp import build_host_items, reassemble
from functions.guest.status import GuestStatus, read_guest_status
from tools.hvsim.guest import GuestBehaviour, OsFamily, SimulatedGuest, pooled_key

VERSION = "2.4.000"


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Outcome:
    result: str  # applied | failed | timeout-key | timeout-completion | key-error
    status: GuestStatus
    elapsed: float


@dataclass
class Host:
    guest: SimulatedGuest
    clock: FakeClock
    version: str = VERSION
    host_pool: dict[str, str] = field(default_factory=dict)
    guest_pool: dict[str, str] = field(default_factory=dict)

    def read_guest(self) -> dict[str, str]:
        self.guest.tick(self.host_pool, self.guest_pool)
        return dict(self.guest_pool)

    def write(self, items: Mapping[str, str]) -> None:
        self.guest.tick(self.host_pool, self.guest_pool)
        self.host_pool.update(items)

    def wait(self, seconds: float) -> None:
        self.guest.tick(self.host_pool, self.guest_pool)
        self.clock.advance(seconds)
        self.guest.tick(self.host_pool, self.guest_pool)

    def signal_ready(self) -> None:
        self.write({names.VERSION_KEY: self.version})  # version first (D6)
        self.write({names.HOST_STATE_KEY: names.HostState.WAITING_FOR_PUBLIC_KEY})

    def run(
        self,
        values: Mapping[str, str | None],
        *,
        key_timeout: float = 300.0,
        completion_timeout: float = 1800.0,
        publish_pause: float = 30.0,
        baseline: GuestStatus | None = None,
    ) -> Outcome:
        start = self.clock()
        if baseline is None:
            baseline = read_guest_status(self.read_guest())
        self.signal_ready()
        status = self._poll(lambda s: s.waiting_for_aes_key or s.failed, key_timeout, baseline)
        if status is None:
            return Outcome("timeout-key", read_guest_status(self.read_guest(), baseline=baseline), self.clock() - start)
        if status.failed:
            return Outcome("failed", status, self.clock() - start)
        public_key = reassemble(self.read_guest(), names.GUEST_PUBLIC_KEY_KEY)
        assert public_key is not None
        try:
            items = build_host_items(public_key, values)
        except GuestKeyError:
            return Outcome("key-error", status, self.clock() - start)
        self.publish(items, publish_pause)
        # this run's guest is confirmed (new key, waitingforaeskey): it becomes the baseline for completion
        status = self._poll(lambda s: s.finished, completion_timeout, status)
        if status is None:
            return Outcome("timeout-completion", read_guest_status(self.read_guest()), self.clock() - start)
        return Outcome("applied" if status.applied else "failed", status, self.clock() - start)

    def publish(self, items: Mapping[str, str], pause: float = 30.0) -> None:
        self.write(items)
        self.wait(pause)
        self.write({names.HOST_STATE_KEY: names.HostState.DATA_PUBLISHED})

    def _poll(self, done: Callable[[GuestStatus], bool], timeout: float, baseline: GuestStatus) -> GuestStatus | None:
        deadline = self.clock() + timeout
        while True:
            status = read_guest_status(self.read_guest(), baseline=baseline)
            if done(status):
                return status
            if self.clock() >= deadline:
                return None
            self.clock.advance(5.0)


def new_host(
    os_family: OsFamily,
    *,
    behaviour: GuestBehaviour | None = None,
    iso_version: str = VERSION,
    key: rsa.RSAPrivateKey | None = None,
    fresh_key: bool = False,
    agent: str = "upstream",
) -> Host:
    clock = FakeClock()
    if key is None and not fresh_key:
        key = pooled_key(0)
    behaviour = replace(behaviour or GuestBehaviour(), agent=agent)
    guest = SimulatedGuest(os_family, iso_version, behaviour=behaviour, clock=clock, key=key)
    return Host(guest, clock)
