"""Error challenges and problem documents; identity type rules; issuer derivation; permission order."""

from __future__ import annotations

from typing import Any

import pytest

from functions.auth import (
    AuthUnavailableError,
    IdentityType,
    InsufficientPermissionError,
    InvalidTokenError,
    LocalModeRefusedError,
    MissingCredentialsError,
    Permission,
    RoleMap,
    issuers_for,
)
from functions.auth.principal import identity_type_of, principal_from_claims

TENANT = "0f0e0d0c-0000-4000-8000-00000000aaaa"


def test_invalid_token_challenge() -> None:
    error = InvalidTokenError("the token has expired")
    assert error.status == 401
    assert error.www_authenticate == (
        'Bearer realm="Aether-V", error="invalid_token", error_description="the token has expired"'
    )
    assert error.headers() == {"Cache-Control": "no-store", "WWW-Authenticate": error.www_authenticate}
    assert error.problem() == {
        "type": "about:blank",
        "title": "Unauthorized",
        "status": 401,
        "detail": "the token has expired",
    }


def test_description_cannot_break_the_header() -> None:
    error = InvalidTokenError('bad "quoted" \\ value\r\nX-Injected: 1 é')
    assert error.www_authenticate == (
        'Bearer realm="Aether-V", error="invalid_token", error_description="bad quoted  valueX-Injected: 1 "'
    )


def test_other_challenges() -> None:
    assert MissingCredentialsError().www_authenticate == 'Bearer realm="Aether-V"'
    forbidden = InsufficientPermissionError("needs Aether.Admin")
    assert forbidden.status == 403
    assert forbidden.problem()["title"] == "Forbidden"
    assert forbidden.www_authenticate == (
        'Bearer realm="Aether-V", error="insufficient_scope", error_description="needs Aether.Admin"'
    )
    assert LocalModeRefusedError("x").www_authenticate is None
    unavailable = AuthUnavailableError(retry_after=10)
    assert unavailable.status == 503
    assert unavailable.www_authenticate is None
    assert unavailable.headers()["Retry-After"] == "10"


def test_permission_order() -> None:
    assert Permission.READER < Permission.OPERATOR < Permission.ADMIN
    assert Permission.ADMIN.allows(Permission.READER)
    assert not Permission.READER.allows(Permission.OPERATOR)
    assert RoleMap().permission_for([]) is None
    assert RoleMap().permission_for(["Aether.Writer", "Aether.Reader"]) is Permission.READER


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"idtyp": "app", "upn": "x@y"}, IdentityType.APP),
        ({"idtyp": "user", "appid": "a"}, IdentityType.USER),
        ({"appid": "a"}, IdentityType.APP),
        ({"azp": "a"}, IdentityType.APP),
        ({"azp": "a", "xms_mirid": "/subscriptions/x"}, IdentityType.MANAGED_IDENTITY),
        ({"idtyp": "app", "xms_mirid": "/subscriptions/x"}, IdentityType.MANAGED_IDENTITY),
        ({"azp": "a", "preferred_username": "u@x"}, IdentityType.USER),
        ({"appid": "a", "upn": "u@x"}, IdentityType.USER),
        ({"appid": "a", "unique_name": "live.com#u@x"}, IdentityType.USER),
        ({"appid": "a", "scp": "user_impersonation"}, IdentityType.USER),
        ({"idtyp": "device", "appid": "a"}, IdentityType.APP),
        ({}, IdentityType.USER),
    ],
)
def test_identity_type(claims: dict[str, Any], expected: IdentityType) -> None:
    assert identity_type_of(claims) is expected


def test_principal_display_name_falls_back_to_the_object_id() -> None:
    principal = principal_from_claims({"oid": "o-1", "roles": "Aether.Reader"}, RoleMap(), source="bearer")
    assert principal.display_name == "o-1"
    assert principal.roles == ("Aether.Reader",)
    assert principal.permission is Permission.READER


def test_app_display_name_prefers_the_app_name() -> None:
    principal = principal_from_claims(
        {"oid": "o", "appid": "a", "app_displayname": "logic-app-provisioning", "roles": ["Aether.Admin", 7]},
        RoleMap(),
        source="bearer",
    )
    assert principal.display_name == "logic-app-provisioning"
    assert principal.roles == ("Aether.Admin",)


@pytest.mark.parametrize(
    ("authority", "v1"),
    [
        ("https://login.microsoftonline.com", f"https://sts.windows.net/{TENANT}/"),
        ("https://login.microsoftonline.com/", f"https://sts.windows.net/{TENANT}/"),
        ("https://login.microsoftonline.us", f"https://sts.windows.net/{TENANT}/"),
        ("https://login.chinacloudapi.cn", f"https://sts.chinacloudapi.cn/{TENANT}/"),
        ("http://127.0.0.1:8079", f"http://127.0.0.1:8079/{TENANT}/"),
        ("https://login.contoso.example", f"https://login.contoso.example/{TENANT}/"),
    ],
)
def test_issuers(authority: str, v1: str) -> None:
    assert issuers_for(authority, TENANT.upper()) == (v1, f"{authority.rstrip('/')}/{TENANT}/v2.0")
