"""The hv_kvp_daemon pool file format: fixed 512 + 2048 byte records, NUL-terminated, first record wins."""

from __future__ import annotations

import pytest

from functions.guest.pool_file import (
    KEY_BYTES,
    RECORD_BYTES,
    VALUE_BYTES,
    decode_pool,
    decode_records,
    encode_pool,
    encode_record,
    pool_file_name,
)


def test_record_layout() -> None:
    record = encode_record("hlvmm.meta.version", "2.5.0")
    assert len(record) == RECORD_BYTES == 2560
    assert record[:18] == b"hlvmm.meta.version"
    assert set(record[18:KEY_BYTES]) == {0}
    assert record[KEY_BYTES : KEY_BYTES + 5] == b"2.5.0"
    assert set(record[KEY_BYTES + 5 :]) == {0}


def test_round_trip_keeps_order_and_utf8() -> None:
    items = {"a": "1", "hlvmm.data.x": "é中", "empty": ""}
    data = encode_pool(items)
    assert len(data) == 3 * RECORD_BYTES
    assert decode_records(data) == list(items.items())
    assert decode_pool(data) == items


def test_limits() -> None:
    encode_record("k" * (KEY_BYTES - 1), "v" * (VALUE_BYTES - 1))
    with pytest.raises(ValueError, match="key"):
        encode_record("k" * KEY_BYTES, "")
    with pytest.raises(ValueError, match="value"):
        encode_record("k", "é" * VALUE_BYTES)
    with pytest.raises(ValueError, match="NUL"):
        encode_record("k", "a\x00b")
    with pytest.raises(ValueError, match="empty"):
        encode_record("", "v")


def test_bytes_after_the_first_nul_are_not_significant() -> None:
    record = bytearray(encode_record("key", "value"))
    record[10:20] = b"garbage!!!"
    record[KEY_BYTES + 100 : KEY_BYTES + 104] = b"junk"
    assert decode_records(bytes(record)) == [("key", "value")]


def test_partial_trailing_record_and_empty_keys_are_ignored() -> None:
    data = encode_pool({"a": "1"}) + bytes(RECORD_BYTES) + encode_record("b", "2")[:100]
    assert decode_records(data) == [("a", "1")]


def test_first_duplicate_wins() -> None:
    data = encode_pool([("k", "first"), ("k", "second")])
    assert decode_pool(data) == {"k": "first"}
    assert len(decode_records(data)) == 2


def test_pool_names() -> None:
    assert pool_file_name(0) == ".kvp_pool_0"
    assert pool_file_name(1) == ".kvp_pool_1"
    with pytest.raises(ValueError):
        pool_file_name(5)
