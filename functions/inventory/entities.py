"""Mapping between inventory records (plain JSON-able dicts) and Table Storage entities.

Scalar fields become typed properties, so the API can filter on them (``name``, ``state`` …); lists and objects
(disks, NICs, IP addresses) become ``<field>_json`` string properties. Each VM entity carries a content hash and a
schema version, so the sync rewrites only what changed and a future schema change is detectable.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from typing import Any

import pydantic_core

from functions.models.json import JsonObject

__all__ = ["SCHEMA_VERSION", "content_hash", "from_entity", "to_properties"]

SCHEMA_VERSION = 1
_FIELD = re.compile(r"^[a-z][a-z0-9_]{0,100}$")
_JSON_SUFFIX = "_json"
# A string property holds at most 64 KiB (32 K UTF-16 units); keep a margin for the property overhead.
_MAX_STRING = 30_000
_SYSTEM = frozenset({"PartitionKey", "RowKey", "Timestamp", "etag", "content_hash", "schema_version"})

log = logging.getLogger(__name__)


def content_hash(record: Mapping[str, Any]) -> str:
    """A stable hash of a record's content (canonical JSON)."""
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def _bounded(field: str, text: str) -> str:
    if len(text) > _MAX_STRING:
        log.warning("inventory field %s is %d characters; truncated to fit Table Storage", field, len(text))
        return text[:_MAX_STRING]
    return text


def to_properties(record: Mapping[str, Any]) -> JsonObject:
    """Entity properties for ``record`` (without keys); ``None`` values are omitted."""
    properties: JsonObject = {}
    for field, value in record.items():
        if not _FIELD.match(field) or field.endswith(_JSON_SUFFIX):
            raise ValueError(f"inventory field name {field!r} is not allowed")
        if value is None:
            continue
        if isinstance(value, bool | int | float):
            properties[field] = value
        elif isinstance(value, str):
            properties[field] = _bounded(field, value)
        else:
            properties[field + _JSON_SUFFIX] = _bounded(field, json.dumps(value, ensure_ascii=False, default=str))
    return properties


def _json_value(text: Any) -> Any:
    """``json.loads(text)``, by pydantic's compiled parser: the same values, a few times faster.

    What that parser refuses (a lone surrogate escape) is left to ``json``.
    """
    try:
        return pydantic_core.from_json(text)
    except ValueError:
        return json.loads(text)


def from_entity(entity: Mapping[str, Any]) -> JsonObject:
    """The record stored in ``entity`` (system properties dropped, JSON properties decoded).

    A property that is null reads as absent: :func:`to_properties` never writes one, but a query that selects a
    property an entity lacks may return it as null.
    """
    record: JsonObject = {}
    for name, value in entity.items():
        if value is None or name in _SYSTEM:
            continue
        if name.endswith(_JSON_SUFFIX):
            try:
                record[name.removesuffix(_JSON_SUFFIX)] = _json_value(value)
            except (TypeError, ValueError):
                log.warning("inventory property %s is not valid JSON; ignored", name)
        else:
            record[name] = value
    return record
