"""The event infrastructure: a CloudEvents topic only Entra identities publish to, the app's right to publish and its
settings, the webhook secret in Key Vault, and the example Logic App subscribed to failed jobs."""

from __future__ import annotations

from typing import Any

from functions.events.catalog import EventType
from tests.infra.bicep import body, render


def test_the_topic_takes_cloud_events_from_entra_identities_only(bicep: dict[str, Any]) -> None:
    topic = body(bicep["app/events.bicep"]["resources"]["topic"])
    assert topic["properties"]["inputSchema"] == "CloudEventSchemaV1_0"
    assert topic["properties"]["disableLocalAuth"] is True


def test_the_app_publishes_with_its_identity_to_the_topic_it_is_given(bicep: dict[str, Any]) -> None:
    main = bicep["main.bicep"]
    events = body(main["modules"]["events"])
    assert render(events["params"]["appPrincipalId"]) == "identity.outputs.principalId"
    api = body(main["modules"]["api"])["params"]
    assert "events.outputs.endpoint" in render(api["eventGridEndpoint"])
    settings = bicep["app/api.bicep"]["variables"]["baseSettings"]["value"]
    assert render(settings["AETHERV_EVENTGRID_ENDPOINT"]) == "eventGridEndpoint"


def test_the_webhook_secret_is_a_key_vault_reference(bicep: dict[str, Any]) -> None:
    webhooks = render(bicep["app/api.bicep"]["variables"]["webhookSettings"]["value"])
    assert "AETHERV_WEBHOOK_SECRET" in webhooks and "@Microsoft.KeyVault(SecretUri=" in webhooks
    vault = bicep["app/keyvault.bicep"]
    assert "webhookSecretValue" in vault["resources"]
    assert "webhookSecret" in render(body(bicep["main.bicep"]["modules"]["keyVault"])["params"]["webhookSecret"])


def test_the_example_logic_app_gets_failed_jobs_and_answers_the_handshake(bicep: dict[str, Any]) -> None:
    example = bicep["examples/logicapp-job-failed.bicep"]["resources"]
    subscription = body(example["subscription"])["properties"]
    assert subscription["eventDeliverySchema"] == "CloudEventSchemaV1_0"
    assert subscription["filter"]["includedEventTypes"] == [EventType.JOB_FAILED.full]
    assert "listCallbackUrl" in render(subscription["destination"]["properties"]["endpointUrl"])
    actions = body(example["workflow"])["properties"]["definition"]["actions"]["Handshake_or_event"]
    handshake = actions["else"]["actions"]["Allow_origin"]["inputs"]["headers"]
    assert "WebHook-Request-Origin" in render(
        handshake["'WebHook-Allowed-Origin'"]
    )  # quoted keys keep their quotes in pycep
    assert actions["actions"]["Notify"]["runtimeConfiguration"]["secureData"]["properties"] == ["inputs"]
