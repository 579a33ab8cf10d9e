"""The Easy Auth principal header: ignored unless Easy Auth is enabled, then mapped to the same principal."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable

import pytest

from functions.auth import (
    Authenticator,
    IdentityType,
    InsufficientPermissionError,
    InvalidTokenError,
    MissingCredentialsError,
    Permission,
)
from tools.fakeentra import FakeEntra, client_principal_header

from ._support import APP_HOST, authorize, bearer


def _header(fake: FakeEntra, roles: list[str], **kwargs: object) -> str:
    claims = fake.claims(roles, **kwargs)  # type: ignore[arg-type]
    return client_principal_header(claims)


def test_forged_header_is_ignored_without_easy_auth(
    auth: Authenticator, fake: FakeEntra, caplog: pytest.LogCaptureFixture
) -> None:
    forged = _header(fake, ["Aether.Admin"], kind="app")
    with caplog.at_level(logging.WARNING, logger="functions.auth"), pytest.raises(MissingCredentialsError) as caught:
        authorize({"X-MS-CLIENT-PRINCIPAL": forged, "Host": APP_HOST}, Permission.READER)
    assert caught.value.status == 401
    assert "ignored an x-ms-client-principal header" in caplog.text


def test_forged_header_does_not_upgrade_a_bearer_token(auth: Authenticator, fake: FakeEntra) -> None:
    forged = _header(fake, ["Aether.Admin"])
    with pytest.raises(InsufficientPermissionError):
        authorize(bearer(fake.mint(["Aether.Reader"]), **{"X-MS-CLIENT-PRINCIPAL": forged}), Permission.ADMIN)


def test_header_maps_to_a_principal_when_enabled(make_auth: Callable[..., Authenticator], fake: FakeEntra) -> None:
    make_auth(easy_auth_enabled=True)
    header = _header(fake, ["Aether.Operator", "Other.Role"], version="1.0")
    principal = authorize({"x-ms-client-principal": header}, Permission.OPERATOR)
    assert principal.source == "easy_auth"
    assert principal.object_id == "11111111-1111-4111-8111-111111111111"
    assert principal.tenant_id == fake.tenant_id
    assert principal.identity_type is IdentityType.USER
    assert principal.display_name == "Ada Lovelace"
    assert principal.username == "ada@contoso.example"
    assert principal.roles == ("Aether.Operator", "Other.Role")
    assert principal.permission is Permission.OPERATOR


def test_managed_identity_through_easy_auth(make_auth: Callable[..., Authenticator], fake: FakeEntra) -> None:
    make_auth(easy_auth_enabled=True)
    principal = authorize(
        {"X-MS-CLIENT-PRINCIPAL": _header(fake, ["Aether.Admin"], kind="managed_identity", version="1.0")},
        Permission.ADMIN,
    )
    assert principal.identity_type is IdentityType.MANAGED_IDENTITY
    assert principal.app_id == "b0b0b0b0-0000-4000-8000-00000000b991"


def test_custom_role_type(make_auth: Callable[..., Authenticator], fake: FakeEntra) -> None:
    make_auth(easy_auth_enabled=True)
    header = client_principal_header(fake.claims(["Aether.Reader"], kind="app"), role_type="roles")
    assert authorize({"X-MS-CLIENT-PRINCIPAL": header}, Permission.READER).permission is Permission.READER


def test_bearer_token_wins_over_the_header(make_auth: Callable[..., Authenticator], fake: FakeEntra) -> None:
    make_auth(easy_auth_enabled=True)
    header = _header(fake, ["Aether.Admin"])
    principal = authorize(bearer(fake.mint(["Aether.Reader"]), **{"X-MS-CLIENT-PRINCIPAL": header}), Permission.READER)
    assert principal.source == "bearer"
    assert principal.permission is Permission.READER
    with pytest.raises(InvalidTokenError):  # an invalid bearer token is not rescued by the header
        authorize(
            bearer(fake.mint(["Aether.Admin"], alg="none"), **{"X-MS-CLIENT-PRINCIPAL": header}), Permission.READER
        )


def test_header_without_roles_is_forbidden(make_auth: Callable[..., Authenticator], fake: FakeEntra) -> None:
    make_auth(easy_auth_enabled=True)
    with pytest.raises(InsufficientPermissionError, match="delegated"):
        authorize({"X-MS-CLIENT-PRINCIPAL": _header(fake, [])}, Permission.READER)


def test_header_from_another_tenant(make_auth: Callable[..., Authenticator], fake: FakeEntra) -> None:
    make_auth(easy_auth_enabled=True)
    header = _header(fake, ["Aether.Admin"], extra_claims={"tid": "99999999-9999-4999-8999-999999999999"})
    with pytest.raises(InvalidTokenError, match="another tenant"):
        authorize({"X-MS-CLIENT-PRINCIPAL": header}, Permission.READER)


@pytest.mark.parametrize(
    "value",
    [
        "not base64!",
        base64.b64encode(b"not json").decode(),
        base64.b64encode(b"[]").decode(),
        base64.b64encode(json.dumps({"claims": "x"}).encode()).decode(),
        base64.b64encode(json.dumps({"claims": [{"typ": "name", "val": "x"}]}).encode()).decode(),
        "A" * 70_000,
    ],
)
def test_malformed_header(make_auth: Callable[..., Authenticator], value: str) -> None:
    auth = make_auth(easy_auth_enabled=True)
    with pytest.raises(InvalidTokenError) as caught:
        auth.authenticate({"X-MS-CLIENT-PRINCIPAL": value})
    assert caught.value.status == 401


def test_no_header_and_no_token_with_easy_auth(make_auth: Callable[..., Authenticator]) -> None:
    make_auth(easy_auth_enabled=True)
    with pytest.raises(MissingCredentialsError):
        authorize({}, Permission.READER)
