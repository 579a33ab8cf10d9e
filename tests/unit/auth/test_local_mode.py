"""``AETHERV_AUTH_MODE=none``: the fixed local developer with every role, only for loopback requests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from functions.auth import (
    LOCAL_OBJECT_ID,
    Authenticator,
    IdentityType,
    LocalModeRefusedError,
    Permission,
    startup_warning,
)
from functions.settings import load_settings
from tools.fakeentra import FakeEntra

from ._support import APP_HOST, authorize


@pytest.fixture
def local(make_auth: Callable[..., Authenticator]) -> Authenticator:
    return make_auth(mode="none")


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:7071", "127.0.0.1:7071", "127.1.2.3", "[::1]:7071", "LOCALHOST"]
)
@pytest.mark.parametrize("required", list(Permission))
def test_local_principal_has_every_role(local: Authenticator, host: str, required: Permission) -> None:
    principal = authorize({"Host": host}, required)
    assert principal.identity_type is IdentityType.LOCAL
    assert principal.display_name == "local developer"
    assert principal.object_id == LOCAL_OBJECT_ID
    assert principal.roles == ("Aether.Reader", "Aether.Operator", "Aether.Admin")
    assert principal.permission is Permission.ADMIN
    assert principal.source == "local"


def test_local_mode_ignores_tokens(local: Authenticator, fake: FakeEntra) -> None:
    principal = authorize({"Host": "127.0.0.1", "Authorization": "Bearer garbage"}, Permission.ADMIN)
    assert principal.identity_type is IdentityType.LOCAL


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": APP_HOST},
        {"Host": "10.0.0.5:7071"},
        {"Host": "192.168.1.10"},
        {"Host": "localhost.evil.example"},
        {"Host": "127.0.0.1.nip.io"},
        {},
        {"Host": ""},
        {"Host": "[::1"},
        {"Host": "127.0.0.1", "X-Forwarded-Host": APP_HOST},
        {"Host": "127.0.0.1", "X-Forwarded-For": "203.0.113.9"},
        {"Host": "127.0.0.1", "X-Forwarded-For": "127.0.0.1, 203.0.113.9"},
    ],
)
def test_local_mode_refuses_non_loopback_requests(local: Authenticator, headers: dict[str, str]) -> None:
    with pytest.raises(LocalModeRefusedError) as caught:
        authorize(headers, Permission.READER)
    assert caught.value.status == 403
    assert caught.value.www_authenticate is None
    assert "loopback" in caught.value.message


def test_forwarded_loopback_is_fine(local: Authenticator) -> None:
    headers = {"Host": "127.0.0.1:7071", "X-Forwarded-Host": "localhost:7071", "X-Forwarded-For": "127.0.0.1, ::1"}
    assert authorize(headers, Permission.ADMIN).permission is Permission.ADMIN


def test_local_mode_needs_no_entra_settings(fake: FakeEntra) -> None:
    auth = Authenticator(fake.settings(mode="none", tenant_id="", client_id="", app_id_uri=""))
    assert auth.validator is None
    assert auth.authorize({"Host": "localhost"}, Permission.ADMIN).identity_type is IdentityType.LOCAL


def test_startup_warning(fake: FakeEntra) -> None:
    text = startup_warning(fake.settings(mode="none"))
    assert text is not None
    assert "AUTHENTICATION IS OFF" in text
    assert "Aether.Admin" in text
    assert startup_warning(fake.settings()) is None  # the public cloud authority
    test_authority = startup_warning(fake.settings(authority="http://127.0.0.1:8079"))
    assert test_authority is not None and "LOCAL TEST AUTHORITY" in test_authority


def test_startup_warning_accepts_the_whole_settings(local_settings: dict[str, str]) -> None:
    settings = load_settings({**local_settings, "AETHERV_AUTH_MODE": "none"})
    assert settings.auth.mode == "none"
    assert startup_warning(settings) is not None
