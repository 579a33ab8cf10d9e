"""The clone-slot semaphore: at most N holders, FIFO order, stale holders and waiters reclaimed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from functions.workflows.throttle import SlotRequest, Slots, decide

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


class Sem:
    def __init__(self, limit: int) -> None:
        self.state = Slots()
        self.limit = limit

    def acquire(self, owner: str, minutes: float = 0) -> bool:
        self.state, result = decide(self.state, "acquire", SlotRequest(owner, at(minutes), self.limit))
        return bool(result)

    def release(self, owner: str, minutes: float = 0) -> None:
        self.state, _ = decide(self.state, "release", SlotRequest(owner, at(minutes)))


def test_at_most_limit_holders_and_reentrant() -> None:
    sem = Sem(2)
    assert sem.acquire("a")
    assert sem.acquire("b")
    assert not sem.acquire("c")
    assert sem.acquire("a")  # a holder asking again keeps its slot
    assert sorted(sem.state.holders) == ["a", "b"]


def test_waiters_are_served_in_order() -> None:
    sem = Sem(1)
    assert sem.acquire("a")
    assert not sem.acquire("b", 1)
    assert not sem.acquire("c", 2)
    sem.release("a", 3)
    assert not sem.acquire("c", 3.1)  # c asks first after the release but b is ahead
    assert sem.acquire("b", 3.2)
    sem.release("b", 4)
    assert sem.acquire("c", 4.1)


def test_a_crashed_holder_is_reclaimed_after_the_lease() -> None:
    sem = Sem(1)
    assert sem.acquire("dead")
    assert not sem.acquire("b", 60)
    assert sem.acquire("b", 121)


def test_a_holder_that_asks_again_renews_its_lease() -> None:
    """A background image copy outlasts the lease: its workflow renews the slot while it polls."""
    sem = Sem(1)
    assert sem.acquire("copying")
    assert sem.acquire("copying", 100)  # renewed at 100 min
    assert not sem.acquire("b", 180)  # past the first lease, inside the renewed one
    assert sem.acquire("copying", 200)
    assert not sem.acquire("b", 310)
    assert sem.acquire("b", 321)  # it stopped renewing at 200 min: reclaimed two hours later


def test_a_waiter_that_stopped_asking_loses_its_place() -> None:
    sem = Sem(1)
    assert sem.acquire("a")
    assert not sem.acquire("gone", 1)
    assert not sem.acquire("c", 2)
    sem.release("a", 3)
    assert sem.acquire("c", 12)


def test_release_of_a_waiter_leaves_the_queue() -> None:
    sem = Sem(1)
    assert sem.acquire("a")
    assert not sem.acquire("b", 1)
    sem.release("b", 2)
    sem.release("a", 3)
    assert sem.state == Slots()
