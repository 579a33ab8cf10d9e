"""The operations workbook and alerts: wired from main.bicep, mailed to a parameter, querying only real names.

Every metric name, span name prefix, span attribute and metric dimension the workbook and alert queries use must
be one ``functions/telemetry/names.py`` defines — the names the app really emits — or the dashboards and alerts
would silently show nothing.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from functions.telemetry import names
from tests.infra.bicep import INFRA, ROOT, body, render

OPERATIONS = "app/operations.bicep"
QUERY_TABLES = ("customMetrics", "dependencies", "requests")


@pytest.fixture(scope="module")
def operations(bicep: dict[str, Any]) -> dict[str, Any]:
    return bicep[OPERATIONS]


def queries() -> list[str]:
    """Every KQL query in the operations Bicep (single-line string literals that start with a table)."""
    text = (INFRA / OPERATIONS).read_text(encoding="utf-8")
    found = re.findall(r"query: '([^']*)'", text)
    found += re.findall(r"Query = '([^']*)'", text)
    assert len(found) >= 13, found
    assert all(query.startswith(QUERY_TABLES) for query in found)
    return found


def test_every_metric_a_query_reads_is_one_the_app_emits() -> None:
    used = {name for query in queries() for name in re.findall(r'"(aetherv\.[a-z_.]+)"', query)}
    assert used, "no metric found in the queries"
    metric_like = {name for name in used if not name.startswith(("aetherv.job_id", "aetherv.host", "aetherv.error"))}
    assert metric_like <= set(names.METRICS), metric_like - set(names.METRICS)
    for metric in (names.JOBS_COMPLETED, names.STEP_DURATION, names.HOST_CONNECTED, names.SYNC_DURATION):
        assert metric in used, f"{metric} is not shown or alerted on"


def test_every_dimension_and_attribute_a_query_reads_is_emitted() -> None:
    keys = {key for query in queries() for key in re.findall(r'customDimensions\["([^"]+)"\]', query)}
    assert keys <= set(names.DIMENSIONS) | set(names.ATTRIBUTES), keys - set(names.DIMENSIONS) - set(names.ATTRIBUTES)
    assert names.JOB_ID in keys


def test_span_names_queried_are_the_app_span_prefixes() -> None:
    prefixes = {prefix for query in queries() for prefix in re.findall(r'name startswith "([^"]+)"', query)}
    assert prefixes
    assert prefixes <= set(names.SPAN_PREFIXES)


def test_main_wires_the_operations_module_to_application_insights(bicep: dict[str, Any]) -> None:
    module = body(bicep["main.bicep"]["modules"]["operations"])
    assert render(module["params"]["appInsightsId"]) == "monitoring.outputs.appInsightsId"
    assert render(module["params"]["alertEmail"]) == "alertEmail"
    assert "appInsightsId" in bicep["app/monitoring.bicep"]["outputs"]


def test_the_alert_email_is_a_deployment_parameter() -> None:
    parameters = json.loads((ROOT / "infra" / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert parameters["alertEmail"] == {"value": "${AETHERV_ALERT_EMAIL}"}


def test_the_action_group_mails_the_parameter(operations: dict[str, Any]) -> None:
    group = body(operations["resources"]["actionGroup"])
    assert operations["resources"]["actionGroup"]["type"] == "Microsoft.Insights/actionGroups"
    receivers = render(group["properties"]["emailReceivers"])
    assert "emailAddress: alertEmail" in receivers
    assert len(render(group["properties"]["groupShortName"])) <= 12


@pytest.mark.parametrize(
    ("rule", "parameter", "metric"),
    [
        ("hostDisconnected", "hostDisconnectedMinutes", names.HOST_CONNECTED),
        ("jobFailureRate", "jobFailureRatePercent", names.JOBS_COMPLETED),
        ("inventoryStale", "inventoryStaleMinutes", names.SYNC_DURATION),
    ],
)
def test_each_alert_rule_queries_its_metric_with_its_parameter_and_notifies(
    operations: dict[str, Any], rule: str, parameter: str, metric: str
) -> None:
    resource = operations["resources"][rule]
    assert resource["type"] == "Microsoft.Insights/scheduledQueryRules"
    properties = body(resource)["properties"]
    [criterion] = properties["criteria"]["allOf"]
    query = render(operations["variables"][criterion["query"]]["value"])
    assert f'"{metric}"' in query
    assert parameter in query or parameter in render(properties["windowSize"])
    assert parameter in render(properties["description"])
    assert render(properties["scopes"]) == "[appInsightsId]"
    assert render(properties["actions"]["actionGroups"]) == "[actionGroup.id]"
    assert properties["enabled"] is True


def test_the_workbook_shows_jobs_failures_connectivity_and_sync(operations: dict[str, Any]) -> None:
    workbook = operations["resources"]["workbook"]
    assert workbook["type"] == "Microsoft.Insights/workbooks"
    properties = body(workbook)["properties"]
    assert render(properties["sourceId"]) == "appInsightsId"
    assert render(properties["serializedData"]) == "string(workbookContent)"
    shown = {render(item["name"]) for item in operations["variables"]["workbookContent"]["value"]["items"]}
    assert {"jobs-over-time", "failures-by-step-and-host", "host-connectivity", "sync-duration"} <= shown
