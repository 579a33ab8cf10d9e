"""Test support: a controllable clock and request headers."""

from __future__ import annotations

from collections.abc import Mapping

from functions.auth import Authenticator, Permission, Principal

PUBLIC_AUTHORITY = "https://login.microsoftonline.com"
APP_HOST = "aetherv.azurewebsites.net"


class FakeClock:
    """A clock that only moves when told to (serves as both wall clock and monotonic clock)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def bearer(token: str, **extra: str) -> dict[str, str]:
    """Request headers carrying ``token`` as a bearer credential."""
    return {"Authorization": f"Bearer {token}", "Host": APP_HOST, **extra}


_current: list[Authenticator] = []


def use(authenticator: Authenticator | None) -> None:
    """Make ``authenticator`` the one :func:`authorize` uses (``None``: none)."""
    _current[:] = [] if authenticator is None else [authenticator]


def authorize(headers: Mapping[str, str], required: Permission) -> Principal:
    """Authorize ``headers`` with the authenticator the test built last (``make_auth``)."""
    assert _current, "build an authenticator first (the auth or make_auth fixture)"
    return _current[0].authorize(headers, required)
