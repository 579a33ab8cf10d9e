"""Connectivity to the Hyper-V hosts is one deployment choice (parameter ``connectivity``): ``hybridConnection`` (Azure
Relay hybrid connections) or ``vnet`` (regional VNet integration into a delegated subnet, a new VNet peered with the
customer's hub or an existing subnet, private DNS zones for the hosts). Each variant is evaluated from the parsed
templates: which modules deploy, which settings the site gets, and that it carries none of the other variant.
That checkov passes over every file (both variants live in the same files) is test_checkov's job."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.bicep import body, evaluate, render

SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
HUB_SUBSCRIPTION = "00000000-0000-0000-0000-00000000000h"
VNETS = "providers/Microsoft.Network/virtualNetworks"
RG_ID = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-aetherv"
HUB_ID = f"/subscriptions/{HUB_SUBSCRIPTION}/resourceGroups/rg-hub/{VNETS}/vnet-hub"
EXISTING_VNET_ID = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-net/{VNETS}/vnet-spoke"
EXISTING_SUBNET_ID = f"{EXISTING_VNET_ID}/subnets/snet-aetherv"
NEW_VNET_ID = f"{RG_ID}/{VNETS}/vnet-token"
NEW_SUBNET_ID = f"{NEW_VNET_ID}/subnets/snet-functions"
HOSTS = [
    {"name": "HV01.corp.example.com", "address": "10.20.0.11"},
    {"name": "hv01.corp.example.com", "port": 5985, "address": "10.20.0.11"},  # same host, second port
    {"name": "hv02.corp.example.com", "port": 15986, "address": "10.20.0.12"},
    {"name": "hv03.corp.example.com"},  # resolved by the VNet's own DNS servers
]
CONNECTIVITY_MODULES = {"relay", "network", "hubPeering", "appPeering", "hostDns"}
CONNECTIVITY_OUTPUTS = [
    "AETHERV_CONNECTIVITY",
    "AETHERV_RELAY_NAMESPACE",
    "AETHERV_HYBRID_CONNECTIONS",
    "AETHERV_VNET_INTEGRATION_SUBNET_ID",
    "AETHERV_HOST_DNS_ZONES",
]

VARIANTS = {
    "hybridConnection": {"connectivity": "hybridConnection"},
    "vnet-new-peered": {"connectivity": "vnet", "hubVirtualNetworkId": HUB_ID},
    "vnet-new-unpeered": {"connectivity": "vnet"},
    "vnet-existing-subnet": {"connectivity": "vnet", "vnetIntegrationSubnetId": EXISTING_SUBNET_ID},
}
EXPECTED_MODULES = {
    "hybridConnection": {"relay"},
    "vnet-new-peered": {"network", "hubPeering", "appPeering", "hostDns"},
    "vnet-new-unpeered": {"network", "hostDns"},
    "vnet-existing-subnet": {"hostDns"},
}
EXPECTED_SUBNET = {
    "hybridConnection": "",
    "vnet-new-peered": NEW_SUBNET_ID,
    "vnet-new-unpeered": NEW_SUBNET_ID,
    "vnet-existing-subnet": EXISTING_SUBNET_ID,
}


@pytest.fixture(scope="module")
def main(bicep: dict[str, Any]) -> dict[str, Any]:
    return bicep["main.bicep"]


def _main_scope(main: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """main.bicep's parameters (defaults + overrides) and the variables the connectivity choice derives."""
    scope: dict[str, Any] = {name: param.get("default") for name, param in main["parameters"].items()}
    scope.update(overrides)
    scope.update(
        hyperVHosts=HOSTS,
        rg={"id": RG_ID, "name": "rg-aetherv"},
        network={"outputs": {"vnetId": NEW_VNET_ID, "subnetId": NEW_SUBNET_ID, "vnetName": "vnet-token"}},
        appVnetName="vnet-token",
    )
    variables = main["variables"]
    for name in (
        "useHybridConnections",
        "useVnet",
        "createVnet",
        "peerWithHub",
        "hubVnetParts",
        "existingVnetId",
        "hostDnsEntries",
        "hostDnsRecords",
        "integrationSubnetId",
    ):
        scope[name] = evaluate(variables[name]["value"], scope)
    return scope


def _deployed(main: dict[str, Any], scope: dict[str, Any]) -> set[str]:
    deployed = set()
    for name, module in main["modules"].items():
        condition = module["config"].get("condition")
        if condition is None or evaluate(condition, scope):
            deployed.add(name)
    return deployed


