"""The composition root: importing reads no settings, the app always indexes, services are built once on first use."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from functions.app import Container, create_app
from functions.auth import IdentityType, Permission
from functions.settings import SettingsError
from tests.conftest import sample_values
from tools.fakeentra import FakeEntra

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_app_reads_no_settings_and_never_raises() -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AETHERV_", "AzureWebJobs"))}
    code = "import function_app; print(len(function_app.app.get_functions()))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip().splitlines()[-1]) >= 40  # every function indexes, settings or not


def test_services_are_built_once_from_the_settings() -> None:
    container = Container(sample_values())
    services = container.get_services()
    assert services is container.get_services()
    assert services.authenticator.settings == container.settings().auth
    principal = services.authenticator.authorize({"Host": "127.0.0.1:7071"}, Permission.ADMIN)
    assert principal.identity_type is IdentityType.LOCAL
    assert container.get_provisioner() is container.get_provisioner()
    assert container.get_host_threads() is container.get_host_threads()


def test_invalid_settings_surface_on_first_use_with_every_problem() -> None:
    container = Container({"AETHERV_AUTH_MODE": "sometimes", "AETHERV_SEAL_KEY": "short"})
    with pytest.raises(SettingsError) as caught:
        container.get_services()
    text = str(caught.value)
    for name in ("AzureWebJobsStorage", "AETHERV_AUTH_MODE", "AETHERV_SEAL_KEY"):
        assert name in text
    with pytest.raises(SettingsError):
        container.settings()  # remembered: the process's environment does not change
    assert len(create_app({"AETHERV_AUTH_MODE": "sometimes"}).get_functions()) >= 40


def test_entra_mode_from_settings() -> None:
    fake = FakeEntra(authority="http://127.0.0.1:9")
    auth = Container({**sample_values(), **fake.env()}).get_services().authenticator
    assert auth.validator is not None
    assert auth.validator.issuer_v2 == f"http://127.0.0.1:9/{fake.tenant_id}/v2.0"
    assert auth.validator.audiences == (fake.app_id_uri, fake.client_id)


def test_the_inventory_service_batches_hosts_as_the_setting_says() -> None:
    assert Container(sample_values()).get_services().inventory.hosts_per_activity == 50  # the default
    values = {**sample_values(), "AETHERV_INVENTORY_HOSTS_PER_ACTIVITY": "7"}
    assert Container(values).get_services().inventory.hosts_per_activity == 7
