"""One hybrid connection, two authorization rules and one app link per Hyper-V host, and AETHERV_HOSTS from the
same parameter array: checked on the loop structure and by evaluating it for a sample of three hosts."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.bicep import body, evaluate, loop_source, render

SAMPLE_HOSTS = [
    {"name": "hv01.corp.example.com"},
    {"name": "HV02.corp.example.com", "port": 5986},
    {"name": "hv03.lab.example.com", "port": 15986},
]


@pytest.fixture(scope="module")
def main(bicep: dict[str, Any]) -> dict[str, Any]:
    return bicep["main.bicep"]


@pytest.fixture(scope="module")
def relay(bicep: dict[str, Any]) -> dict[str, Any]:
    return bicep["app/relay.bicep"]


@pytest.fixture(scope="module")
def derived(main: dict[str, Any]) -> dict[str, Any]:
    """main.bicep's per-host variables evaluated for SAMPLE_HOSTS."""
    variables = main["variables"]
    scope: dict[str, Any] = {"hyperVHosts": SAMPLE_HOSTS}
    for name in ("hybridConnections", "hostEndpoints", "aethervHosts"):
        scope[name] = evaluate(variables[name]["value"], scope)
    return scope


def test_the_host_parameter_is_an_array_defaulting_to_no_hosts(main: dict[str, Any]) -> None:
    param = main["parameters"]["hyperVHosts"]
    assert param["type"] == "array"
    assert param["default"] == []


def test_one_hybrid_connection_per_host_with_default_port(derived: dict[str, Any]) -> None:
    assert derived["hybridConnections"] == [
        {"name": "hv01-corp-example-com-5986", "hostname": "hv01.corp.example.com", "port": 5986},
        {"name": "hv02-corp-example-com-5986", "hostname": "HV02.corp.example.com", "port": 5986},
        {"name": "hv03-lab-example-com-15986", "hostname": "hv03.lab.example.com", "port": 15986},
    ]


def test_aetherv_hosts_is_built_from_the_same_array(
    bicep: dict[str, Any], main: dict[str, Any], derived: dict[str, Any]
) -> None:
    assert derived["aethervHosts"] == "hv01.corp.example.com:5986,HV02.corp.example.com:5986,hv03.lab.example.com:15986"
    assert loop_source({"config": main["variables"]["hostEndpoints"]["value"]}) == "hybridConnections"
    api = body(main["modules"]["api"])
    assert render(api["params"]["aethervHosts"]) == "aethervHosts"
    setting = bicep["app/api.bicep"]["variables"]["baseSettings"]["value"]["AETHERV_HOSTS"]
    assert evaluate(setting, {"aethervHosts": derived["aethervHosts"]}) == derived["aethervHosts"]


def test_the_relay_module_gets_the_same_array(main: dict[str, Any]) -> None:
    assert loop_source({"config": main["variables"]["hybridConnections"]["value"]}) == "hyperVHosts"
    relay = body(main["modules"]["relay"])
    assert render(relay["params"]["hybridConnections"]) == "hybridConnections"
    assert render(relay["params"]["functionAppName"]) == "api.outputs.name"


@pytest.mark.parametrize(
    ("resource", "resource_type"),
    [
        ("hybridConnection", "Microsoft.Relay/namespaces/hybridConnections"),
        ("sendRule", "Microsoft.Relay/namespaces/hybridConnections/authorizationRules"),
        ("listenRule", "Microsoft.Relay/namespaces/hybridConnections/authorizationRules"),
        ("appLink", "Microsoft.Web/sites/hybridConnectionNamespaces/relays"),
    ],
)
def test_each_per_host_resource_loops_over_the_hosts(relay: dict[str, Any], resource: str, resource_type: str) -> None:
    declaration = relay["resources"][resource]
    assert declaration["type"] == resource_type
    assert loop_source(declaration) == "hybridConnections"
    assert declaration["config"]["condition"] is None, "a condition would drop hosts"
    others = [name for name, res in relay["resources"].items() if res["type"] == resource_type and name != resource]
    assert all(relay["resources"][name]["config"].get("loop_type") for name in others)