def _site(bicep: dict[str, Any], subnet_id: str) -> dict[str, Any]:
    api = bicep["app/api.bicep"]
    scope = {"vnetIntegrationSubnetId": subnet_id}
    scope["useVnet"] = evaluate(api["variables"]["useVnet"]["value"], scope)
    properties = body(api["resources"]["site"])["properties"]
    return {key: evaluate(properties[key], scope) for key in ("virtualNetworkSubnetId", "vnetRouteAllEnabled")}


def test_connectivity_is_one_parameter_defaulting_to_hybrid_connections(main: dict[str, Any]) -> None:
    param = main["parameters"]["connectivity"]
    allowed = next(d["argument"] for d in param["decorators"] if d["type"] == "allowed")
    assert allowed == ["hybridConnection", "vnet"]
    assert param["default"] == "hybridConnection"
    assert main["parameters"]["vnetIntegrationSubnetId"]["default"] == ""
    assert main["parameters"]["hubVirtualNetworkId"]["default"] == ""


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_variant_deploys_its_resources_and_not_the_others(
    bicep: dict[str, Any], main: dict[str, Any], variant: str
) -> None:
    scope = _main_scope(main, VARIANTS[variant])
    deployed = _deployed(main, scope) & CONNECTIVITY_MODULES
    assert deployed == EXPECTED_MODULES[variant]
    # The site joins the subnet (and routes everything through it) exactly in the vnet variants.
    subnet = evaluate(body(main["modules"]["api"])["params"]["vnetIntegrationSubnetId"], scope)
    assert subnet == EXPECTED_SUBNET[variant]
    site = _site(bicep, subnet)
    if variant == "hybridConnection":
        assert site == {"virtualNetworkSubnetId": None, "vnetRouteAllEnabled": False}
    else:
        assert site == {"virtualNetworkSubnetId": subnet, "vnetRouteAllEnabled": True}


@pytest.mark.parametrize("variant", VARIANTS)
def test_outputs_describe_only_the_chosen_variant(main: dict[str, Any], variant: str) -> None:
    scope = _main_scope(main, VARIANTS[variant])
    scope["relay"] = {"outputs": {"namespaceName": "relay-token", "hybridConnections": [{"name": "hc"}]}}
    scope["hostDns"] = {"outputs": {"zones": ["zone"]}}
    outputs = {name: evaluate(main["outputs"][name]["value"], scope) for name in CONNECTIVITY_OUTPUTS}
    assert outputs["AETHERV_CONNECTIVITY"] == VARIANTS[variant]["connectivity"]
    if variant == "hybridConnection":
        assert outputs["AETHERV_RELAY_NAMESPACE"] == "relay-token"
        assert outputs["AETHERV_HYBRID_CONNECTIONS"] == [{"name": "hc"}]
        assert outputs["AETHERV_VNET_INTEGRATION_SUBNET_ID"] == ""
        assert outputs["AETHERV_HOST_DNS_ZONES"] == []
    else:
        assert outputs["AETHERV_RELAY_NAMESPACE"] == ""
        assert outputs["AETHERV_HYBRID_CONNECTIONS"] == []
        assert outputs["AETHERV_VNET_INTEGRATION_SUBNET_ID"] == EXPECTED_SUBNET[variant]
        assert outputs["AETHERV_HOST_DNS_ZONES"] == ["zone"]


def test_the_new_subnet_is_delegated_to_app_service_and_has_an_nsg(bicep: dict[str, Any]) -> None:
    network = bicep["app/network.bicep"]
    vnet = body(network["resources"]["vnet"])["properties"]
    assert vnet["addressSpace"]["addressPrefixes"] == ["addressPrefix"]
    [subnet] = vnet["subnets"]
    assert subnet["name"] == "subnetName"
    assert subnet["properties"]["addressPrefix"] == "addressPrefix"
    assert [d["properties"]["serviceName"] for d in subnet["properties"]["delegations"]] == [
        "Microsoft.Web/serverFarms"
    ]
    assert render(subnet["properties"]["networkSecurityGroup"]["id"]) == "nsg.id"
    assert render(vnet["dhcpOptions"]) == "empty(dnsServers) ? null : {dnsServers: dnsServers}"
    subnet_id = network["outputs"]["subnetId"]["value"]
    assert render(subnet_id) == "resource_id(Microsoft.Network/virtualNetworks/subnets, vnet.name, subnetName)"


def test_the_default_address_space_fits_scale_out(main: dict[str, Any]) -> None:
    prefix = main["parameters"]["vnetAddressPrefix"]["default"]
    assert int(prefix.split("/")[1]) <= 26, "App Service recommends a /26 integration subnet"


