"""The process-wide authenticator: built lazily from settings, cached, replaceable and resettable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from functions.auth import Authenticator, IdentityType, Permission, authenticator, authorize, set_authenticator
from functions.settings import SettingsError, get_settings
from tools.fakeentra import FakeEntra

ROOT = Path(__file__).resolve().parents[3]


def test_importing_reads_no_settings() -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AETHERV_", "AzureWebJobs"))}
    code = "import functions.auth, tools.fakeentra; print('ok')"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_first_use_reads_settings(local_settings: dict[str, str]) -> None:
    assert local_settings["AETHERV_AUTH_MODE"] == "none"
    first = authenticator()
    assert first is authenticator()
    assert first.settings == get_settings().auth
    assert authorize({"Host": "127.0.0.1:7071"}, Permission.ADMIN).identity_type is IdentityType.LOCAL


def test_invalid_settings_surface_on_first_use() -> None:
    with pytest.raises(SettingsError):
        authenticator()


def test_entra_mode_from_settings(local_settings: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeEntra(authority="http://127.0.0.1:9")
    for name, value in fake.env().items():
        monkeypatch.setenv(name, value)
    auth = authenticator()
    assert auth.validator is not None
    assert auth.validator.issuer_v2 == f"http://127.0.0.1:9/{fake.tenant_id}/v2.0"
    assert auth.validator.audiences == (fake.app_id_uri, fake.client_id)


def test_set_and_reset(fake: FakeEntra, local_settings: dict[str, str]) -> None:
    mine = Authenticator(fake.settings(mode="none"))
    set_authenticator(mine)
    assert authenticator() is mine
    set_authenticator(None)
    rebuilt = authenticator()
    assert rebuilt is not mine
    assert rebuilt.settings == get_settings().auth
