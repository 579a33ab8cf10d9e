"""The JSON properties of an entity read back exactly as ``json.loads`` reads them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.inventory.entities import from_entity, to_properties
from tests.api.test_documents_response import JSON_VALUES, same_json


@given(st.lists(JSON_VALUES, max_size=4), st.booleans())
def test_a_json_property_reads_as_json_loads_reads_it(value: list[Any], ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert same_json(from_entity({"x_json": text})["x"], json.loads(text))


@pytest.mark.parametrize(
    "text",
    ['"\\ud800"', "NaN", "[1e400, -0.0, 12345678901234567890123]", '{"a": 1, "a": 2}', "5e-324"],
)
def test_edge_cases_read_as_json_loads_reads_them(text: str) -> None:
    assert same_json(from_entity({"x_json": text})["x"], json.loads(text))


def test_a_property_that_is_not_json_is_dropped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    assert from_entity({"x_json": "{not json", "y_json": 7, "z": 1}) == {"z": 1}
    assert "x_json" in caplog.text and "y_json" in caplog.text


def test_what_to_properties_writes_reads_back() -> None:
    record = {"id": "a", "disks": [{"capacity_gb": 64.0, "path": "C:\\ü"}], "ips": [], "n": None, "flag": False}
    assert from_entity(to_properties(record)) == {k: v for k, v in record.items() if v is not None}
