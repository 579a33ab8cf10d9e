"""The host entity of the inventory's hosts table: its record, and the ids of the VMs it lists.

A host entity names the VMs of its last snapshot (their row keys, one per line, in up to four properties), so a VM
is found by id without an index table; reads of host records project only the properties a record needs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from functions.inventory.keys import decode_key
from functions.models.inventory import DEFAULT_CLUSTER, HostRecord
from functions.models.json import JsonObject

__all__ = ["HOST_FIELDS", "VM_IDS_PROPERTIES", "host_record", "vm_ids_of", "vm_ids_properties"]

log = logging.getLogger(__name__)

VM_IDS_PROPERTIES = ("vm_ids", "vm_ids_1", "vm_ids_2", "vm_ids_3", "vm_ids_overflow")
"""Where a host entity lists its VMs' ids: their row keys, one per line, in properties of at most 32,000 characters
(a string property holds 64 KiB of UTF-16): about 860 GUIDs per property, 3,400 per host."""
_LISTS = VM_IDS_PROPERTIES[:-1]
_PROPERTY_CHARS = 32_000


def vm_ids_properties(row_keys: Sequence[str]) -> JsonObject:
    """The id-list properties of a host entity (every one set, so a replace drops a stale overflow)."""
    properties: list[list[str]] = [[] for _ in _LISTS]
    index, used, overflow = 0, 0, False
    for key in row_keys:
        while index < len(properties) and used + len(key) + 1 > _PROPERTY_CHARS:
            index, used = index + 1, 0
        if index == len(properties):
            log.warning("a host has more VMs than its entity can name; lookups by id query its rows instead")
            overflow = True
            break
        properties[index].append(key)
        used += len(key) + 1
    listed: JsonObject = {name: "\n".join(keys) for name, keys in zip(_LISTS, properties, strict=True)}
    return listed | {"vm_ids_overflow": overflow}


def vm_ids_of(entity: Mapping[str, Any]) -> list[str] | None:
    """The row keys a host entity lists, or ``None`` when it cannot name them all.

    That is an entity written by an earlier build, or a host with more VMs than the properties hold: then its VMs
    are found by a query on the id.
    """
    if entity.get("vm_ids") is None or entity.get("vm_ids_overflow"):
        return None
    return [key for name in _LISTS for key in str(entity.get(name) or "").split("\n") if key]


HOST_FIELDS = (
    "RowKey",
    "name",
    "cluster",
    "connected",
    "last_seen",
    "last_attempt",
    "disconnected_since",
    "error",
    "store_failed",
    "vm_count",
    "facts_json",
)
"""What a host record is read from (the id lists stay on the server)."""


def host_record(entity: Mapping[str, Any]) -> HostRecord:
    """The record a host entity holds (connection state, facts; ``error`` only while it matters)."""
    connected = bool(entity.get("connected", False))
    cluster = entity.get("cluster")
    return HostRecord(
        name=str(entity.get("name") or decode_key(entity["RowKey"])),
        cluster=str(cluster) if cluster else DEFAULT_CLUSTER,
        clustered=bool(cluster),
        connected=connected,
        last_seen=entity.get("last_seen"),
        last_attempt=entity.get("last_attempt"),
        disconnected_since=None if connected else entity.get("disconnected_since"),
        error=entity.get("error") if not connected or entity.get("store_failed") else None,
        vm_count=int(entity.get("vm_count", 0)),
        facts=json.loads(entity.get("facts_json") or "{}"),
    )
