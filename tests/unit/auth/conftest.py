"""Fixtures: a controllable clock, an in-memory fake tenant and authenticators wired to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from functions.auth import Authenticator, SigningKeys, TokenValidator, metadata_url_for
from functions.settings import AuthSettings
from tools.fakeentra import FakeEntra, FakeKey

from ._support import PUBLIC_AUTHORITY, FakeClock, use


@pytest.fixture(autouse=True)
def _reset_authenticator() -> Iterator[None]:
    use(None)
    yield
    use(None)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def first_key() -> FakeKey:
    """One signing key for every test's fake tenant (generating RSA keys is the slow part)."""
    return FakeKey.generate("first-key")


@pytest.fixture
def fake(clock: FakeClock, first_key: FakeKey) -> FakeEntra:
    """A fake tenant posing as the public cloud's authority (so v1 tokens carry the sts.windows.net issuer)."""
    return FakeEntra(authority=PUBLIC_AUTHORITY, clock=clock, key=first_key)


@pytest.fixture
def make_validator(fake: FakeEntra, clock: FakeClock) -> Callable[..., TokenValidator]:
    def make(settings: AuthSettings | None = None, **key_options: Any) -> TokenValidator:
        settings = settings or fake.settings()
        keys = SigningKeys(
            metadata_url_for(settings.authority, settings.tenant_id),
            fetcher=fake.fetch_json,
            clock=clock,
            **key_options,
        )
        return TokenValidator.from_settings(settings, clock=clock, keys=keys)

    return make


@pytest.fixture
def validator(make_validator: Callable[..., TokenValidator]) -> TokenValidator:
    return make_validator()


@pytest.fixture
def make_auth(fake: FakeEntra, make_validator: Callable[..., TokenValidator]) -> Callable[..., Authenticator]:
    """Build an authenticator for the fake tenant (settings overridable); ``_support.authorize`` uses it."""

    def make(**overrides: Any) -> Authenticator:
        settings = fake.settings(**overrides)
        validator = make_validator(settings) if settings.mode == "entra" else None
        auth = Authenticator(settings, validator=validator)
        use(auth)
        return auth

    return make


@pytest.fixture
def auth(make_auth: Callable[..., Authenticator]) -> Authenticator:
    return make_auth()
