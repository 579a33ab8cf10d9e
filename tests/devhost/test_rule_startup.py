"""Rules checked at start-up: an app that cannot be imported, and routes in the host's own path space.

Sources: an app whose import raises is indexed with zero functions and only "0 functions found"
in the host log (Azure/azure-functions-python-worker#1262 and #1338, Azure/azure-functions-host#10342);
``ScriptHost.ValidateHttpFunction`` refuses routes starting with ``admin`` ("The specified route
conflicts with one or more built in routes.", Azure/azure-functions-host
``src/WebJobs.Script/Host/ScriptHost.cs``); routes that match ``/runtime/webhooks/...`` or
``/admin/...`` compete with the host's endpoints and are rejected by current hosts
(``src/WebJobs.Script.WebHost/WebScriptHostHttpRoutesManager.cs``,
``src/WebJobs.Script.WebHost/Middleware/ReservedRouteGuardMiddleware.cs``).
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from tools.devhost import DevHost
from tools.devhost.discovery import DiscoveryError
from tools.devhost.rules import RuleError, parse_rules

from .conftest import APPS, request

ROOT = Path(__file__).resolve().parents[2]
CONSTRAINED = "{*path:regex(^(?!runtime|admin))}"


def test_an_app_whose_import_raises_is_refused_with_what_azure_would_do() -> None:
    with pytest.raises(DiscoveryError) as caught:
        DevHost(APPS / "import_error", memory=True, port=0, settings={})
    message = str(caught.value)
    assert "KeyError: 'DEVHOST_TEST_SETTING_THAT_IS_NOT_SET'" in message
    assert 'function_app.py", line' in message  # the app's own frame
    assert "ZERO functions" in message
    assert "0 functions found" in message


def test_the_command_line_exits_2_with_the_import_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tools.devhost", "--app", str(APPS / "import_error"), "--memory", "--port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert "DEVHOST_TEST_SETTING_THAT_IS_NOT_SET" in result.stderr
    assert "ZERO functions" in result.stderr


def test_a_root_catch_all_is_refused_naming_the_function_and_route(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVHOST_TEST_ROUTE", "{*path}")
    with pytest.raises(DiscoveryError) as caught:
        DevHost(APPS / "routes", memory=True, port=0, settings={})
    message = str(caught.value)
    assert "function 'page': route '{*path}'" in message
    assert "'/runtime/webhooks/durabletask" in message


@pytest.mark.parametrize("route", ["{section}/{*rest}", "runtime/{*rest}", "{a}/{b}/{c}/{d}/{e:alpha}"])
def test_routes_that_can_match_host_paths_are_refused(monkeypatch: pytest.MonkeyPatch, route: str) -> None:
    monkeypatch.setenv("DEVHOST_TEST_ROUTE", route)
    with pytest.raises(DiscoveryError, match="host-owned path"):
        DevHost(APPS / "routes", memory=True, port=0, settings={})


def test_an_admin_route_is_refused_with_the_hosts_message_even_when_lenient(monkeypatch: pytest.MonkeyPatch) -> None:
    """ScriptHost.ValidateHttpFunction: ``route.Trim('/').ToLowerInvariant().StartsWith("admin")``."""
    monkeypatch.setenv("DEVHOST_TEST_ROUTE", "Administration/{id}")
    with pytest.raises(DiscoveryError, match="The specified route conflicts with one or more built in routes"):
        DevHost(APPS / "routes", memory=True, port=0, settings={}, lenient=["reserved-routes"])


def test_a_constrained_catch_all_is_accepted_and_the_host_paths_stay_the_hosts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEVHOST_TEST_ROUTE", CONSTRAINED)
    with DevHost(APPS / "routes", memory=True, port=0, settings={}) as host:
        assert request("GET", f"{host.base_url}/vms/1").body == b"page vms/1"
        assert request("GET", f"{host.base_url}/").body == b"page "
        assert request("GET", f"{host.base_url}/runtime/webhooks/durabletask/instances/").status == 200


def test_lenient_reserved_routes_starts_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("DEVHOST_TEST_ROUTE", "{*path}")
    caplog.set_level(logging.WARNING, logger="devhost")
    host = DevHost(APPS / "routes", memory=True, port=0, settings={"DEVHOST_LENIENT": "reserved-routes"})
    assert any(line.startswith("LENIENT: reserved-routes") for line in host.describe())
    assert "function 'page': route '{*path}'" in caplog.text
    with host:
        # The devhost still serves its own paths first; on Azure they would be lost to the app.
        assert request("GET", f"{host.base_url}/runtime/webhooks/durabletask/instances/").status == 200
        assert request("GET", f"{host.base_url}/anything").body == b"page anything"


def test_unknown_rules_cannot_be_relaxed() -> None:
    assert parse_rules(["reserved-routes"]) == {"reserved-routes"}
    assert parse_rules(["all"]) == {"reserved-routes"}
    with pytest.raises(RuleError, match="unknown rule 'function-timeout'"):
        parse_rules(["function-timeout"])
