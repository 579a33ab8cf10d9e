"""The signing key cache: one fetch for many validations, refresh on rotation, rate limit, stale keys, cold start."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from functions.auth import (
    AuthError,
    AuthUnavailableError,
    InvalidTokenError,
    SigningKeys,
    TokenValidator,
    metadata_url_for,
)
from functions.auth.jwks import KeyFetchError, parse_jwks
from tools.fakeentra import FakeEntra

from ._support import FakeClock


def test_one_fetch_serves_many_validations(validator: TokenValidator, fake: FakeEntra) -> None:
    for kind in ("user", "app", "managed_identity") * 10:
        validator.validate(fake.mint(["Aether.Reader"], kind=kind))  # type: ignore[arg-type]
    assert (fake.metadata_requests, fake.jwks_requests) == (1, 1)


def test_rotation_refetches_once_then_succeeds(validator: TokenValidator, fake: FakeEntra, clock: FakeClock) -> None:
    validator.validate(fake.mint(["Aether.Reader"]))
    clock.advance(300)
    new = fake.rotate_key()
    for _ in range(5):
        claims = validator.validate(fake.mint(["Aether.Reader"]))
        assert claims["roles"] == ["Aether.Reader"]
    assert fake.jwks_requests == 2
    assert fake.metadata_requests == 1  # jwks_uri is remembered
    assert new.kid in validator.keys.kids


def test_tokens_signed_by_a_retired_key_fail_after_refresh(
    validator: TokenValidator, fake: FakeEntra, clock: FakeClock
) -> None:
    old_token = fake.mint(["Aether.Reader"], expires_in=7200)
    validator.validate(old_token)
    fake.rotate_key(retire_old=True)
    clock.advance(3601)  # the cache is now older than max_age: the next use refreshes
    validator.validate(fake.mint(["Aether.Reader"]))
    assert fake.jwks_requests == 2
    with pytest.raises(InvalidTokenError, match="unknown key"):
        validator.validate(old_token)


def test_spray_of_unknown_kids_is_rate_limited(validator: TokenValidator, fake: FakeEntra, clock: FakeClock) -> None:
    validator.validate(fake.mint(["Aether.Reader"]))
    assert fake.jwks_requests == 1
    for second in range(180):
        clock.advance(1)
        for n in range(10):
            with pytest.raises(InvalidTokenError, match="unknown key"):
                validator.validate(fake.mint(["Aether.Reader"], kid=f"spray-{second}-{n}"))
    # 180 s of 10 bogus kids per second: at most one refetch per 60 s window.
    assert fake.jwks_requests - 1 <= 3
    assert fake.jwks_requests - 1 >= 2


def test_rotation_within_the_window_waits_for_it(validator: TokenValidator, fake: FakeEntra, clock: FakeClock) -> None:
    validator.validate(fake.mint(["Aether.Reader"]))
    fake.rotate_key()
    with pytest.raises(InvalidTokenError, match="unknown key"):  # refreshed less than 60 s ago
        validator.validate(fake.mint(["Aether.Reader"]))
    clock.advance(60)
    validator.validate(fake.mint(["Aether.Reader"]))
    assert fake.jwks_requests == 2


def test_stale_keys_are_used_when_the_authority_is_down(
    validator: TokenValidator, fake: FakeEntra, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    validator.validate(fake.mint(["Aether.Reader"]))
    fake.down = True
    clock.advance(2 * 3600)  # keys older than max_age: a refresh is attempted and fails
    with caplog.at_level(logging.WARNING, logger="functions.auth"):
        validator.validate(fake.mint(["Aether.Reader"]))
        validator.validate(fake.mint(["Aether.Reader"]))
    assert "refresh failed" in caplog.text
    assert (fake.metadata_requests, fake.jwks_requests) == (1, 2)  # one failed attempt in the window
    clock.advance(61)
    fake.down = False
    validator.validate(fake.mint(["Aether.Reader"]))  # the next window recovers, re-reading the metadata
    assert (fake.metadata_requests, fake.jwks_requests) == (2, 3)


def test_cold_start_with_the_authority_down(validator: TokenValidator, fake: FakeEntra, clock: FakeClock) -> None:
    fake.down = True
    with pytest.raises(AuthUnavailableError) as caught:
        validator.validate(fake.mint(["Aether.Reader"]))
    assert caught.value.status == 503
    assert caught.value.www_authenticate is None
    assert caught.value.headers()["Retry-After"] == "30"
    with pytest.raises(AuthUnavailableError):
        validator.validate(fake.mint(["Aether.Reader"]))
    assert fake.metadata_requests == 1  # retries are spaced
    clock.advance(5)
    fake.down = False
    validator.validate(fake.mint(["Aether.Reader"]))
    assert (fake.metadata_requests, fake.jwks_requests) == (2, 1)


def test_metadata_must_point_to_https_keys(fake: FakeEntra, clock: FakeClock) -> None:
    def fetcher(url: str, *, timeout: float) -> Any:
        return {"jwks_uri": "http://evil.example/keys"} if "well-known" in url else fake.jwks()

    keys = SigningKeys(metadata_url_for(fake.authority, fake.tenant_id), fetcher=fetcher, clock=clock)
    with pytest.raises(AuthUnavailableError):
        keys.get(fake.active_kid)


def test_fetcher_exceptions_of_any_kind_are_contained(fake: FakeEntra, clock: FakeClock) -> None:
    def fetcher(url: str, *, timeout: float) -> Any:
        raise RuntimeError("secret detail")

    keys = SigningKeys("https://login.example/t/v2.0/.well-known/openid-configuration", fetcher=fetcher, clock=clock)
    with pytest.raises(AuthUnavailableError) as caught:
        keys.get("kid")
    assert "secret detail" not in str(caught.value)


def test_the_timeout_is_passed_to_the_fetcher(fake: FakeEntra, clock: FakeClock) -> None:
    seen: list[float] = []

    def fetcher(url: str, *, timeout: float) -> Any:
        seen.append(timeout)
        return fake.fetch_json(url, timeout=timeout)

    keys = SigningKeys(metadata_url_for(fake.authority, fake.tenant_id), fetcher=fetcher, clock=clock, timeout=2.5)
    assert keys.get(fake.active_kid) is not None
    assert seen == [2.5, 2.5]


def _jwk(key: Any, **extra: Any) -> dict[str, Any]:
    algorithm = RSAAlgorithm if isinstance(key, rsa.RSAPublicKey) else ECAlgorithm
    return {**algorithm.to_jwk(key, as_dict=True), **extra}


def test_parse_jwks_keeps_only_rsa_signing_keys_of_2048_bits(fake: FakeEntra) -> None:
    good = fake.active_key.private_key.public_key()
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    ec_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    document = {
        "keys": [
            _jwk(good, kid="good", use="sig"),
            _jwk(good, kid="encryption", use="enc"),
            _jwk(good, kid="rs512", alg="RS512"),
            _jwk(weak, kid="weak"),
            _jwk(ec_key, kid="ec"),
            {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            _jwk(good),
            "not a key",
        ]
    }
    assert list(parse_jwks(document)) == ["good"]


@pytest.mark.parametrize("document", [None, [], {"keys": "x"}, {"keys": []}, {"nokeys": 1}])
def test_parse_jwks_rejects_empty_or_malformed_sets(document: Any) -> None:
    with pytest.raises(KeyFetchError):
        parse_jwks(document)


def test_validator_uses_the_tenant_metadata_url(make_validator: Callable[..., TokenValidator], fake: FakeEntra) -> None:
    validator = make_validator()
    assert validator.keys.metadata_url == (
        f"https://login.microsoftonline.com/{fake.tenant_id}/v2.0/.well-known/openid-configuration"
    )


def test_concurrent_cold_start_fetches_once(fake: FakeEntra, clock: FakeClock) -> None:
    def slow_fetch(url: str, *, timeout: float) -> Any:
        time.sleep(0.05)
        return fake.fetch_json(url, timeout=timeout)

    keys = SigningKeys(metadata_url_for(fake.authority, fake.tenant_id), fetcher=slow_fetch, clock=clock)
    validator = TokenValidator.from_settings(fake.settings(), clock=clock, keys=keys)
    token = fake.mint(["Aether.Reader"])
    errors: list[BaseException] = []

    def validate() -> None:
        try:
            validator.validate(token)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=validate) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
    assert (fake.metadata_requests, fake.jwks_requests) == (1, 1)


def test_an_app_with_its_own_signing_keys_needs_appid_on_the_metadata(fake: FakeEntra, clock: FakeClock) -> None:
    """Claims mapping gives the app registration its own key; only ``?appid=<client id>`` metadata points to it."""
    fake.use_app_signing_key()
    token = fake.mint(["Aether.Reader"])
    plain = TokenValidator.from_settings(fake.settings(), clock=clock, fetcher=fake.fetch_json)
    with pytest.raises(AuthError):
        plain.validate(token)  # the tenant's key set does not have the app's key
    mapped = TokenValidator.from_settings(fake.settings(app_signing_keys=True), clock=clock, fetcher=fake.fetch_json)
    assert mapped.keys.metadata_url.endswith(f"?appid={fake.client_id}")
    assert mapped.validate(token)["roles"] == ["Aether.Reader"]


def test_the_app_signing_keys_setting_is_read() -> None:
    from functions.settings import load_settings
    from tests.unit.test_settings import env

    assert load_settings(env(AETHERV_ENTRA_APP_SIGNING_KEYS="true")).auth.app_signing_keys is True
    assert load_settings(env()).auth.app_signing_keys is False
