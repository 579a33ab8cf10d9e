r"""Reversible encoding of Table Storage keys.

PartitionKey and RowKey may not contain ``/``, ``\\``, ``#``, ``?`` or control characters (U+0000–U+001F,
U+007F–U+009F). Host names and VM ids are encoded rather than rejected: each disallowed character, and ``%``
itself, becomes ``%XX`` (``%uXXXX`` above U+00FF is never needed: the disallowed set is all below U+00A0).
"""

from __future__ import annotations

import re

__all__ = ["decode_key", "encode_key"]

_DISALLOWED = re.compile(r"[%/\\#?\x00-\x1f\x7f-\x9f]")
_ESCAPE = re.compile(r"%([0-9A-F]{2})")


def encode_key(value: str) -> str:
    """Encode ``value`` so it is a legal PartitionKey/RowKey; ``decode_key`` reverses it."""
    return _DISALLOWED.sub(lambda m: f"%{ord(m.group()):02X}", value)


def decode_key(key: str) -> str:
    """Reverse :func:`encode_key`."""
    if "%" not in key:  # most keys need no decoding: skip the substitution
        return key
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), key)
