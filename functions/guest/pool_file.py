"""The Linux KVP pool file format (``/var/lib/hyperv/.kvp_pool_N``), as ``hv_kvp_daemon`` reads and writes it.

A pool file is a flat sequence of records without a header: 512 bytes of key followed by 2048 bytes of value,
each a UTF-8 string terminated by the first NUL and padded (the bytes after that NUL are not significant; the
daemon does not clear them). Sizes are ``HV_KVP_EXCHANGE_MAX_KEY_SIZE`` and ``HV_KVP_EXCHANGE_MAX_VALUE_SIZE``
(``include/uapi/linux/hyperv.h``); pools are numbered by ``enum hv_kvp_exchg_pool`` (0 external = host → guest,
1 guest → host, 2 auto, 3 auto external, 4 auto internal). See ``reference/guest-protocol.md`` §2.5.

Pure encoding and decoding, used by the tests and simulators that stand in for the daemon.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

KEY_BYTES: Final = 512
VALUE_BYTES: Final = 2048
RECORD_BYTES: Final = KEY_BYTES + VALUE_BYTES

POOL_EXTERNAL: Final = 0
"""Items the host wrote (``HostExchangeItems``); the guest reads them."""
POOL_GUEST: Final = 1
"""Items the guest wrote; the host reads them (``GuestExchangeItems``)."""
POOL_AUTO: Final = 2
POOL_AUTO_EXTERNAL: Final = 3
POOL_AUTO_INTERNAL: Final = 4


def pool_file_name(pool: int) -> str:
    """``.kvp_pool_<pool>`` (the daemon's file name under ``/var/lib/hyperv``)."""
    if not POOL_EXTERNAL <= pool <= POOL_AUTO_INTERNAL:
        raise ValueError(f"pool must be within 0..4, got {pool}")
    return f".kvp_pool_{pool}"


def encode_record(key: str, value: str) -> bytes:
    """One 2560-byte record; raises ``ValueError`` for NULs or strings that do not fit with their NUL."""
    key_bytes = key.encode("utf-8")
    value_bytes = value.encode("utf-8")
    if b"\x00" in key_bytes or b"\x00" in value_bytes:
        raise ValueError("KVP keys and values cannot contain NUL")
    if not key_bytes:
        raise ValueError("KVP key must not be empty")
    if len(key_bytes) >= KEY_BYTES:
        raise ValueError(f"KVP key is {len(key_bytes)} bytes; at most {KEY_BYTES - 1}")
    if len(value_bytes) >= VALUE_BYTES:
        raise ValueError(f"KVP value is {len(value_bytes)} bytes; at most {VALUE_BYTES - 1}")
    return key_bytes.ljust(KEY_BYTES, b"\x00") + value_bytes.ljust(VALUE_BYTES, b"\x00")


def encode_pool(items: Mapping[str, str] | Iterable[tuple[str, str]]) -> bytes:
    """A whole pool file holding ``items`` in order."""
    pairs = items.items() if isinstance(items, Mapping) else items
    return b"".join(encode_record(key, value) for key, value in pairs)


def decode_records(data: bytes) -> list[tuple[str, str]]:
    """Every complete record in order (duplicates kept); a trailing partial record is ignored."""
    records: list[tuple[str, str]] = []
    for start in range(0, len(data) - RECORD_BYTES + 1, RECORD_BYTES):
        key = data[start : start + KEY_BYTES].split(b"\x00", 1)[0]
        value = data[start + KEY_BYTES : start + RECORD_BYTES].split(b"\x00", 1)[0]
        if key:
            records.append((key.decode("utf-8", "replace"), value.decode("utf-8", "replace")))
    return records


def decode_pool(data: bytes) -> dict[str, str]:
    """The items of a pool file; for a key that appears twice the first record wins (as the daemon's lookup)."""
    items: dict[str, str] = {}
    for key, value in decode_records(data):
        items.setdefault(key, value)
    return items
