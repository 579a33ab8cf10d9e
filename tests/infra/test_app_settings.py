"""The function app's settings follow the app's settings module: every setting without a default that is right in
Azure is provided, secrets are Key Vault references only, and no storage key reaches the app settings."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, get_args

import pytest

from functions.settings import SETTINGS, WinRMTransport
from tests.infra.bicep import ROOT, body, render

# Settings of functions/settings.py that the template leaves unset on purpose, with the reason.
NOT_SET_IN_AZURE = {
    "AzureWebJobsStorage": "no connection string in Azure: the identity-based AzureWebJobsStorage__* settings are used",
    "AETHERV_HOST_ADDRESSES": "hosts are reached by name: hybrid connections match it, VNet integration resolves it",
    "AETHERV_WINRM_PORT": "every AETHERV_HOSTS entry carries its port",
    "AETHERV_WINRM_CERT_PEM": "only for the certificate transport, which the template does not offer",
    "AETHERV_WINRM_CERT_KEY_PEM": "only for the certificate transport, which the template does not offer",
}
# Settings whose app default suits local runs but not Azure: pinned to these values.
PINNED = {"AETHERV_AUTH_MODE": "entra"}
# Platform settings the template must set, with their values (None: any value).
PLATFORM = {
    "FUNCTIONS_EXTENSION_VERSION": "~4",
    "FUNCTIONS_WORKER_RUNTIME": "python",
    "APPLICATIONINSIGHTS_CONNECTION_STRING": None,
    "AzureWebJobsStorage__credential": "managedidentity",
}
# Names that look like credentials but are not: with local authentication disabled, the Application Insights
# connection string cannot ingest on its own (the app authenticates with its identity).
NOT_A_SECRET = {"APPLICATIONINSIGHTS_CONNECTION_STRING", "APPLICATIONINSIGHTS_AUTHENTICATION_STRING"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|_KEY$|CONNECTIONSTRING|CONNECTION_STRING", re.IGNORECASE)
KEY_VAULT_PREFIX = "@Microsoft.KeyVault(SecretUri="
# Packages a WinRM transport needs besides pywinrm (the same modules functions/settings/load.py looks for).
TRANSPORT_PACKAGES = {"credssp": "requests-credssp", "kerberos": "gssapi"}


@pytest.fixture(scope="module")
def api(bicep: dict[str, Any]) -> dict[str, Any]:
    return bicep["app/api.bicep"]


def _objects(node: Any, variables: dict[str, Any], condition: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """The object literals an app-settings expression is built from (through vars, union() and ?:)."""
    if isinstance(node, str):
        yield from _objects(variables[node]["value"], variables, condition)
    elif "function" in node:
        assert node["function"]["type"] == "union", render(node)
        for argument in node["function"]["parameters"].values():
            yield from _objects(argument, variables, condition)
    elif "operator" in node:
        operands = node["operator"]["operands"]
        assert node["operator"]["type"] == "conditional", render(node)
        yield from _objects(operands["true_value"], variables, render(operands["condition"]))
        yield from _objects(operands["false_value"], variables, "!" + render(operands["condition"]))
    else:
        yield condition, node


@pytest.fixture(scope="module")
def settings(api: dict[str, Any]) -> dict[str, Any]:
    """Every app setting the template can set (under any condition), name to parsed value."""
    site = body(api["resources"]["site"])
    loop = site["properties"]["siteConfig"]["appSettings"]
    assert loop["loop_type"]["type"] == "object"
    assert render(loop["config"]) == "{name: setting.key, value: setting.value}"
    merged: dict[str, Any] = {}
    for _, values in _objects(loop["loop_type"]["detail"]["object_name"], api["variables"]):
        merged.update(values)
    return merged


@pytest.fixture(scope="module")
def conditions(api: dict[str, Any]) -> dict[str, str]:
    """Setting name to the condition under which it is set ('' = always)."""
    result: dict[str, str] = {}
    for condition, values in _objects("appSettings", api["variables"]):
        for name in values:
            result[name] = condition
    return result


def _is_key_vault_reference(value: Any) -> bool:
    parts = value.get("interpolation") if isinstance(value, dict) else None
    return bool(
        parts
        and len(parts) == 3
        and parts[0] == KEY_VAULT_PREFIX
        and parts[2] == ")"
        and isinstance(parts[1], dict)
        and isinstance(parts[1]["expression"], str)
    )


def test_every_setting_the_app_needs_in_azure_is_provided(settings: dict[str, Any]) -> None:
    needed = {spec.name for spec in SETTINGS if not spec.default} - NOT_SET_IN_AZURE.keys()
    missing = sorted(needed - settings.keys())
    assert not missing, f"settings without a default that the template does not set: {missing}"


def test_unset_settings_are_known_and_really_unset(settings: dict[str, Any]) -> None:
    names = {spec.name for spec in SETTINGS}
    assert NOT_SET_IN_AZURE.keys() <= names, "NOT_SET_IN_AZURE names a setting the app no longer reads"
    assert not NOT_SET_IN_AZURE.keys() & settings.keys()


def test_settings_left_to_the_app_have_a_default(settings: dict[str, Any]) -> None:
    left = [spec for spec in SETTINGS if spec.name not in settings and spec.name not in NOT_SET_IN_AZURE]
    assert all(spec.default for spec in left), [spec.name for spec in left if not spec.default]
    assert not PINNED.keys() & {spec.name for spec in left}


def test_no_unknown_app_setting(settings: dict[str, Any]) -> None:
    names = {spec.name for spec in SETTINGS}
    unknown = sorted(name for name in settings if name.startswith("AETHERV_") and name not in names)
    assert not unknown, f"AETHERV_ settings the app does not read (typo?): {unknown}"


def test_pinned_and_platform_values(settings: dict[str, Any]) -> None:
    for name, value in {**PINNED, **PLATFORM}.items():
        assert name in settings, name
        if value is not None:
            assert settings[name] == value, name


def test_host_json_placeholders_are_app_settings(settings: dict[str, Any]) -> None:
    placeholders = set(re.findall(r"%([A-Za-z0-9_]+)%", (ROOT / "host.json").read_text(encoding="utf-8")))
    assert "AETHERV_TASK_HUB" in placeholders
    assert placeholders <= settings.keys(), "the Functions host resolves %NAME% only from app settings"


def test_app_secrets_are_key_vault_references(settings: dict[str, Any]) -> None:
    secrets = [spec.name for spec in SETTINGS if spec.secret and spec.name in settings]
    assert {"AETHERV_WINRM_PASSWORD", "AETHERV_SEAL_KEY"} <= set(secrets)
    for name in secrets:
        assert _is_key_vault_reference(settings[name]), f"{name} = {render(settings[name])}"


def test_credential_like_settings_are_key_vault_references(settings: dict[str, Any]) -> None:
    for name, value in settings.items():
        if SECRET_NAME.search(name) and name not in NOT_A_SECRET:
            assert _is_key_vault_reference(value), f"{name} = {render(value)}"


def test_key_vault_references_come_from_the_vault_module(bicep: dict[str, Any], settings: dict[str, Any]) -> None:
    params = body(bicep["main.bicep"]["modules"]["api"])["params"]
    for value in settings.values():
        if _is_key_vault_reference(value):
            uri_param = value["interpolation"][1]["expression"]
            assert render(params[uri_param]) == f"keyVault.outputs.{uri_param}"
    outputs = bicep["app/keyvault.bicep"]["outputs"]
    assert render(outputs["sealKeySecretUri"]["value"]) == "${vault.properties.vaultUri}secrets/${sealKeySecretName}"


def test_no_storage_key_in_app_settings(api: dict[str, Any], settings: dict[str, Any]) -> None:
    for name, value in settings.items():
        text = render(value)
        assert "listkeys" not in text.lower(), name
        assert "AccountKey" not in text, name
    assert "listKeys" not in json.dumps(api), "api.bicep must not read any key"


def _list_calls(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") == "function_accessor":
            yield node["operands"]["func_name"]
        for value in node.values():
            yield from _list_calls(value)
    elif isinstance(node, list):
        for item in node:
            yield from _list_calls(item)


def test_keys_are_read_only_for_the_content_secret_and_the_relay_links(bicep: dict[str, Any]) -> None:
    readers = {
        (path, name)
        for path, document in bicep.items()
        for name, resource in document.get("resources", {}).items()
        if any(call.lower().startswith("list") for call in _list_calls(resource))
    }
    assert readers == {("app/keyvault.bicep", "contentConnectionSecret"), ("app/relay.bicep", "appLink")}
    outputs = json.dumps([document.get("outputs", {}) for document in bicep.values()])
    assert "listKeys" not in outputs


def test_elastic_premium_content_share_uses_key_vault(settings: dict[str, Any], conditions: dict[str, str]) -> None:
    assert _is_key_vault_reference(settings["WEBSITE_CONTENTAZUREFILECONNECTIONSTRING"])
    assert settings["WEBSITE_SKIP_CONTENTSHARE_VALIDATION"] == "1"
    for name in (
        "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
        "WEBSITE_CONTENTSHARE",
        "WEBSITE_SKIP_CONTENTSHARE_VALIDATION",
    ):
        assert conditions[name] == "isElasticPremium", name


def test_storage_is_reached_with_the_app_identity(api: dict[str, Any], settings: dict[str, Any]) -> None:
    assert settings["AzureWebJobsStorage__clientId"] == "identityClientId"
    assert settings["AzureWebJobsStorage__accountName"] == "storageAccountName"
    site = body(api["resources"]["site"])
    assert site["identity"]["type"] == "UserAssigned"
    assert list(site["identity"]["userAssignedIdentities"]) == ["'${identityId}'"]
    assert site["properties"]["keyVaultReferenceIdentity"] == "identityId"


def test_easy_auth_setting_follows_the_easy_auth_switch(api: dict[str, Any], settings: dict[str, Any]) -> None:
    assert render(settings["AETHERV_EASY_AUTH_ENABLED"]) == "enableEasyAuth ? true : false"
    auth = body(api["resources"]["authSettings"])
    assert auth["name"] == "authsettingsV2"
    assert auth["properties"]["platform"]["enabled"] == "enableEasyAuth"
    assert api["parameters"]["enableEasyAuth"]["default"] is False


def _allowed(parameter: dict[str, Any]) -> list[str]:
    return next(list(d["argument"]) for d in parameter["decorators"] if d["type"] == "allowed")


def _requirement_names() -> set[str]:
    names = set()
    for raw in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        requirement = raw.split("#", 1)[0].strip()
        if requirement:
            name = re.split(r"[\[=<>~!;\s]", requirement, maxsplit=1)[0]
            names.add(re.sub(r"[-_.]+", "-", name).lower())
    return names


def test_only_transports_the_build_supports_are_offered(bicep: dict[str, Any]) -> None:
    offered = _allowed(bicep["main.bicep"]["parameters"]["winrmTransport"])
    assert _allowed(bicep["app/api.bicep"]["parameters"]["winrmTransport"]) == offered
    assert bicep["main.bicep"]["parameters"]["winrmTransport"]["default"] == "ntlm"
    assert set(offered) <= set(get_args(WinRMTransport)), "a transport the app does not know"
    installed = _requirement_names()
    assert "pywinrm" in installed
    for transport in offered:
        package = TRANSPORT_PACKAGES.get(transport)
        assert package is None or package in installed, f"{transport} needs {package}, which the build lacks"
    assert "credssp" not in offered
