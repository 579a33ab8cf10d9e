"""Tokens that must be refused, each with 401 and an RFC 6750 ``invalid_token`` challenge; missing credentials."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.auth import (
    Authenticator,
    AuthError,
    InvalidTokenError,
    MissingCredentialsError,
    Permission,
    TokenValidator,
)
from tools.fakeentra import FakeEntra, FakeKey

from ._support import FakeClock, authorize, bearer

CHALLENGE = 'Bearer realm="Aether-V", error="invalid_token", error_description="'


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segments(token: str) -> tuple[dict[str, object], dict[str, object], str]:
    header, payload, signature = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(header))),
        json.loads(base64.urlsafe_b64decode(pad(payload))),
        signature,
    )


def assert_invalid(headers: dict[str, str], reason: str) -> InvalidTokenError:
    with pytest.raises(InvalidTokenError) as caught:
        authorize(headers, Permission.READER)
    error = caught.value
    assert error.status == 401
    assert error.www_authenticate is not None
    assert error.www_authenticate.startswith(CHALLENGE)
    assert error.www_authenticate.endswith('"')
    assert reason in error.message, error.message
    assert error.headers()["WWW-Authenticate"] == error.www_authenticate
    return error


def test_valid_token_passes(auth: Authenticator, fake: FakeEntra) -> None:
    assert authorize(bearer(fake.mint(["Aether.Reader"])), Permission.READER).object_id


def test_expired(auth: Authenticator, fake: FakeEntra, clock: FakeClock) -> None:
    token = fake.mint(["Aether.Admin"], expires_in=600)
    clock.advance(600 + 89)  # within the 90 s skew: still accepted
    authorize(bearer(token), Permission.READER)
    clock.advance(1)
    assert_invalid(bearer(token), "expired")


def test_not_yet_valid(auth: Authenticator, fake: FakeEntra) -> None:
    authorize(bearer(fake.mint(["Aether.Admin"], not_before=60)), Permission.READER)  # small skew tolerated
    assert_invalid(bearer(fake.mint(["Aether.Admin"], not_before=600)), "not valid yet")


def test_issued_in_the_future(auth: Authenticator, fake: FakeEntra) -> None:
    assert_invalid(bearer(fake.mint(["Aether.Admin"], issued_at=3600, not_before=0)), "issued in the future")


@pytest.mark.parametrize(
    "audience",
    ["00000003-0000-0000-c000-000000000000", "https://graph.microsoft.com", "api://someone-else", "api://{client}/"],
)
def test_wrong_audience(auth: Authenticator, fake: FakeEntra, audience: str) -> None:
    assert_invalid(bearer(fake.mint(["Aether.Admin"], audience=audience.format(client=fake.client_id))), "audience")


def test_audience_list_is_refused(auth: Authenticator, fake: FakeEntra) -> None:
    token = fake.mint(["Aether.Admin"], extra_claims={"aud": [fake.client_id, "api://other"]})
    assert_invalid(bearer(token), "audience")


@pytest.mark.parametrize(
    "issuer",
    [
        "https://login.microsoftonline.com/{other}/v2.0",
        "https://sts.windows.net/{other}/",
        "https://login.microsoftonline.com/common/v2.0",
        "https://evil.example/{tenant}/v2.0",
        "https://sts.windows.net/{tenant}",
        "https://login.microsoftonline.com/{tenant}/v2.0/",
    ],
)
def test_wrong_issuer(auth: Authenticator, fake: FakeEntra, issuer: str) -> None:
    other = "99999999-9999-4999-8999-999999999999"
    token = fake.mint(["Aether.Admin"], extra_claims={"iss": issuer.format(other=other, tenant=fake.tenant_id)})
    assert_invalid(bearer(token), "issued by")


def test_version_must_match_issuer(auth: Authenticator, fake: FakeEntra) -> None:
    assert_invalid(bearer(fake.mint(["Aether.Admin"], version="1.0", extra_claims={"ver": "2.0"})), "version")


def test_wrong_tenant_claim(auth: Authenticator, fake: FakeEntra) -> None:
    token = fake.mint(["Aether.Admin"], extra_claims={"tid": "99999999-9999-4999-8999-999999999999"})
    assert_invalid(bearer(token), "another tenant")
    assert_invalid(bearer(fake.mint(["Aether.Admin"], extra_claims={"tid": None})), "another tenant")


def test_alg_none(auth: Authenticator, fake: FakeEntra) -> None:
    assert_invalid(bearer(fake.mint(["Aether.Admin"], alg="none")), "RS256")
    unsigned = fake.mint(["Aether.Admin"], alg="none", extra_headers={"alg": "None"})
    assert_invalid(bearer(unsigned), "RS256")


def test_hs256_signed_with_the_public_key(auth: Authenticator, fake: FakeEntra) -> None:
    assert_invalid(bearer(fake.mint(["Aether.Admin"], alg="HS256")), "RS256")


def test_hs256_header_swapped_to_rs256_fails_the_signature(auth: Authenticator, fake: FakeEntra) -> None:
    token = fake.mint(["Aether.Admin"], alg="HS256")
    header, _, signature = _segments(token)
    forged = ".".join([_b64(json.dumps({**header, "alg": "RS256"}).encode()), token.split(".")[1], signature])
    assert_invalid(bearer(forged), "signature")


@pytest.mark.parametrize("alg", ["RS384", "RS512", "PS256"])
def test_other_rsa_algorithms(auth: Authenticator, fake: FakeEntra, alg: str) -> None:
    assert_invalid(bearer(fake.mint(["Aether.Admin"], alg=alg)), "RS256")


def test_unknown_kid_after_a_refresh(auth: Authenticator, fake: FakeEntra, clock: FakeClock) -> None:
    authorize(bearer(fake.mint(["Aether.Reader"])), Permission.READER)
    assert fake.jwks_requests == 1
    assert_invalid(bearer(fake.mint(["Aether.Admin"], kid="no-such-key")), "unknown key")
    assert fake.jwks_requests == 1  # the keys were fetched moments ago: no refresh yet
    clock.advance(61)
    assert_invalid(bearer(fake.mint(["Aether.Admin"], kid="no-such-key")), "unknown key")
    assert fake.jwks_requests == 2  # one refresh was allowed (the first in its window)...
    assert_invalid(bearer(fake.mint(["Aether.Admin"], kid="no-such-key-either")), "unknown key")
    assert fake.jwks_requests == 2  # ...and no more within it


def test_missing_kid(auth: Authenticator, fake: FakeEntra) -> None:
    assert_invalid(bearer(fake.mint(["Aether.Admin"], extra_headers={"kid": None})), "kid")


def test_crit_header(auth: Authenticator, fake: FakeEntra) -> None:
    assert_invalid(bearer(fake.mint(["Aether.Admin"], extra_headers={"crit": ["exp"]})), "")


def test_tampered_payload(auth: Authenticator, fake: FakeEntra) -> None:
    token = fake.mint(["Aether.Reader"])
    header, _, signature = token.split(".")
    claims = _segments(token)[1]
    tampered = _b64(json.dumps({**claims, "roles": ["Aether.Admin"]}).encode())
    assert_invalid(bearer(f"{header}.{tampered}.{signature}"), "signature")


def test_truncated_signature(auth: Authenticator, fake: FakeEntra) -> None:
    token = fake.mint(["Aether.Reader"])
    assert_invalid(bearer(token[:-10]), "signature")
    assert_invalid(bearer(token.rsplit(".", 1)[0] + "."), "signature")


def test_signed_by_another_key_with_a_known_kid(auth: Authenticator, fake: FakeEntra) -> None:
    other = FakeKey.generate()
    token = fake.mint(["Aether.Admin"], kid=fake.active_kid, signing_key=other.private_key)
    assert_invalid(bearer(token), "signature")


@pytest.mark.parametrize(
    "value",
    [
        "Bearer",
        "Bearer ",
        "Bearer a.b",
        "Bearer a.b.c.d",
        "Bearer not-a-jwt",
        "Bearer eyJhbGciOiJSUzI1NiJ9.eyJ.sig",
        "Bearer %%%.%%%.%%%",
        "Bearer two tokens",
        "Bearer " + "a" * 20_000 + ".b.c",
    ],
)
def test_malformed(auth: Authenticator, value: str) -> None:
    error = assert_invalid({"Authorization": value}, "")
    assert "well-formed" in error.message or "Bearer <token>" in error.message


def test_payload_not_an_object(auth: Authenticator, fake: FakeEntra) -> None:
    header = _b64(json.dumps({"alg": "RS256", "kid": fake.active_kid}).encode())
    assert_invalid(bearer(f"{header}.{_b64(b'[1, 2]')}.c2ln"), "well-formed")


def test_non_numeric_times(auth: Authenticator, fake: FakeEntra) -> None:
    assert_invalid(bearer(fake.mint(["Aether.Admin"], extra_claims={"exp": "never"})), "expiry")
    assert_invalid(bearer(fake.mint(["Aether.Admin"], extra_claims={"exp": None})), "expiry")
    assert_invalid(bearer(fake.mint(["Aether.Admin"], extra_claims={"exp": True})), "expiry")
    assert_invalid(bearer(fake.mint(["Aether.Admin"], extra_claims={"nbf": "soon"})), "nbf")


def test_missing_object_id(auth: Authenticator, fake: FakeEntra) -> None:
    assert_invalid(bearer(fake.mint(["Aether.Admin"], extra_claims={"oid": None})), "oid")


@pytest.mark.parametrize("headers", [{}, {"Host": "x"}, {"Authorization": ""}, {"Authorization": "Basic dTpw"}])
def test_missing_credentials(auth: Authenticator, headers: dict[str, str]) -> None:
    with pytest.raises(MissingCredentialsError) as caught:
        authorize(headers, Permission.READER)
    assert caught.value.status == 401
    assert caught.value.www_authenticate == 'Bearer realm="Aether-V"'


def test_validator_refuses_foreign_tokens_without_fetching_keys(
    make_validator: Callable[..., TokenValidator], fake: FakeEntra
) -> None:
    validator = make_validator()
    with pytest.raises(InvalidTokenError):
        validator.validate(fake.mint(["Aether.Admin"], audience="api://someone-else", kid="unknown"))
    assert fake.jwks_requests == 0 and fake.metadata_requests == 0


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300) | st.from_regex(r"\A[A-Za-z0-9_-]{0,40}\.[A-Za-z0-9_-]{0,80}\.[A-Za-z0-9_-]{0,40}\Z"))
def test_garbage_is_always_an_auth_error(garbage: str) -> None:
    fake = FakeEntra(authority="https://login.microsoftonline.com", key=_KEY)
    auth = Authenticator(
        fake.settings(), validator=TokenValidator.from_settings(fake.settings(), fetcher=fake.fetch_json)
    )
    try:
        auth.authorize({"Authorization": f"Bearer {garbage}"}, Permission.READER)
    except AuthError as exc:
        assert exc.status == 401
    else:  # pragma: no cover
        pytest.fail("garbage was accepted")


_KEY = FakeKey.generate("fuzz")


def test_keys_embedded_in_the_header_are_never_used(auth: Authenticator, fake: FakeEntra) -> None:
    attacker = FakeKey.generate("attacker")
    token = fake.mint(
        ["Aether.Admin"],
        kid="attacker",
        signing_key=attacker.private_key,
        extra_headers={"jwk": attacker.jwk("x"), "jku": "https://evil.example/keys", "x5u": "https://evil.example/c"},
    )
    assert_invalid(bearer(token), "unknown key")
    assert fake.jwks_requests == 1  # only the tenant's own key set was read
