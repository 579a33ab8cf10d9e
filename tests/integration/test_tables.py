"""``Tables``, how every store reaches its tables (against Azurite): created on first use, one client per table."""

from __future__ import annotations

import uuid

from azure.data.tables import TableServiceClient

from functions.storage import Tables
from tools.azurite import Azurite


def test_the_first_use_creates_every_table_and_each_client_is_made_once(azurite: Azurite) -> None:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    prefix = "t" + uuid.uuid4().hex[:10]
    names = (f"{prefix}One", f"{prefix}Two")

    def existing() -> set[str]:
        return {t.name for t in service.query_tables(f"TableName ge '{prefix}' and TableName lt '{prefix}~'")}

    tables = Tables(service, *names)
    assert existing() == set()  # nothing is created before it is used
    second = tables.client(names[1])
    assert existing() == set(names)  # the store's tables come together
    assert tables.client(names[1]) is second
    assert tables.client() is tables.client(names[0])  # the default is the first table
    second.upsert_entity({"PartitionKey": "p", "RowKey": "r"})
    assert dict(second.get_entity("p", "r"))["RowKey"] == "r"
    again = Tables(service, *names)  # another process: the tables exist already, which is fine
    assert again.client(names[0]).table_name == names[0]
