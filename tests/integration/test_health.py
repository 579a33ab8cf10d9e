"""Health routes of the assembled app: liveness, and readiness against a real (or unreachable) Azurite."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable
from typing import Any

import azure.functions as func
import pytest

from tools.azurite import Azurite, free_port


def app_function(name: str) -> Callable[..., Any]:
    sys.modules.pop("function_app", None)
    module = importlib.import_module("function_app")
    for function in module.app.get_functions():
        if function.get_function_name() == name:
            user_function: Callable[..., Any] = function.get_user_function()
            return user_function
    raise AssertionError(f"function {name} not registered")


def get(route: str) -> func.HttpRequest:
    return func.HttpRequest(method="GET", url=f"http://127.0.0.1:7071/api/{route}", headers={}, body=b"")


def test_healthz_reports_version_and_build(local_settings: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AETHERV_BUILD_COMMIT", "abc1234")
    response = app_function("healthz")(get("healthz"))
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = json.loads(response.get_body())
    assert body == {"status": "healthy", "version": "0.1.0", "build": "abc1234"}


def test_readyz_is_ready_with_reachable_storage(
    local_settings: dict[str, str], azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    response = app_function("readyz")(get("readyz"))
    assert response.status_code == 200
    assert json.loads(response.get_body()) == {"status": "ready", "checks": {"settings": "ok", "storage": "ok"}}


def test_readyz_reports_unreachable_storage_without_details(
    local_settings: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    monkeypatch.setenv(
        "AzureWebJobsStorage",
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=c2VjcmV0;"
        f"TableEndpoint=http://127.0.0.1:{port}/devstoreaccount1;",
    )
    response = app_function("readyz")(get("readyz"))
    assert response.status_code == 503
    body = response.get_body().decode()
    assert json.loads(body)["checks"]["storage"] == "unreachable"
    assert str(port) not in body and "c2VjcmV0" not in body


def test_the_app_warns_loudly_when_authentication_is_off(
    local_settings: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="aetherv"):
        app_function("healthz")
    assert any("AUTHENTICATION IS OFF" in record.getMessage() for record in caplog.records)
