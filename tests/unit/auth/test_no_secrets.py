"""No token, part of a token, or key material ever appears in exception messages, challenges or logs."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from functions.auth import Authenticator, AuthError, Permission
from tools.fakeentra import FakeEntra, FakeKey, client_principal_header

from ._support import FakeClock, bearer


def _secrets_of(token: str) -> list[str]:
    """The token and every segment of it long enough to be meaningful."""
    return [token, *(segment[:24] for segment in token.split(".") if len(segment) >= 24)]


def test_nothing_secret_is_logged_or_raised(
    make_auth: Callable[..., Authenticator], fake: FakeEntra, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    auth = make_auth()
    other = FakeKey.generate()
    tokens = [
        fake.mint(["Aether.Reader"]),  # valid, then forbidden for ADMIN
        fake.mint([], scopes=["user_impersonation"]),  # delegated only
        fake.mint(["Aether.Admin"], expires_in=-3600),
        fake.mint(["Aether.Admin"], audience="api://other"),
        fake.mint(["Aether.Admin"], alg="none"),
        fake.mint(["Aether.Admin"], alg="HS256"),
        fake.mint(["Aether.Admin"], kid="unknown-kid"),
        fake.mint(["Aether.Admin"], signing_key=other.private_key),
        fake.mint(["Aether.Admin"], extra_claims={"oid": None}),
        fake.mint(["Aether.Admin"])[:-5],
        "eyJhbGciOiJSUzI1NiJ9.garbage.signature-bytes-here",
    ]
    key_material = [
        fake.active_key.public_pem.decode().splitlines()[1],
        str(fake.jwks()["keys"][0]["n"])[:24],
        str(other.jwk("x")["n"])[:24],
    ]
    raised: list[str] = []
    with caplog.at_level(logging.DEBUG):
        for token in tokens:
            clock.advance(61)  # let every unknown kid trigger a refresh (and its log lines)
            try:
                auth.authorize(bearer(token), Permission.ADMIN)
            except AuthError as exc:
                raised += [str(exc), repr(exc), exc.message, str(exc.www_authenticate), str(exc.problem())]
        fake.down = True
        clock.advance(7200)
        try:
            auth.authorize(bearer(fake.mint(["Aether.Admin"], kid="another-unknown")), Permission.ADMIN)
        except AuthError as exc:
            raised.append(str(exc))
    texts = "\n".join([caplog.text, *raised, *(str(record.args) for record in caplog.records)])
    assert "rejected" in caplog.text and "denied" in caplog.text and "refresh failed" in caplog.text
    for token in tokens:
        for secret in _secrets_of(token):
            assert secret not in texts
    for material in key_material:
        assert material not in texts


def test_easy_auth_header_is_not_logged(
    make_auth: Callable[..., Authenticator], fake: FakeEntra, caplog: pytest.LogCaptureFixture
) -> None:
    header = client_principal_header(fake.claims(["Aether.Admin"]))
    for enabled in (False, True):
        auth = make_auth(easy_auth_enabled=enabled)
        with caplog.at_level(logging.DEBUG):
            try:
                auth.authorize({"X-MS-CLIENT-PRINCIPAL": header[:-8] + "!!!!!!!!"}, Permission.ADMIN)
            except AuthError as exc:
                assert header[:40] not in str(exc)
    assert header[:40] not in caplog.text
