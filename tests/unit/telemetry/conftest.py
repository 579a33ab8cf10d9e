"""The in-memory telemetry providers, cleared for each test."""

from __future__ import annotations

import pytest

from tests.support.telemetry import Captured, capture


@pytest.fixture
def captured() -> Captured:
    """Spans and metrics the app emits in this test (spans cleared first; read metrics as differences)."""
    sink = capture()
    sink.exporter.clear()
    return sink
