"""The app identity gets exactly the data-plane roles it needs, each on its own resource; the optional developer
principal gets only storage data roles and Key Vault Secrets Officer."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.bicep import INFRA, body, render

# Role definition GUIDs (built-in roles, the same in every tenant).
APP_ROLES = {
    ("storage", "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"),  # Storage Blob Data Owner
    ("storage", "974c5e8b-45b9-4653-ba55-5f855dd0fb88"),  # Storage Queue Data Contributor
    ("storage", "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"),  # Storage Table Data Contributor
    ("vault", "4633458b-17de-408a-b874-0445c86b69e6"),  # Key Vault Secrets User
    ("appInsights", "3913510d-42f4-4e42-8a64-420c390055eb"),  # Monitoring Metrics Publisher
    ("topic", "d5a91429-5739-47e2-a06b-3470a27159e7"),  # EventGrid Data Sender (events.bicep, on the topic only)
}
DEVELOPER_ROLES = {
    ("storage", "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"),
    ("storage", "974c5e8b-45b9-4653-ba55-5f855dd0fb88"),
    ("storage", "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"),
    ("vault", "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"),  # Key Vault Secrets Officer
}


@pytest.fixture(scope="module")
def rbac(bicep: dict[str, Any]) -> dict[str, Any]:
    return bicep["app/rbac.bicep"]


def _assignments(bicep: dict[str, Any], principal: str) -> set[tuple[str, str]]:
    """(scope, role GUID) of every role assignment in any file whose principalId renders as ``principal``."""
    found: set[tuple[str, str]] = set()
    for document in bicep.values():
        variables = document.get("variables", {})
        for resource in document.get("resources", {}).values():
            if resource["type"] != "Microsoft.Authorization/roleAssignments":
                continue
            config = body(resource)
            if render(config["properties"]["principalId"]) != principal:
                continue
            role = config["properties"]["roleDefinitionId"]["function"]["parameters"]["resource_name_1"]
            loop = resource["config"].get("loop_type")
            if loop and role == loop["detail"]["item_name"]:
                roles = [variables[name]["value"] for name in variables[loop["detail"]["array_name"]]["value"]]
            else:
                roles = [variables[role]["value"]]
            found.update((render(config["scope"]), guid) for guid in roles)
    return found


def test_the_app_identity_has_exactly_the_roles_it_needs(bicep: dict[str, Any]) -> None:
    assert _assignments(bicep, "appPrincipalId") == APP_ROLES


def test_the_developer_principal_has_only_its_roles(bicep: dict[str, Any]) -> None:
    assert _assignments(bicep, "developerPrincipalId") == DEVELOPER_ROLES


def test_developer_roles_are_optional(rbac: dict[str, Any]) -> None:
    for name, resource in rbac["resources"].items():
        if resource["type"] == "Microsoft.Authorization/roleAssignments" and name.startswith("developer"):
            assert render(resource["config"]["condition"]) == "!empty(developerPrincipalId)", name


def test_app_assignments_are_for_a_service_principal_with_stable_names(rbac: dict[str, Any]) -> None:
    for name, resource in rbac["resources"].items():
        if resource["type"] != "Microsoft.Authorization/roleAssignments" or not name.startswith("app"):
            continue
        config = body(resource)
        assert config["properties"]["principalType"] == "ServicePrincipal", name
        assert render(config["name"]).startswith(f"guid({config['scope']}.id, appPrincipalId, "), name


def test_role_guids_are_named_in_comments() -> None:
    text = (INFRA / "app" / "rbac.bicep").read_text(encoding="utf-8")
    for _, guid in APP_ROLES | DEVELOPER_ROLES:
        line = next(line for line in text.splitlines() if guid in line and line.lstrip().startswith("//"))
        assert any(name in line for name in ("Storage", "Key Vault", "Monitoring", "EventGrid")), line


def test_roles_are_granted_to_the_app_identity(bicep: dict[str, Any]) -> None:
    main = bicep["main.bicep"]
    rbac = body(main["modules"]["rbac"])["params"]
    api = body(main["modules"]["api"])
    assert render(rbac["appPrincipalId"]) == "identity.outputs.principalId"
    assert render(api["params"]["identityId"]) == "identity.outputs.id"
    assert api["dependsOn"] == ["rbac"], "the app must start after its roles exist"
    assert render(main["outputs"]["AETHERV_APP_PRINCIPAL_ID"]["value"]) == "identity.outputs.principalId"


def test_the_secrets_role_is_on_the_vault_the_references_point_at(bicep: dict[str, Any]) -> None:
    """An unresolved Key Vault reference reaches the app as its literal @Microsoft.KeyVault(...) text: the identity
    that resolves the references (keyVaultReferenceIdentity) must hold Key Vault Secrets User on that very vault."""
    main = bicep["main.bicep"]
    rbac = body(main["modules"]["rbac"])["params"]
    api = body(main["modules"]["api"])["params"]
    assert render(rbac["keyVaultName"]) == "keyVault.outputs.name"
    for uri in ("winrmPasswordSecretUri", "sealKeySecretUri", "contentConnectionSecretUri"):
        assert render(api[uri]) == f"keyVault.outputs.{uri}", uri
    assert render(rbac["appPrincipalId"]) == "identity.outputs.principalId"
    assert render(api["identityId"]) == "identity.outputs.id"
    assert ("vault", "4633458b-17de-408a-b874-0445c86b69e6") in _assignments(bicep, "appPrincipalId")
    site = body(bicep["app/api.bicep"]["resources"]["site"])
    assert site["properties"]["keyVaultReferenceIdentity"] == "identityId"
