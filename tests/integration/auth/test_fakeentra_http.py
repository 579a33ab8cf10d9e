"""functions.auth over real HTTP: the app's urllib fetcher against the fake tenant served on loopback."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator

import pytest

from functions.auth import (
    Authenticator,
    AuthUnavailableError,
    IdentityType,
    InvalidTokenError,
    Permission,
    SigningKeys,
    TokenValidator,
    fetch_json,
    metadata_url_for,
)
from functions.auth.jwks import KeyFetchError
from functions.settings import load_settings
from tools.fakeentra import FakeEntra


@pytest.fixture
def fake() -> Iterator[FakeEntra]:
    with FakeEntra() as running:
        yield running


def _get(url: str) -> tuple[int, dict[str, object]]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_endpoints_look_like_entra(fake: FakeEntra) -> None:
    status, metadata = _get(f"{fake.authority}/{fake.tenant_id}/v2.0/.well-known/openid-configuration")
    assert status == 200
    assert metadata["issuer"] == f"{fake.authority}/{fake.tenant_id}/v2.0"
    assert metadata["jwks_uri"] == f"{fake.authority}/{fake.tenant_id}/discovery/v2.0/keys"
    status, v1 = _get(f"{fake.authority}/{fake.tenant_id}/.well-known/openid-configuration")
    assert status == 200
    assert v1["issuer"] == f"{fake.authority}/{fake.tenant_id}/"
    status, keys = _get(str(metadata["jwks_uri"]))
    assert status == 200
    assert [key["kid"] for key in keys["keys"]] == [fake.active_kid]  # type: ignore[union-attr,index]
    assert _get(f"{fake.authority}/other-tenant/v2.0/.well-known/openid-configuration")[0] == 404
    assert (fake.metadata_requests, fake.jwks_requests) == (2, 1)


def test_authorize_end_to_end_from_settings(
    fake: FakeEntra, local_settings: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in fake.env().items():
        monkeypatch.setenv(name, value)
    settings = load_settings().auth
    assert settings.authority == fake.authority
    auth = Authenticator(settings)
    for version in ("1.0", "2.0"):
        for kind in ("user", "app", "managed_identity"):
            token = fake.mint(["Aether.Operator"], version=version, kind=kind)  # type: ignore[arg-type]
            principal = auth.authorize({"Authorization": f"Bearer {token}"}, Permission.OPERATOR)
            assert principal.token_version == version
            assert principal.identity_type is IdentityType(kind)
    assert (fake.metadata_requests, fake.jwks_requests) == (1, 1)


def test_rotation_and_outage_over_http(fake: FakeEntra) -> None:
    now = [time.monotonic()]
    keys = SigningKeys(metadata_url_for(fake.authority, fake.tenant_id), clock=lambda: now[0], timeout=2)
    validator = TokenValidator.from_settings(fake.settings(), keys=keys)
    auth = Authenticator(fake.settings(), validator=validator)
    auth.authorize({"Authorization": f"Bearer {fake.mint(['Aether.Reader'])}"}, Permission.READER)
    fake.rotate_key()
    now[0] += 61
    auth.authorize({"Authorization": f"Bearer {fake.mint(['Aether.Reader'])}"}, Permission.READER)
    assert (fake.metadata_requests, fake.jwks_requests) == (1, 2)
    fake.down = True
    now[0] += 7200
    auth.authorize({"Authorization": f"Bearer {fake.mint(['Aether.Reader'])}"}, Permission.READER)  # stale keys
    assert fake.jwks_requests == 3


def test_slow_authority_times_out(fake: FakeEntra) -> None:
    fake.delay = 1.0
    keys = SigningKeys(metadata_url_for(fake.authority, fake.tenant_id), timeout=0.2)
    validator = TokenValidator.from_settings(fake.settings(), keys=keys)
    started = time.monotonic()
    with pytest.raises(AuthUnavailableError):
        validator.validate(fake.mint(["Aether.Reader"]))
    assert time.monotonic() - started < 1.0


def test_authority_unreachable() -> None:
    fake = FakeEntra()
    fake.start()
    fake.stop()  # nothing listens on that port any more
    validator = TokenValidator.from_settings(fake.settings())
    with pytest.raises(AuthUnavailableError):
        validator.validate(fake.mint(["Aether.Reader"]))


def test_fetch_json_refuses_odd_answers(fake: FakeEntra) -> None:
    with pytest.raises(KeyFetchError, match="HTTP 404"):
        fetch_json(f"{fake.authority}/nope", timeout=2)
    with pytest.raises(KeyFetchError, match="only http"):
        fetch_json("file:///etc/passwd", timeout=2)
    fake.down = True
    with pytest.raises(KeyFetchError, match="HTTP 503"):
        fetch_json(f"{fake.authority}/{fake.tenant_id}/discovery/v2.0/keys", timeout=2)


def test_forged_tokens_over_http(fake: FakeEntra) -> None:
    auth = Authenticator(fake.settings())
    for token in (fake.mint(["Aether.Admin"], alg="HS256"), fake.mint(["Aether.Admin"], kid="unknown")):
        with pytest.raises(InvalidTokenError):
            auth.authorize({"Authorization": f"Bearer {token}"}, Permission.READER)
