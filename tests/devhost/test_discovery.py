"""Discovery, settings, client binding payload and the command line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools.devhost.bindings import client_binding
from tools.devhost.discovery import DiscoveryError, discover, load_host_config, load_settings

from .conftest import APPS

ROOT = Path(__file__).resolve().parents[2]


def test_unsupported_binding_fails_with_function_and_type() -> None:
    with pytest.raises(DiscoveryError, match=r"function 'on_message'.*'queueTrigger'"):
        discover(APPS / "unsupported", settings={})


def test_indexes_triggers_and_resolves_host_json_settings() -> None:
    spec = discover(APPS / "durable", settings={"DEVHOST_TEST_HUB": "ResolvedHub"})
    assert spec.config.hub_name == "ResolvedHub"
    assert spec.config.route_prefix == "api"
    assert spec.config.max_activities == 8
    assert {"chain", "fan_out", "parent"} <= set(spec.orchestrators)
    assert {"hello", "double", "flaky"} <= set(spec.activities)
    assert set(spec.entities) == {"counter"}
    start = next(f for f in spec.functions if f.name == "start")
    assert start.client_bindings == ["client"]
    assert start.wants_context
    assert start.is_async


def test_missing_setting_in_host_json_is_reported(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text(json.dumps({"extensions": {"durableTask": {"hubName": "%NOPE_HUB%"}}}))
    with pytest.raises(DiscoveryError, match="NOPE_HUB"):
        load_host_config(tmp_path, {})


def test_environment_wins_over_local_settings(tmp_path: Path) -> None:
    (tmp_path / "local.settings.json").write_text(json.dumps({"Values": {"A": "file", "B": "file"}}))
    assert load_settings(tmp_path, {"A": "env"}) == {"A": "env", "B": "file"}


def test_defaults_and_invalid_hub(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text("{}")
    config = load_host_config(tmp_path, {})
    assert (config.hub_name, config.route_prefix) == ("TestHubName", "api")
    (tmp_path / "host.json").write_text(json.dumps({"extensions": {"durableTask": {"hubName": "a-b"}}}))
    with pytest.raises(DiscoveryError, match="task hub name"):
        load_host_config(tmp_path, {})


def test_client_binding_payload() -> None:
    payload = client_binding("http://127.0.0.1:7071", "Hub")
    assert payload["rpcBaseUrl"] == "http://127.0.0.1:7071/durabletask/"
    assert payload["taskHubName"] == "Hub"
    management = payload["managementUrls"]
    assert isinstance(management, dict)
    assert management["id"] == "INSTANCEID"
    assert management["statusQueryGetUri"].startswith(
        "http://127.0.0.1:7071/runtime/webhooks/durabletask/instances/INSTANCEID?taskHub=Hub"
    )
    assert "createNewInstancePostUri" in payload["creationUrls"]  # type: ignore[operator]


def test_cli_help_documents_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tools.devhost", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    for option in ("--app", "--port", "--host", "--store", "--memory", "PORT"):
        assert option in result.stdout


def test_cli_reports_discovery_errors(tmp_path: Path) -> None:
    shutil.copytree(APPS / "unsupported", tmp_path / "app")
    result = subprocess.run(
        [sys.executable, "-m", "tools.devhost", "--app", str(tmp_path / "app"), "--memory"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "queueTrigger" in result.stderr
