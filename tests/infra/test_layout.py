"""The azd layout: azure.yaml, the parameters file and the outputs agree with main.bicep and its modules."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.infra.bicep import INFRA, ROOT, body, render

REQUIRED_OUTPUTS = {
    "AZURE_FUNCTION_NAME",
    "AZURE_RESOURCE_GROUP",
    "AZURE_LOCATION",
    "AZURE_TENANT_ID",
    "AETHERV_API_BASE_URL",
    "AETHERV_APP_PRINCIPAL_ID",
    "AETHERV_HYBRID_CONNECTIONS",
    "AETHERV_CONNECTIVITY",
    "AETHERV_VNET_INTEGRATION_SUBNET_ID",
}


def test_azure_yaml_deploys_one_python_function_app_from_the_root() -> None:
    text = (ROOT / "azure.yaml").read_text(encoding="utf-8")
    services = re.split(r"^\S", text.split("services:", 1)[1], maxsplit=1, flags=re.MULTILINE)[0]
    assert re.findall(r"^  (\w[\w-]*):\s*$", services, flags=re.MULTILINE) == ["api"]
    for line in ("project: .", "language: python", "host: function"):
        assert re.search(rf"^    {re.escape(line)}\s*$", services, flags=re.MULTILINE), line
    assert re.search(r"^  path: infra\s*$", text, flags=re.MULTILINE)
    assert "python3 -m tools.vendor" in text  # the front-end files are vendored before packaging


def test_the_service_tag_matches_azure_yaml(bicep: dict[str, Any]) -> None:
    site = body(bicep["app/api.bicep"]["resources"]["site"])
    assert "'azd-service-name': api" in render(site["tags"])


def test_main_targets_the_subscription_and_creates_the_resource_group(bicep: dict[str, Any]) -> None:
    main = bicep["main.bicep"]
    assert main["globals"]["scope"]["value"] == "subscription"
    assert [r["type"] for r in main["resources"].values()] == ["Microsoft.Resources/resourceGroups"]
    assert render(main["variables"]["resourceToken"]["value"]) == (
        "to_lower(unique_string(subscription().id, environmentName, location))"
    )
    # Everything lands in the new resource group, except the hub's side of the VNet peering (vnet connectivity),
    # which is declared on the customer's hub VNet, in its own resource group.
    scopes = {name: body(module)["scope"] for name, module in main["modules"].items()}
    hub = scopes.pop("hubPeering")["function"]
    assert hub["type"] == "resource_group"
    assert render(hub["parameters"]["subscription_id"]) == "hubVnetParts[2]"
    assert render(hub["parameters"]["resource_group_name"]) == "hubVnetParts[4]"
    assert {render(scope) for scope in scopes.values()} == {"rg"}, scopes


def test_modules_exist(bicep: dict[str, Any]) -> None:
    for name, module in bicep["main.bicep"]["modules"].items():
        assert (INFRA / module["detail"]["path"]).is_file(), name


def test_module_parameters_exist(bicep: dict[str, Any]) -> None:
    for name, module in bicep["main.bicep"]["modules"].items():
        declared = bicep[module["detail"]["path"]]["parameters"]
        passed = body(module)["params"]
        assert passed.keys() <= declared.keys(), f"{name}: {sorted(passed.keys() - declared.keys())}"
        required = {key for key, param in declared.items() if "default" not in param}
        assert required <= passed.keys(), f"{name} misses {sorted(required - passed.keys())}"


def test_parameters_file_names_main_parameters(bicep: dict[str, Any]) -> None:
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    declared = bicep["main.bicep"]["parameters"]
    assert parameters.keys() <= declared.keys(), sorted(parameters.keys() - declared.keys())
    for name in ("environmentName", "location", "principalId", "apiClientId"):
        assert name in parameters, name
    assert "sealKeySeed" not in parameters, "azd generates it only when the parameters file leaves it out"


def test_outputs(bicep: dict[str, Any]) -> None:
    outputs = bicep["main.bicep"]["outputs"]
    assert outputs.keys() >= REQUIRED_OUTPUTS
    assert render(outputs["AETHERV_API_BASE_URL"]["value"]) == "https://${api.outputs.defaultHostName}/api/v1"
    for output in outputs.values():
        assert "secure" not in [d["type"] for d in output.get("decorators", [])]


def test_parameters_file_inputs_are_not_fed_back_by_outputs(bicep: dict[str, Any]) -> None:
    """azd stores every output in the environment: an input read from an environment value of the same name would
    come back changed on the next provision (e.g. the created subnet becoming an "existing" one)."""
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    outputs = bicep["main.bicep"]["outputs"]
    for name, entry in parameters.items():
        for variable in re.findall(r"\$\{(\w+)", json.dumps(entry["value"])):
            if variable in outputs:
                assert render(outputs[variable]["value"]) == name, f"{name} reads output {variable}"