def test_the_peering_uses_the_hub_gateway_and_is_created_hub_side_first(main: dict[str, Any]) -> None:
    scope = _main_scope(main, VARIANTS["vnet-new-peered"])
    hub = body(main["modules"]["hubPeering"])
    app = body(main["modules"]["appPeering"])
    hub_scope = hub["scope"]["function"]["parameters"]
    assert evaluate(hub_scope["subscription_id"], scope) == HUB_SUBSCRIPTION
    assert evaluate(hub_scope["resource_group_name"], scope) == "rg-hub"
    hub_params = {key: evaluate(value, scope) for key, value in hub["params"].items()}
    app_params = {key: evaluate(value, scope) for key, value in app["params"].items()}
    assert hub_params == {
        "localVnetName": "vnet-hub",
        "name": "peer-vnet-token",
        "remoteVnetId": NEW_VNET_ID,
        "allowGatewayTransit": True,
        "useRemoteGateways": False,
    }
    assert app_params == {
        "localVnetName": "vnet-token",
        "name": "peer-vnet-hub",
        "remoteVnetId": HUB_ID,
        "allowGatewayTransit": False,
        "useRemoteGateways": True,
    }
    assert "hubPeering" in app["dependsOn"], "Azure refuses useRemoteGateways before the hub allows gateway transit"


def test_the_peering_module_passes_its_flags_through(bicep: dict[str, Any]) -> None:
    peering = body(bicep["app/vnet-peering.bicep"]["resources"]["peering"])
    properties = peering["properties"]
    assert render(peering["parent"]) == "localVnet"
    assert render(properties["remoteVirtualNetwork"]["id"]) == "remoteVnetId"
    assert properties["allowGatewayTransit"] == "allowGatewayTransit"
    assert properties["useRemoteGateways"] == "useRemoteGateways"
    assert properties["allowVirtualNetworkAccess"] is True
    assert properties["allowForwardedTraffic"] is True


def _per_record(resource: dict[str, Any], records: list[dict[str, Any]], scope: dict[str, Any]) -> list[Any]:
    """A looped, conditional resource of host-dns.bicep evaluated per record (None where the condition is false)."""
    config = resource["config"]
    detail = config["loop_type"]["detail"]
    results = []
    for index, record in enumerate(records):
        inner = {**scope, detail["item_name"]: record, detail.get("index_name", "_"): index}
        results.append(evaluate(config["config"], inner) if evaluate(config["condition"], inner) else None)
    return results


@pytest.mark.parametrize("variant", ["vnet-new-peered", "vnet-existing-subnet"])
def test_hosts_with_an_address_get_a_private_zone_linked_to_the_app_vnet(
    bicep: dict[str, Any], main: dict[str, Any], variant: str
) -> None:
    scope = _main_scope(main, VARIANTS[variant])
    params = {key: evaluate(value, scope) for key, value in body(main["modules"]["hostDns"])["params"].items()}
    records = params["records"]
    assert records == [
        {"name": "hv01.corp.example.com", "address": "10.20.0.11"},
        {"name": "hv02.corp.example.com", "address": "10.20.0.12"},
        {"name": "hv03.corp.example.com", "address": ""},
    ], "one record per host name, lower-cased; a second port of the same host adds no zone"
    expected_vnet = NEW_VNET_ID if variant == "vnet-new-peered" else EXISTING_VNET_ID
    assert params["virtualNetworkId"] == expected_vnet

    dns = bicep["app/host-dns.bicep"]
    module_scope = {"virtualNetworkId": expected_vnet, "tags": {}, "zone": [{"name": r["name"]} for r in records]}
    zones = _per_record(dns["resources"]["zone"], records, module_scope)
    apexes = _per_record(dns["resources"]["apex"], records, module_scope)
    links = _per_record(dns["resources"]["link"], records, module_scope)
    assert [zone and (zone["name"], zone["location"]) for zone in zones] == [
        ("hv01.corp.example.com", "global"),
        ("hv02.corp.example.com", "global"),
        None,
    ]
    assert [apex and (apex["name"], apex["properties"]["aRecords"]) for apex in apexes] == [
        ("@", [{"ipv4Address": "10.20.0.11"}]),
        ("@", [{"ipv4Address": "10.20.0.12"}]),
        None,
    ]
    for link in links[:2]:
        assert link["properties"] == {"registrationEnabled": False, "virtualNetwork": {"id": expected_vnet}}
    assert links[2] is None
    assert evaluate(dns["outputs"]["zones"]["value"], {"records": records}) == records[:2]


def test_hybrid_connections_are_not_built_from_addresses(main: dict[str, Any]) -> None:
    # The relay variant matches hosts by DNS name; an address in a host entry only feeds the vnet variant's DNS.
    relay = body(main["modules"]["relay"])
    assert render(relay["params"]["hybridConnections"]) == "hybridConnections"
    assert "address" not in render(main["variables"]["hybridConnections"]["value"])
    assert render(main["modules"]["relay"]["config"]["condition"]) == "useHybridConnections"
