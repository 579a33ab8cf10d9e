"""The Logic App example calls the API with its managed identity and relies on the async 202/Location contract."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.bicep import body, render


@pytest.fixture(scope="module")
def workflow(bicep: dict[str, Any]) -> dict[str, Any]:
    resource = bicep["examples/logicapp-create-vm.bicep"]["resources"]["workflow"]
    assert resource["type"] == "Microsoft.Logic/workflows"
    return body(resource)


def test_the_workflow_has_a_system_assigned_identity(workflow: dict[str, Any]) -> None:
    assert workflow["identity"]["type"] == "SystemAssigned"


def test_create_vm_posts_with_managed_identity_and_polls(workflow: dict[str, Any]) -> None:
    action = workflow["properties"]["definition"]["actions"]["Create_VM"]
    inputs = action["inputs"]
    assert action["type"] == "Http"
    assert inputs["method"] == "POST"
    assert render(inputs["uri"]) == "@{parameters('apiBaseUrl')}/vms"
    assert inputs["authentication"] == {
        "type": "ManagedServiceIdentity",
        "audience": "@parameters('apiAudience')",
    }
    assert "DisableAsyncPattern" not in str(action.get("operationOptions", "")), "polling must stay on"
    assert inputs["retryPolicy"] == {"type": "none"}, "a resent POST could create the VM twice"
    assert action["runtimeConfiguration"]["secureData"]["properties"] == ["inputs"]


def test_a_failed_job_fails_the_run(workflow: dict[str, Any]) -> None:
    actions = workflow["properties"]["definition"]["actions"]
    assert actions["Job_failed"]["type"] == "Terminate"
    assert actions["Job_failed"]["runAfter"] == {"Create_VM": ["Failed", "TimedOut"]}
    assert actions["Job_failed"]["inputs"]["runStatus"] == "Failed"


def test_the_audience_is_a_parameter(bicep: dict[str, Any], workflow: dict[str, Any]) -> None:
    example = bicep["examples/logicapp-create-vm.bicep"]
    assert example["parameters"]["apiAudience"].get("default") is None, "the audience must match the API exactly"
    assert render(workflow["properties"]["parameters"]["apiAudience"]["value"]) == "apiAudience"
