r"""The host's KVP items: value rules, chunking (§7), checksum (§8), the publish set and chunk-aware reads.

:func:`build_host_items` turns the guest's public key and the plaintext provisioning values into every
host item the publish step writes (checksum, wrapped AES key, encrypted data items). The version and
host-state items are written separately by the workflow (``hlvmm.meta.version`` first, then the state: D6).

Value rules applied before anything is encrypted, each problem reported with its key and never with the value:

- keys must belong to §3's catalogue (:data:`functions.guest.names.DATA_KEYS`);
- blank values (``None``, empty, whitespace-only) are skipped, as the original host does;
- trailing ``\r``/``\n`` are stripped (D2: the Linux guest drops trailing newlines before hashing);
- lengths are counted in UTF-16 code units, like .NET's ``String.Length``; characters outside the Basic
  Multilingual Plane and unpaired surrogates are refused, so every chunk boundary is safe;
- at most 3000 units (30 chunks of 100);
- NUL characters are refused (the Linux agent handles values as shell strings, which cannot hold NUL);
- a chunked value must not have a line feed as the last character of a non-final chunk: the Linux agent
  captures each decrypted chunk with shell command substitution, which drops trailing newlines per chunk.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from typing import Final, Literal

from functions.guest.crypto import RandomSource, encrypt_value, generate_aes_key, wrap_aes_key
from functions.guest.errors import GuestValueError
from functions.guest.keys import load_guest_public_key
from functions.guest.names import (
    CHECKSUM_KEY,
    CHUNK_UNITS,
    DATA_KEYS,
    DATA_PREFIX,
    MAX_CHUNKS,
    MAX_VALUE_UNITS,
    PREFIX,
    SHARED_AES_KEY_KEY,
    DataKey,
    chunk_key_name,
)

OsFamily = Literal["windows", "linux"]

_UNSAFE_UNITS: Final = re.compile("[\ud800-\udfff\U00010000-\U0010ffff]")
_ECHO_OPTION: Final = re.compile("-[neE]+")


def is_blank(value: str | None) -> bool:
    """True for ``None``, empty and whitespace-only values (.NET ``IsNullOrWhiteSpace``)."""
    return value is None or value.strip() == ""


def utf16_units(value: str) -> int:
    """Length in UTF-16 code units (.NET ``String.Length``)."""
    return len(value.encode("utf-16-le", "surrogatepass")) // 2


def split_chunks(value: str) -> list[str]:
    """Split a BMP-only value into pieces of at most 100 UTF-16 units (one piece if it fits)."""
    if _UNSAFE_UNITS.search(value):
        raise ValueError(
            "value contains characters outside the Basic Multilingual Plane or unpaired surrogates"
        )
    if len(value) <= CHUNK_UNITS:
        return [value]
    return [value[start : start + CHUNK_UNITS] for start in range(0, len(value), CHUNK_UNITS)]


def _value_problem(value: str) -> str | None:
    if _UNSAFE_UNITS.search(value):
        return (
            "contains characters outside the Basic Multilingual Plane (or unpaired surrogates); "
            "the guests count and split values in UTF-16 code units"
        )
    if "\x00" in value:
        return "contains a NUL character"
    units = len(value)
    if units > MAX_VALUE_UNITS:
        return f"is {units} UTF-16 code units long; the limit is {MAX_VALUE_UNITS} ({MAX_CHUNKS} chunks)"
    if units > CHUNK_UNITS:
        for end in range(CHUNK_UNITS, units, CHUNK_UNITS):
            if value[end - 1] == "\n":
                return (
                    f"has a line break at the end of chunk {end // CHUNK_UNITS - 1} (position {end - 1}), "
                    "which the Linux guest would drop"
                )
    return None


def normalise_values(values: Mapping[str, str | None]) -> dict[str, str]:
    """Validate the request values and return what will be published, keyed by full KVP name, sorted.

    Raises :class:`GuestValueError` naming every offending key at once.
    """
    problems: dict[str, str] = {}
    published: dict[str, str] = {}
    for key, raw in values.items():
        if key not in DATA_KEYS:
            problems[str(key)] = "unknown data key (not in the protocol's key catalogue)"
            continue
        value: object = raw  # requests arrive as parsed JSON: check at run time too
        if value is not None and not isinstance(value, str):
            problems[key] = f"value must be a string, got {type(value).__name__}"
            continue
        if value is None or is_blank(value):
            continue
        stripped = value.rstrip("\r\n")
        problem = _value_problem(stripped)
        if problem is not None:
            problems[key] = problem
            continue
        published[DATA_PREFIX + key] = stripped
    if problems:
        raise GuestValueError(problems)
    return dict(sorted(published.items()))


def compute_checksum(items: Mapping[str, str]) -> str:
    """The protocol checksum over plaintext data items keyed by full KVP name (§8).

    Blank values are dropped, the rest sorted ordinally by full key name, joined with ``|``, hashed with
    SHA-256 over UTF-8, and the digest base64-encoded.
    """
    joined = "|".join(items[name] for name in sorted(items) if not is_blank(items[name]))
    digest = hashlib.sha256(joined.encode("utf-8")).digest()
    return base64.b64encode(digest).decode("ascii")


def build_host_items(
    guest_public_key_b64: str,
    values: Mapping[str, str | None],
    *,
    random_bytes: RandomSource = os.urandom,
) -> dict[str, str]:
    """Every host KVP item of the publish step, keyed by full KVP name.

    ``values`` are keyed by data key without namespace (``guest_host_name``, ``guest_la_pw``, …). The
    result holds ``hlvmm.meta.provisioning_system_checksum``, ``hlvmm.meta.shared_aes_key`` and one
    ``hlvmm.data.<key>`` per non-blank value, or ``hlvmm.data.<key>._0`` … for values longer than 100 UTF-16
    units, each chunk encrypted with its own IV. ``random_bytes`` supplies the AES key and the IVs
    (``os.urandom`` unless a test injects one).

    Raises :class:`GuestValueError` for bad values and :class:`GuestKeyError` for an unusable public key.
    """
    published = normalise_values(values)
    public_key = load_guest_public_key(guest_public_key_b64)
    aes_key = generate_aes_key(random_bytes)
    items: dict[str, str] = {
        CHECKSUM_KEY: compute_checksum(published),
        SHARED_AES_KEY_KEY: wrap_aes_key(public_key, aes_key),
    }
    for name, value in published.items():
        chunks = split_chunks(value)
        if len(chunks) == 1:
            items[name] = encrypt_value(aes_key, value, random=random_bytes)
        else:
            for index, chunk in enumerate(chunks):
                items[chunk_key_name(name, index)] = encrypt_value(aes_key, chunk, random=random_bytes)
    return items


def chunk_values(items: Mapping[str, str], name: str) -> list[str] | None:
    """The raw values making up ``name``: the bare item if present, else ``._0``, ``._1``, … to the first gap.

    Empty values count as missing, as both guest agents treat them. Returns ``None`` when nothing is found.
    """
    bare = items.get(name)
    if bare:
        return [bare]
    parts: list[str] = []
    for index in range(MAX_CHUNKS):
        part = items.get(chunk_key_name(name, index))
        if not part:
            break
        parts.append(part)
    return parts or None


def reassemble(items: Mapping[str, str], key: str) -> str | None:
    """Chunk-aware read of a plaintext item such as ``hlvmm.meta.guest_provisioning_public_key`` (§7)."""
    parts = chunk_values(items, key)
    return None if parts is None else "".join(parts)


def host_prefix_items_to_remove(existing_host_item_names: Iterable[str]) -> list[str]:
    """Every existing host item of the protocol (name starting ``hlvmm.``, any case), to remove (D3)."""
    seen: dict[str, None] = {}
    for name in existing_host_item_names:
        if name.lower().startswith(PREFIX):
            seen.setdefault(name, None)
    return list(seen)


def guest_compatibility_problems(values: Mapping[str, str | None], os_family: OsFamily) -> dict[str, str]:
    """Problems a given guest flavour has with otherwise valid values (D1, D8), keyed by data key.

    Windows guests never reassemble chunked values (D1), so every value must fit in 100 UTF-16 units and
    the Ansible keys are refused; their domain join silently needs the OU (D8). The Linux agent writes each
    value with ``echo``, which takes a value made only of ``echo`` options (``-n``, ``-e``, ``-E``, …) as
    options and stores nothing. What :func:`normalise_values` checks is not checked again.
    """
    problems: dict[str, str] = {}
    present = {
        key: value.rstrip("\r\n")
        for key, value in values.items()
        if isinstance(value, str) and not is_blank(value)
    }
    if os_family == "linux":
        for key, value in present.items():
            if _ECHO_OPTION.fullmatch(value):
                problems[key] = "would be read as an echo option by the Linux guest agent and lost"
        return problems
    for key, value in present.items():
        if key in (DataKey.ANSIBLE_SSH_USER, DataKey.ANSIBLE_SSH_KEY):
            problems[key] = "Ansible SSH access is not supported by the Windows guest agent"
        elif utf16_units(value) > CHUNK_UNITS:
            problems[key] = (
                f"is longer than {CHUNK_UNITS} UTF-16 code units; "
                "the Windows guest agent cannot read chunked values"
            )
    if DataKey.GUEST_DOMAIN_JOIN_TARGET in present:
        for required in (
            DataKey.GUEST_DOMAIN_JOIN_UID,
            DataKey.GUEST_DOMAIN_JOIN_PW,
            DataKey.GUEST_DOMAIN_JOIN_OU,
        ):
            if required not in present:
                problems.setdefault(required, "is required for a Windows domain join")
    return problems
