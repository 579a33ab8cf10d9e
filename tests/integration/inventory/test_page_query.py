"""The listing's own page reader against the SDK's ``query_entities``, on Azurite: the same entities, page by page.

Entities hold every kind of value the Table service types (strings with quotes and non-ASCII text, Int32 and Int64,
whole and fractional doubles, NaN and infinities, booleans, datetimes, GUIDs, binary) and the queries use the
filters the listing uses (a partition, a state, a name range, ``or``-ed partitions, quotes in a parameter); pages
are small, so continuation tokens cross partitions and pass from one reader to the other.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import EdmType, EntityProperty, TableClient, TableServiceClient

from functions.inventory.page_query import query_page
from tools.azurite import Azurite


@pytest.fixture(scope="module")
def table(azurite: Azurite) -> TableClient:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    client = service.create_table(f"pq{uuid.uuid4().hex[:10]}")
    for host in ("hv01", "hv'02", "hv03", "CORP%5Chv%2F01 &+=x"):  # what key encoding and URLs must survive
        for index in range(7):
            client.create_entity(
                {
                    "PartitionKey": host,
                    "RowKey": f"{index:04d}",
                    "name": f"vm-{index}-ü \"quoted\" 'single'",
                    "state": "Running" if index % 2 else "Off",
                    "small": index,
                    "big": EntityProperty(2**40 + index, EdmType.INT64),
                    "whole": 4.0,
                    "fraction": 0.25 * index,
                    "odd": float("nan") if index == 3 else float("inf") if index == 4 else -1.5,
                    "flag": index % 3 == 0,
                    "when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
                    "guid": uuid.UUID(int=index),
                    "blob": b"\x00\x01" * index,
                }
            )
    return client


def sdk_pages(table: TableClient, query: str, parameters: dict[str, Any], size: int) -> list[list[dict[str, Any]]]:
    pager: Any = table.query_entities(query, parameters=parameters, results_per_page=size).by_page()
    return [[_plain(entity) for entity in page] for page in pager]


def own_pages(table: TableClient, query: str, parameters: dict[str, Any], size: int) -> list[list[dict[str, Any]]]:
    pages, token = [], None
    while True:
        entities, token = query_page(table, query, parameters=parameters, page_size=size, continuation=token)
        pages.append([_plain(entity) for entity in entities])
        if token is None:
            return pages


def _plain(entity: Any) -> dict[str, Any]:
    """The entity's values as comparable plain Python (the timestamp left out)."""
    return {name: _comparable(value) for name, value in dict(entity).items() if name != "Timestamp"}


def _comparable(value: Any) -> Any:
    """The SDK wraps some values in its own types; NaN never equals itself."""
    if isinstance(value, EntityProperty):
        return _comparable(value.value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


QUERIES = [
    ("PartitionKey ne ''", {}),
    ("PartitionKey eq @host", {"host": "hv'02"}),
    ("PartitionKey eq @host", {"host": "CORP%5Chv%2F01 &+=x"}),
    ("PartitionKey eq @host and state eq @state", {"host": "hv01", "state": "Running"}),
    ("name ge @lo and name lt @hi", {"lo": "vm-2", "hi": "vm-5"}),
    (
        "state eq @state and ( PartitionKey eq @h0 or PartitionKey eq @h1 )",
        {"state": "Off", "h0": "hv01", "h1": "hv03"},
    ),
]


@pytest.mark.parametrize(("query", "parameters"), QUERIES)
@pytest.mark.parametrize("size", [3, 1000])
def test_the_same_pages_as_the_sdk(table: TableClient, query: str, parameters: dict[str, Any], size: int) -> None:
    ours = own_pages(table, query, parameters, size)
    theirs = sdk_pages(table, query, parameters, size)
    assert [len(page) for page in ours] == [len(page) for page in theirs]
    assert ours == theirs
    assert sum(len(page) for page in ours) > 0


def test_types_are_the_services(table: TableClient) -> None:
    entities, _ = query_page(
        table, "PartitionKey eq @host and RowKey eq @row", parameters={"host": "hv01", "row": "0004"}
    )
    (entity,) = entities
    assert entity["big"] == 2**40 + 4 and type(entity["big"]) is int
    assert entity["odd"] == math.inf and type(entity["whole"]) is float
    assert entity["when"] == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert entity["blob"] == b"\x00\x01" * 4 and entity["flag"] is False
    assert not [name for name in entity if name.startswith("odata.") or "@" in name]


def test_a_token_from_one_reader_continues_in_the_other(table: TableClient) -> None:
    pager: Any = table.query_entities("PartitionKey ne ''", results_per_page=5).by_page()
    first = [e["RowKey"] for e in next(pager)]
    rest, _ = query_page(table, "PartitionKey ne ''", page_size=1000, continuation=pager.continuation_token)
    everything = [e["RowKey"] for e in table.query_entities("PartitionKey ne ''")]
    assert first + [e["RowKey"] for e in rest] == everything


def test_selected_columns_only_and_a_missing_table_is_not_found(table: TableClient, azurite: Azurite) -> None:
    entities, _ = query_page(table, "PartitionKey eq @h", parameters={"h": "hv03"}, select=["name", "small"])
    assert {frozenset(e) for e in entities} == {frozenset({"name", "small"})}
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    with pytest.raises(ResourceNotFoundError):
        query_page(service.get_table_client("nosuchtable"), "PartitionKey ne ''")
