"""Shared fixtures: a clean environment for every test, the documented local settings, and Azurite."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.azurite import Azurite, start_azurite

ROOT = Path(__file__).resolve().parent.parent
_APP_PREFIXES = (
    "AETHERV_",
    "AzureWebJobs",
    "AzureFunctionsJobHost",
    "WEBSITE_",
    "FUNCTIONS_",
    "APPLICATIONINSIGHTS_",
    "OTEL_",
)


def sample_values() -> dict[str, str]:
    """The ``Values`` of local.settings.sample.json: the documented local settings."""
    document = json.loads((ROOT / "local.settings.sample.json").read_text(encoding="utf-8"))
    values: dict[str, str] = document["Values"]
    return values


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts without app settings in the environment."""
    for name in list(os.environ):
        if name.startswith(_APP_PREFIXES):
            monkeypatch.delenv(name)


@pytest.fixture
def local_settings(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The documented local settings, applied to the environment."""
    values = sample_values()
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """One in-memory Azurite for the test session."""
    with start_azurite() as emulator:
        yield emulator
