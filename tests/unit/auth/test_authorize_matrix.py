"""The authorization matrix: every permission required × every role held, for every caller kind, token version and
audience form; the hierarchy admin ⊃ operator ⊃ reader; the principal a token yields."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from functions.auth import (
    Authenticator,
    IdentityType,
    InsufficientPermissionError,
    Permission,
)
from tools.fakeentra import AZURE_CLI_APP_ID, FakeEntra

from ._support import authorize, bearer

ROLE_OF = {
    None: [],
    Permission.READER: ["Aether.Reader"],
    Permission.OPERATOR: ["Aether.Operator"],
    Permission.ADMIN: ["Aether.Admin"],
}


@pytest.mark.parametrize("audience_form", ["client_id", "app_id_uri"])
@pytest.mark.parametrize("version", ["1.0", "2.0"])
@pytest.mark.parametrize("kind", ["user", "app", "managed_identity"])
@pytest.mark.parametrize("held", [None, Permission.READER, Permission.OPERATOR, Permission.ADMIN])
@pytest.mark.parametrize("required", list(Permission))
def test_matrix(
    auth: Authenticator,
    fake: FakeEntra,
    required: Permission,
    held: Permission | None,
    kind: str,
    version: str,
    audience_form: str,
) -> None:
    audience = fake.client_id if audience_form == "client_id" else fake.app_id_uri
    token = fake.mint(ROLE_OF[held], kind=kind, version=version, audience=audience)  # type: ignore[arg-type]
    if held is not None and held >= required:
        principal = authorize(bearer(token), required)
        assert principal.permission is held
        assert principal.token_version == version
    else:
        with pytest.raises(InsufficientPermissionError) as caught:
            authorize(bearer(token), required)
        assert caught.value.status == 403
        assert caught.value.www_authenticate is not None
        assert 'error="insufficient_scope"' in caught.value.www_authenticate


def test_highest_role_wins(auth: Authenticator, fake: FakeEntra) -> None:
    token = fake.mint(["Aether.Reader", "Aether.Admin", "Some.Other"], kind="app")
    principal = authorize(bearer(token), Permission.ADMIN)
    assert principal.permission is Permission.ADMIN
    assert principal.roles == ("Aether.Reader", "Aether.Admin", "Some.Other")


def test_role_names_come_from_settings(make_auth: Callable[..., Authenticator], fake: FakeEntra) -> None:
    make_auth(role_reader="Ops.Read", role_operator="Ops.Write", role_admin="Ops.All")
    assert authorize(bearer(fake.mint(["Ops.Write"])), Permission.OPERATOR).permission is Permission.OPERATOR
    with pytest.raises(InsufficientPermissionError, match=r"requires the Ops\.All role"):
        authorize(bearer(fake.mint(["Ops.Write"])), Permission.ADMIN)
    with pytest.raises(InsufficientPermissionError, match="no app role"):
        authorize(bearer(fake.mint(["Aether.Admin"], kind="app")), Permission.READER)


def test_role_match_ignores_case(auth: Authenticator, fake: FakeEntra) -> None:
    assert authorize(bearer(fake.mint(["aether.operator"])), Permission.OPERATOR).permission is Permission.OPERATOR


def test_custom_app_id_uri(make_auth: Callable[..., Authenticator], fake: FakeEntra) -> None:
    make_auth(app_id_uri="https://aetherv.contoso.example")
    token = fake.mint(["Aether.Reader"], version="1.0", audience="https://aetherv.contoso.example")
    assert authorize(bearer(token), Permission.READER).permission is Permission.READER


def test_delegated_token_without_roles_is_forbidden_and_says_why(auth: Authenticator, fake: FakeEntra) -> None:
    token = fake.mint([], kind="user", scopes=["user_impersonation", "Aether.Admin"])
    with pytest.raises(InsufficientPermissionError) as caught:
        authorize(bearer(token), Permission.READER)
    assert caught.value.status == 403
    assert "delegated (scp)" in caught.value.message
    assert "app role" in caught.value.message


def test_user_principal_v2(auth: Authenticator, fake: FakeEntra) -> None:
    principal = authorize(bearer(fake.mint(["Aether.Operator"])), Permission.READER)
    assert principal.identity_type is IdentityType.USER
    assert principal.object_id == "11111111-1111-4111-8111-111111111111"
    assert principal.display_name == "Ada Lovelace"
    assert principal.username == "ada@contoso.example"
    assert principal.app_id == AZURE_CLI_APP_ID
    assert principal.tenant_id == fake.tenant_id
    assert principal.scopes == ("user_impersonation",)
    assert principal.source == "bearer"
    assert not principal.is_app


def test_user_principal_v1_uses_upn(auth: Authenticator, fake: FakeEntra) -> None:
    principal = authorize(
        bearer(fake.mint(["Aether.Reader"], version="1.0", extra_claims={"name": None})), Permission.READER
    )
    assert principal.identity_type is IdentityType.USER
    assert principal.display_name == "ada@contoso.example"
    assert principal.app_id == AZURE_CLI_APP_ID


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_app_principal(auth: Authenticator, fake: FakeEntra, version: str) -> None:
    principal = authorize(bearer(fake.mint(["Aether.Reader"], kind="app", version=version)), Permission.READER)  # type: ignore[arg-type]
    assert principal.identity_type is IdentityType.APP
    assert principal.is_app
    assert principal.app_id == "a0a0a0a0-0000-4000-8000-00000000a991"
    assert principal.display_name == principal.app_id
    assert principal.username is None
    assert principal.object_id == "22222222-2222-4222-8222-222222222222"


def test_managed_identity_principal_for_logic_apps(auth: Authenticator, fake: FakeEntra) -> None:
    token = fake.mint(["Aether.Operator"], kind="managed_identity", version="1.0", audience=fake.app_id_uri)
    principal = authorize(bearer(token), Permission.OPERATOR)
    assert principal.identity_type is IdentityType.MANAGED_IDENTITY
    assert principal.managed_identity_resource_id is not None
    assert principal.managed_identity_resource_id.endswith("/userAssignedIdentities/id-logicapp")
    assert principal.audit() == {
        "object_id": "33333333-3333-4333-8333-333333333333",
        "display_name": "b0b0b0b0-0000-4000-8000-00000000b991",
        "identity_type": "managed_identity",
        "tenant_id": fake.tenant_id,
        "app_id": "b0b0b0b0-0000-4000-8000-00000000b991",
        "username": None,
        "roles": ["Aether.Operator"],
        "permission": "operator",
        "source": "bearer",
        "managed_identity_resource_id": principal.managed_identity_resource_id,
    }


def test_idtyp_claim_decides_identity_type(auth: Authenticator, fake: FakeEntra) -> None:
    app_like_user = fake.mint(["Aether.Reader"], kind="app", extra_claims={"idtyp": "user"})
    assert authorize(bearer(app_like_user), Permission.READER).identity_type is IdentityType.USER
    user_like_app = fake.mint(["Aether.Reader"], kind="user", extra_claims={"idtyp": "app"})
    assert authorize(bearer(user_like_app), Permission.READER).identity_type is IdentityType.APP


def test_header_names_are_case_insensitive(auth: Authenticator, fake: FakeEntra) -> None:
    token = fake.mint(["Aether.Reader"])
    assert authorize({"authorization": f"bearer {token}"}, Permission.READER).permission is Permission.READER
    assert authorize({"AUTHORIZATION": f"BEARER   {token}  "}, Permission.READER).permission is Permission.READER
