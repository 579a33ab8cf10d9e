"""Test support: a controllable clock and request headers."""

from __future__ import annotations

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