def _per_host(relay: dict[str, Any], resource: str, hosts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    scope = {
        "hybridConnections": hosts,
        "functionAppName": "func-api-token",
        "namespace": {"name": "relay-token"},
        "hybridConnection": [{"name": hc["name"], "id": f"/relay/{hc['name']}"} for hc in hosts],
        "sendRule": [{"name": "defaultSender", "listKeys()": {"primaryKey": "send-key"}} for _ in hosts],
    }
    declaration = relay["resources"][resource]
    result: list[dict[str, Any]] = evaluate(declaration["config"], scope)
    return result


def test_hybrid_connections_require_client_authorization_and_carry_the_endpoint(
    relay: dict[str, Any], derived: dict[str, Any]
) -> None:
    connections = _per_host(relay, "hybridConnection", derived["hybridConnections"])
    assert [hc["name"] for hc in connections] == [hc["name"] for hc in derived["hybridConnections"]]
    assert all(hc["properties"]["requiresClientAuthorization"] is True for hc in connections)
    assert [hc["properties"]["userMetadata"] for hc in connections] == [
        '[{"key":"endpoint","value":"hv01.corp.example.com:5986"}]',
        '[{"key":"endpoint","value":"HV02.corp.example.com:5986"}]',
        '[{"key":"endpoint","value":"hv03.lab.example.com:15986"}]',
    ]


def test_send_and_listen_rules(relay: dict[str, Any], derived: dict[str, Any]) -> None:
    sends = _per_host(relay, "sendRule", derived["hybridConnections"])
    listens = _per_host(relay, "listenRule", derived["hybridConnections"])
    assert len(sends) == len(listens) == 3
    assert all(rule["properties"]["rights"] == ["Send"] and rule["name"] == "defaultSender" for rule in sends)
    assert all(rule["properties"]["rights"] == ["Listen"] and rule["name"] == "defaultListener" for rule in listens)
    for name in ("sendRule", "listenRule"):
        assert render(body(relay["resources"][name])["parent"]) == "hybridConnection[i]"


def test_app_links_point_at_each_host_endpoint(relay: dict[str, Any], derived: dict[str, Any]) -> None:
    links = _per_host(relay, "appLink", derived["hybridConnections"])
    assert [link["name"] for link in links] == [
        "func-api-token/relay-token/hv01-corp-example-com-5986",
        "func-api-token/relay-token/hv02-corp-example-com-5986",
        "func-api-token/relay-token/hv03-lab-example-com-15986",
    ]
    assert [(link["properties"]["hostname"], link["properties"]["port"]) for link in links] == [
        ("hv01.corp.example.com", 5986),
        ("HV02.corp.example.com", 5986),
        ("hv03.lab.example.com", 15986),
    ]
    declared = body(relay["resources"]["appLink"])["properties"]
    assert declared["serviceBusSuffix"] == ".servicebus.windows.net"
    assert render(declared["relayArmUri"]) == "hybridConnection[i].id"
    assert render(declared["sendKeyName"]) == "sendRule[i].name"
    assert render(declared["sendKeyValue"]) == "sendRule[i].listKeys().primaryKey"


def test_outputs_list_what_to_register_in_the_hybrid_connection_manager(
    relay: dict[str, Any], main: dict[str, Any], derived: dict[str, Any]
) -> None:
    listed = evaluate(relay["outputs"]["hybridConnections"]["value"], {**derived, "namespace": {"name": "relay-x"}})
    assert listed == [
        {"name": "hv01-corp-example-com-5986", "endpoint": "hv01.corp.example.com:5986", "namespace": "relay-x"},
        {"name": "hv02-corp-example-com-5986", "endpoint": "HV02.corp.example.com:5986", "namespace": "relay-x"},
        {"name": "hv03-lab-example-com-15986", "endpoint": "hv03.lab.example.com:15986", "namespace": "relay-x"},
    ]
    output = main["outputs"]["AETHERV_HYBRID_CONNECTIONS"]["value"]
    assert render(output) == "useHybridConnections ? relay.outputs.hybridConnections : []"
