"""Protocol vectors: the fixed test key and fixed values give a pinned checksum and pinned ciphertexts."""

from __future__ import annotations

import base64

from functions.guest import names
from functions.guest.kvp import build_host_items

from ._support import (
    CountingRandom,
    decrypt_all,
    decrypt_item,
    fixed_private_key,
    linux_key_b64,
    reference_checksum,
    unwrap_aes_key,
    windows_key_b64,
)

PRIVATE = fixed_private_key()

VALUES = {
    "guest_host_name": "vm01",
    "guest_la_uid": "admin",
    "guest_la_pw": "P@ssw0rd!",
    "guest_v4_dns2": "   ",
    "ansible_ssh_key": "ssh-ed25519 " + "A" * 120 + " ops@example",
}

# Pinned from the §6/§7/§8 recipe with CountingRandom(b"aetherv"): AES key = first 32 bytes, then one IV
# per item in ordinal order of the full key names (chunks in index order).
EXPECTED_CHECKSUM = "y9kGaeweFNe91T54JO55rHZyLSGwEJN8OCCI7oxR1fE="
EXPECTED_DATA = {
    "hlvmm.data.ansible_ssh_key._0": (
        "E2VPRyDH6ci9dk0KX7Pu2t1Rvuj1WQKZEcfMS3WFQnkA8xCFMxyfm/bHncYRR906io7wooCNrNAccW5+8FVJiqwz9Mrd5vKE5NtRS0VW"
        "Kzlr9wk2ubgHpPgn3Y1OP5Yt5Jza4r5KA1IZtDZ1ZmscSOHdmUoSAp+kHv4UsFAbrcs="
    ),
    "hlvmm.data.ansible_ssh_key._1": (
        "5sDif46AZn4vTxlZk/6LMFYf537mw8Uj0o/OX2mW7PuVFK7rt0MMKnQMf9DpO04dT1n31wtAJsXcYFm25iKIUA=="
    ),
    "hlvmm.data.guest_host_name": "5GcyuXl8P8OSAH7VAQ8AHFF5yD8mWG/5aikZiLRMKYE=",
    "hlvmm.data.guest_la_pw": "aMrt3hqzwTJURh2ihoTJQMiM4aRvIZcnMj4Exil/5/w=",
    "hlvmm.data.guest_la_uid": "GSRm2AcMwygK531JJ5EVjkdMUGNlmOppDWRVxR0F/80=",
}
PLAINTEXT = {
    "hlvmm.data.ansible_ssh_key._0": VALUES["ansible_ssh_key"][:100],
    "hlvmm.data.ansible_ssh_key._1": VALUES["ansible_ssh_key"][100:],
    "hlvmm.data.guest_host_name": "vm01",
    "hlvmm.data.guest_la_pw": "P@ssw0rd!",
    "hlvmm.data.guest_la_uid": "admin",
}


def build() -> dict[str, str]:
    return build_host_items(windows_key_b64(PRIVATE.public_key()), VALUES, random_bytes=CountingRandom())


def test_vector_checksum() -> None:
    assert build()[names.CHECKSUM_KEY] == EXPECTED_CHECKSUM
    assert reference_checksum({k: v for k, v in VALUES.items() if v.strip()}) == EXPECTED_CHECKSUM


def test_pinned_ciphertexts_decrypt_independently() -> None:
    aes_key = CountingRandom()(32)
    assert {name: decrypt_item(aes_key, item) for name, item in EXPECTED_DATA.items()} == PLAINTEXT


def test_vector_ciphertexts_are_pinned() -> None:
    items = build()
    data = {k: v for k, v in items.items() if k.startswith("hlvmm.data.")}
    assert data == EXPECTED_DATA


def test_vector_is_decryptable_with_the_fixed_key() -> None:
    items = build()
    assert unwrap_aes_key(PRIVATE, items[names.SHARED_AES_KEY_KEY]) == CountingRandom()(32)
    expected = {k: v for k, v in VALUES.items() if v.strip()}
    assert decrypt_all(PRIVATE, items) == expected


def test_vector_same_items_for_both_key_formats_except_the_wrap() -> None:
    a = build()
    b = build_host_items(linux_key_b64(PRIVATE.public_key()), VALUES, random_bytes=CountingRandom())
    a.pop(names.SHARED_AES_KEY_KEY)
    b.pop(names.SHARED_AES_KEY_KEY)
    assert a == b


def test_vector_ivs_come_from_the_random_source() -> None:
    items = build()
    stream = CountingRandom()
    stream(32)
    for name in sorted(k for k in items if k.startswith("hlvmm.data.")):
        assert base64.b64decode(items[name])[:16] == stream(16), name
