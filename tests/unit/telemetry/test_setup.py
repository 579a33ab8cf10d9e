"""Setting telemetry up at import: nothing without a setting, never an import failure, problems named by readyz."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from functions.app import Container
from functions.settings import SettingsError, TelemetrySettings, load_telemetry
from tests.conftest import sample_values

ROOT = Path(__file__).resolve().parents[3]
PROBE = """
import json, sys
import function_app
from opentelemetry import metrics, trace
from functions.telemetry import names, start_span
with start_span("probe span", {names.HOST: "hv09"}):
    pass
provider = trace.get_tracer_provider()
if hasattr(provider, "force_flush"):
    provider.force_flush()
from opentelemetry.instrumentation.requests import RequestsInstrumentor
print(json.dumps({
    "functions": len(function_app.app.get_functions()),
    "requests_instrumented": RequestsInstrumentor().is_instrumented_by_opentelemetry,
    "tracer_provider": type(provider).__name__,
    "meter_provider": type(metrics.get_meter_provider()).__name__,
}))
"""


def run_app(**settings: str) -> tuple[dict[str, object], str, str]:
    """Import function_app in a fresh process with ``settings``; (the probe's report, stdout, stderr)."""
    prefixes = ("AETHERV_", "AzureWebJobs", "APPLICATIONINSIGHTS_", "OTEL_")
    env = {name: value for name, value in os.environ.items() if not name.startswith(prefixes)} | settings
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return report, result.stdout, result.stderr


def test_without_a_connection_string_or_exporter_nothing_is_installed_or_sent() -> None:
    report, stdout, _ = run_app(AETHERV_TELEMETRY_EXPORTER="none")
    assert report["functions"] >= 40
    assert report["tracer_provider"] == "ProxyTracerProvider"  # the API's no-op: spans go nowhere
    assert report["meter_provider"] == "_ProxyMeterProvider"
    assert "probe span" not in stdout


def test_a_bad_exporter_setting_never_breaks_the_import_and_readyz_names_it() -> None:
    report, _, stderr = run_app(AETHERV_TELEMETRY_EXPORTER="loudly", OTEL_EXPORTER_OTLP_ENDPOINT="ftp://x")
    assert report["functions"] >= 40
    assert report["tracer_provider"] == "ProxyTracerProvider"
    assert "AETHERV_TELEMETRY_EXPORTER" in stderr  # logged: telemetry is off
    with pytest.raises(SettingsError) as caught:
        Container({**sample_values(), "AETHERV_TELEMETRY_EXPORTER": "loudly"}).settings()
    problems = " ".join(caught.value.problems)
    assert "AETHERV_TELEMETRY_EXPORTER: must be one of none, console, otlp" in problems


def test_readyz_problems_include_every_bad_telemetry_setting() -> None:
    env = {
        **sample_values(),
        "AETHERV_TELEMETRY_EXPORTER": "loudly",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://collector",
        "APPLICATIONINSIGHTS_CONNECTION_STRING": "not-a-connection-string",
    }
    with pytest.raises(SettingsError) as caught:
        Container(env).settings()
    names = [problem.split(":")[0] for problem in caught.value.problems]
    assert names == [
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "AETHERV_TELEMETRY_EXPORTER",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    assert "not-a-connection-string" not in str(caught.value)  # a secret setting is never quoted


def test_the_console_exporter_prints_each_span_as_one_json_line() -> None:
    report, stdout, _ = run_app(AETHERV_TELEMETRY_EXPORTER="console")
    assert report["tracer_provider"] == "TracerProvider"
    [line] = [line for line in stdout.splitlines() if '"probe span"' in line]
    span = json.loads(line)
    assert span["attributes"]["aetherv.host"] == "hv09"
    assert span["resource"]["attributes"]["service.name"] == "aetherv-orchestrator"


def test_a_connection_string_selects_azure_monitor_without_sending_at_import() -> None:
    # A syntactically valid string for an unroutable endpoint: set-up must not block or fail the import.
    connection = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/"
    # The exporter's own usage statistics would go to a public endpoint: off in tests.
    report, _, _ = run_app(
        APPLICATIONINSIGHTS_CONNECTION_STRING=connection, APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL="true"
    )
    assert report["functions"] >= 40
    assert report["tracer_provider"] == "TracerProvider"
    assert report["requests_instrumented"] is False  # one span per WinRM operation, not one per HTTP request


def test_the_settings_read_alone_match_the_full_settings() -> None:
    env = {**sample_values(), "AETHERV_TELEMETRY_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"}
    alone = load_telemetry(env)
    assert alone == TelemetrySettings(exporter="otlp", otlp_endpoint="http://c:4318")
    assert Container(env).settings().telemetry == alone
