"""Settings: typed, validated all at once, secrets never shown, docs generated from the declarations."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from functions.settings import DEV_SEAL_KEY, SETTINGS, Secret, SettingsError, load_host_access, load_settings
from tests.conftest import ROOT, sample_values
from tools.settings_doc import readme_table, sample_json

GUID = "11111111-2222-3333-4444-555555555555"
KEY = "q6Oq8k1Bsm0yHcX2Zlq8v7u3nJbD0E3dE5XK1qk3bHc="


def env(**overrides: str) -> dict[str, str]:
    values = sample_values()
    values.update(overrides)
    return values


def test_documented_local_settings_are_valid() -> None:
    settings = load_settings(sample_values())
    assert settings.auth.mode == "none"
    assert settings.hosts == ()
    assert settings.winrm.scheme == "https"
    assert settings.winrm.port == 5986
    assert settings.storage.connection_string == Secret("UseDevelopmentStorage=true")
    assert settings.storage.task_hub == "AetherVLocal"


def test_defaults_require_entra_and_storage() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({})
    text = str(info.value)
    for name in ("AzureWebJobsStorage", "AETHERV_ENTRA_TENANT_ID", "AETHERV_ENTRA_CLIENT_ID", "AETHERV_SEAL_KEY"):
        assert name in text
    assert len(info.value.problems) == 4


def test_every_problem_is_listed_at_once() -> None:
    bad = env(
        AETHERV_HOSTS="hv01,bad_host!,hv01,hv02:99999",
        AETHERV_WINRM_SCHEME="http",
        AETHERV_WINRM_TRANSPORT="basic",
        AETHERV_WINRM_READ_TIMEOUT="5",
        AETHERV_WINRM_OPERATION_TIMEOUT="20",
        AETHERV_AUTH_MODE="sometimes",
        AETHERV_SEAL_KEY="not-base64!",
        AETHERV_INVENTORY_SCHEDULE="*/5 * * * *",
        AETHERV_GUEST_POLL_INTERVAL="fast",
        AETHERV_TASK_HUB="x",
        AETHERV_CLONE_CONCURRENCY="0",
        AETHERV_INVENTORY_HOSTS_PER_ACTIVITY="500",
    )
    with pytest.raises(SettingsError) as info:
        load_settings(bad)
    problems = info.value.problems
    expected_fragments = [
        "AETHERV_HOSTS: 'bad_host!' is not a valid host name",
        "AETHERV_HOSTS: host 'hv01' is listed twice",
        "AETHERV_HOSTS: host 'hv02' has an invalid port",
        "AETHERV_WINRM_TRANSPORT: `basic` cannot encrypt messages over http",
        "AETHERV_WINRM_USERNAME: is required",
        "AETHERV_WINRM_PASSWORD: is required",
        "AETHERV_WINRM_READ_TIMEOUT: must be greater than",
        "AETHERV_AUTH_MODE: must be one of entra, none",
        "AETHERV_SEAL_KEY: must be base64 of exactly 32 bytes",
        "AETHERV_INVENTORY_SCHEDULE: must be a 6-field NCRONTAB",
        "AETHERV_GUEST_POLL_INTERVAL: must be a number",
        "AETHERV_TASK_HUB: must be 3-45",
        "AETHERV_CLONE_CONCURRENCY: must be a whole number",
        "AETHERV_INVENTORY_HOSTS_PER_ACTIVITY: must be a whole number between 1 and 100",
    ]
    for fragment in expected_fragments:
        assert any(fragment in problem for problem in problems), fragment
    assert len(problems) == len(expected_fragments)


def test_hosts_parse_with_port_overrides() -> None:
    settings = load_settings(
        env(AETHERV_HOSTS=" hv01.corp.example , hv02:15986", AETHERV_WINRM_USERNAME="u", AETHERV_WINRM_PASSWORD="p")
    )
    assert [(h.name, h.port) for h in settings.hosts] == [("hv01.corp.example", None), ("hv02", 15986)]
    assert settings.winrm.port_for(settings.hosts[0]) == 5986
    assert settings.winrm.port_for(settings.hosts[1]) == 15986


def test_http_scheme_defaults_to_5985_with_ntlm() -> None:
    settings = load_settings(env(AETHERV_WINRM_SCHEME="http"))
    assert settings.winrm.port == 5985
    assert settings.winrm.transport == "ntlm"


def test_secrets_never_appear_in_repr_or_errors() -> None:
    password = "Sup3r-Secret-Pa55word"
    settings = load_settings(
        env(AETHERV_HOSTS="hv01", AETHERV_WINRM_USERNAME="svc", AETHERV_WINRM_PASSWORD=password, AETHERV_SEAL_KEY=KEY)
    )
    assert password not in repr(settings)
    assert KEY not in repr(settings)
    assert settings.winrm.password.reveal() == password
    with pytest.raises(SettingsError) as info:
        load_settings(env(AETHERV_WINRM_PASSWORD=password, AETHERV_SEAL_KEY=password, AzureWebJobsStorage=password))
    assert password not in str(info.value)


def test_entra_mode_needs_tenant_client_and_https_authority() -> None:
    ok = load_settings(env(AETHERV_AUTH_MODE="entra", AETHERV_ENTRA_TENANT_ID=GUID, AETHERV_ENTRA_CLIENT_ID=GUID))
    assert ok.auth.app_id_uri == f"api://{GUID}"
    loopback = load_settings(
        env(
            AETHERV_AUTH_MODE="entra",
            AETHERV_ENTRA_TENANT_ID=GUID,
            AETHERV_ENTRA_CLIENT_ID=GUID,
            AETHERV_ENTRA_AUTHORITY="http://127.0.0.1:8123",
        )
    )
    assert loopback.auth.authority == "http://127.0.0.1:8123"
    with pytest.raises(SettingsError, match="AETHERV_ENTRA_AUTHORITY"):
        load_settings(
            env(
                AETHERV_AUTH_MODE="entra",
                AETHERV_ENTRA_TENANT_ID=GUID,
                AETHERV_ENTRA_CLIENT_ID=GUID,
                AETHERV_ENTRA_AUTHORITY="http://login.example.com",
            )
        )


def test_local_only_choices_are_refused_in_azure() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(env(WEBSITE_INSTANCE_ID="abc", AETHERV_SEAL_KEY=DEV_SEAL_KEY))
    text = str(info.value)
    assert "AETHERV_AUTH_MODE: `none` is for local development only" in text
    assert "AETHERV_SEAL_KEY: is the public development key" in text
    with pytest.raises(SettingsError, match="AETHERV_EASY_AUTH_ENABLED"):
        load_settings(env(AETHERV_EASY_AUTH_ENABLED="true"))


def test_identity_based_storage() -> None:
    values = env(AzureWebJobsStorage="", AzureWebJobsStorage__accountName="aethervstore")
    settings = load_settings(values)
    assert settings.storage.connection_string is None
    assert settings.storage.table_endpoint == "https://aethervstore.table.core.windows.net"
    values["AzureWebJobsStorage__clientId"] = "not-a-guid"
    with pytest.raises(SettingsError, match="AzureWebJobsStorage__clientId"):
        load_settings(values)


def test_sample_and_readme_are_generated_from_the_declarations() -> None:
    assert (ROOT / "local.settings.sample.json").read_text(encoding="utf-8") == sample_json()
    assert readme_table() in (ROOT / "README.md").read_text(encoding="utf-8")
    documented = json.loads(sample_json())["Descriptions"]
    assert {spec.name for spec in SETTINGS} <= set(documented)


def _import_app(values: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import function_app"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **values},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_app_imports_with_the_documented_local_settings() -> None:
    result = _import_app(sample_values())
    assert result.returncode == 0, result.stderr


def test_app_import_with_missing_settings_still_indexes_and_logs_every_problem() -> None:
    """On Azure an app whose import raises gets zero functions; a bad setting must never cost the app its routes."""
    result = _import_app({})
    assert result.returncode == 0, result.stderr
    assert "Aether-V settings are invalid (4 problem(s))" in result.stderr
    for name in ("AzureWebJobsStorage", "AETHERV_ENTRA_TENANT_ID", "AETHERV_ENTRA_CLIENT_ID", "AETHERV_SEAL_KEY"):
        assert name in result.stderr


def test_host_address_overrides() -> None:
    settings = load_settings(env(AETHERV_HOST_ADDRESSES="HV01=127.0.0.1, hv02=::1"))
    assert settings.host_addresses == {"hv01": "127.0.0.1", "hv02": "::1"}
    with pytest.raises(SettingsError, match="'hv03=somewhere' is not `name=IP address`"):
        load_settings(env(AETHERV_HOST_ADDRESSES="hv03=somewhere"))


@pytest.mark.parametrize("transport", ["credssp", "kerberos", "negotiate"])
def test_transports_this_build_cannot_do_are_refused_at_start(transport: str) -> None:
    with pytest.raises(SettingsError, match="AETHERV_WINRM_TRANSPORT"):
        load_settings(env(AETHERV_WINRM_TRANSPORT=transport))
    assert load_settings(env(AETHERV_WINRM_TRANSPORT="basic")).winrm.transport == "basic"


def test_an_unresolved_key_vault_reference_is_reported_as_such() -> None:
    reference = "@Microsoft.KeyVault(SecretUri=https://kv-aetherv.vault.azure.net/secrets/seal-key/)"
    with pytest.raises(SettingsError) as caught:
        load_settings(env(AETHERV_SEAL_KEY=reference, AETHERV_WINRM_PASSWORD=reference))
    text = str(caught.value)
    assert text.count("unresolved Key Vault reference") == 2
    assert "managed identity" in text
    assert "base64" not in text  # the reference, not what its literal text fails
    assert "kv-aetherv" not in text  # settings problems never echo values


def test_host_access_reads_only_the_hosts_and_winrm_settings_as_the_app_does() -> None:
    password = "Sup3r-Secret-Pa55word"
    values = {
        "AETHERV_HOSTS": "hv01.corp.example, hv02:15986",
        "AETHERV_HOST_ADDRESSES": "hv02=10.0.0.2",
        "AETHERV_WINRM_USERNAME": "CORP\\svc",
        "AETHERV_WINRM_PASSWORD": password,
    }
    access = load_host_access(values)  # no storage, sign-in or sealing settings needed
    app = load_settings(env(**values))
    assert (access.hosts, access.host_addresses, access.winrm) == (app.hosts, app.host_addresses, app.winrm)
    assert password not in repr(access)
    with pytest.raises(SettingsError) as info:
        load_host_access({"AETHERV_HOSTS": "hv01, bad_name", "AETHERV_WINRM_PASSWORD": password})
    assert info.value.problems == [
        "AETHERV_HOSTS: 'bad_name' is not a valid host name (letters, digits, hyphens, dots)",
        "AETHERV_WINRM_USERNAME: is required when AETHERV_HOSTS lists hosts",
    ]
    assert password not in str(info.value)
