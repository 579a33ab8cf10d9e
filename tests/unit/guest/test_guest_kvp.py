"""Building the host items: round trips, chunking, checksum, value rules, and secrets kept out of errors."""

from __future__ import annotations

import base64
import hashlib

import pytest

from functions.guest import names
from functions.guest.crypto import encrypt_value, generate_aes_key, wrap_aes_key
from functions.guest.errors import GuestKeyError, GuestValueError
from functions.guest.kvp import (
    build_host_items,
    compute_checksum,
    normalise_values,
    split_chunks,
    utf16_units,
)

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
KEY_FORMATS = [
    pytest.param(windows_key_b64(PRIVATE.public_key()), id="windows-capi"),
    pytest.param(linux_key_b64(PRIVATE.public_key()), id="linux-pkcs1"),
]
SECRET = "S3cr3t-Pa55w0rd-do-not-leak"

FULL_REQUEST = {
    "guest_host_name": "vm01",
    "guest_la_uid": "admin",
    "guest_la_pw": "P@ssw0rd!",
    "guest_v4_ip_addr": "192.0.2.10",
    "guest_v4_cidr_prefix": "24",
    "guest_v4_default_gw": "192.0.2.1",
    "guest_v4_dns1": "192.0.2.2",
    "guest_v4_dns2": "192.0.2.3",
    "guest_net_dns_suffix": "lab.example",
    "guest_domain_join_target": "corp.example",
    "guest_domain_join_uid": "joiner",
    "guest_domain_join_pw": "J0in!",
    "guest_domain_join_ou": "OU=Servers,DC=corp,DC=example",
    "ansible_ssh_user": "ansible",
    "ansible_ssh_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0ZXN0a2V5 ansible@ctl",
}


@pytest.mark.parametrize("public_key", KEY_FORMATS)
def test_round_trip_with_independent_decrypt(public_key: str) -> None:
    items = build_host_items(public_key, FULL_REQUEST)
    assert decrypt_all(PRIVATE, items) == FULL_REQUEST
    assert items[names.CHECKSUM_KEY] == reference_checksum(FULL_REQUEST)
    assert set(items) == {names.CHECKSUM_KEY, names.SHARED_AES_KEY_KEY} | {
        f"hlvmm.data.{key}" for key in FULL_REQUEST
    }


@pytest.mark.parametrize("public_key", KEY_FORMATS)
def test_wrap_is_pkcs1_v15_of_32_random_bytes(public_key: str) -> None:
    random = CountingRandom()
    items = build_host_items(public_key, {"guest_host_name": "vm01"}, random_bytes=random)
    wrapped = base64.b64decode(items[names.SHARED_AES_KEY_KEY])
    assert len(wrapped) == 256
    assert len(items[names.SHARED_AES_KEY_KEY]) == 344
    assert unwrap_aes_key(PRIVATE, items[names.SHARED_AES_KEY_KEY]) == CountingRandom()(32)
    assert random.requests == [32, 16]


def test_each_value_and_chunk_has_a_fresh_iv() -> None:
    items = build_host_items(
        linux_key_b64(PRIVATE.public_key()),
        {"guest_host_name": "vm01", "guest_la_uid": "vm01", "ansible_ssh_key": "k" * 250},
    )
    ivs = [base64.b64decode(v)[:16] for k, v in items.items() if k.startswith("hlvmm.data.")]
    assert len(ivs) == 5
    assert len(set(ivs)) == 5


def test_same_value_encrypts_differently() -> None:
    key = generate_aes_key()
    assert encrypt_value(key, "same") != encrypt_value(key, "same")


def test_encrypted_size_matches_the_protocol_table() -> None:
    key = generate_aes_key()
    assert len(encrypt_value(key, "a" * 100)) == 172
    assert len(encrypt_value(key, "€" * 100)) == 428


@pytest.mark.parametrize(
    ("length", "chunks"),
    [(1, 0), (99, 0), (100, 0), (101, 2), (200, 2), (201, 3), (2999, 30), (3000, 30)],
)
def test_chunking_edges(length: int, chunks: int) -> None:
    value = "".join("abcdefghij"[i % 10] for i in range(length))
    items = build_host_items(linux_key_b64(PRIVATE.public_key()), {"ansible_ssh_key": value})
    data = sorted(k for k in items if k.startswith("hlvmm.data."))
    if chunks == 0:
        assert data == ["hlvmm.data.ansible_ssh_key"]
    else:
        assert data == sorted(f"hlvmm.data.ansible_ssh_key._{i}" for i in range(chunks))
        aes_key = unwrap_aes_key(PRIVATE, items[names.SHARED_AES_KEY_KEY])
        pieces = [decrypt_item(aes_key, items[f"hlvmm.data.ansible_ssh_key._{i}"]) for i in range(chunks)]
        assert all(len(piece) == 100 for piece in pieces[:-1])
        assert 1 <= len(pieces[-1]) <= 100
    assert decrypt_all(PRIVATE, items) == {"ansible_ssh_key": value}


def test_3001_units_is_rejected_naming_the_key() -> None:
    with pytest.raises(GuestValueError, match="ansible_ssh_key: is 3001 UTF-16 code units long") as caught:
        build_host_items(linux_key_b64(PRIVATE.public_key()), {"ansible_ssh_key": "a" * 3001})
    assert caught.value.keys == ("ansible_ssh_key",)


def test_multibyte_utf8_is_counted_in_utf16_units() -> None:
    value = "é€" * 50 + "中"  # 101 UTF-16 units, 301 UTF-8 bytes
    assert utf16_units(value) == 101
    items = build_host_items(linux_key_b64(PRIVATE.public_key()), {"guest_domain_join_ou": value})
    assert "hlvmm.data.guest_domain_join_ou._1" in items
    assert "hlvmm.data.guest_domain_join_ou._2" not in items
    assert decrypt_all(PRIVATE, items) == {"guest_domain_join_ou": value}
    assert items[names.CHECKSUM_KEY] == reference_checksum({"guest_domain_join_ou": value})


def test_100_multibyte_characters_stay_in_one_item() -> None:
    value = "€" * 100
    items = build_host_items(linux_key_b64(PRIVATE.public_key()), {"guest_la_pw": value})
    assert "hlvmm.data.guest_la_pw" in items
    assert decrypt_all(PRIVATE, items) == {"guest_la_pw": value}


@pytest.mark.parametrize("value", ["pass😀word", "a" * 99 + "😀", "\ud800lone"])
def test_non_bmp_and_surrogates_are_rejected(value: str) -> None:
    with pytest.raises(
        GuestValueError, match="guest_la_pw: contains characters outside the Basic Multilingual"
    ):
        build_host_items(linux_key_b64(PRIVATE.public_key()), {"guest_la_pw": value})


def test_nul_is_rejected() -> None:
    with pytest.raises(GuestValueError, match="guest_la_pw: contains a NUL"):
        normalise_values({"guest_la_pw": "a\x00b"})


def test_line_feed_at_a_chunk_end_is_rejected() -> None:
    value = "a" * 99 + "\n" + "b" * 50
    with pytest.raises(GuestValueError, match=r"line break at the end of chunk 0 \(position 99\)"):
        normalise_values({"ansible_ssh_key": value})
    # elsewhere a line feed is fine
    assert normalise_values({"ansible_ssh_key": "a" * 98 + "\n" + "b" * 50})


def test_split_chunks_refuses_non_bmp() -> None:
    with pytest.raises(ValueError, match="outside the Basic Multilingual Plane"):
        split_chunks("😀")


def test_blank_values_are_skipped() -> None:
    items = build_host_items(
        linux_key_b64(PRIVATE.public_key()),
        {
            "guest_host_name": "vm01",
            "guest_v4_dns2": "   ",
            "guest_v4_dns1": "",
            "guest_net_dns_suffix": None,
        },
    )
    assert sorted(k for k in items if k.startswith("hlvmm.data.")) == ["hlvmm.data.guest_host_name"]


def test_no_values_still_publishes_checksum_of_nothing() -> None:
    items = build_host_items(linux_key_b64(PRIVATE.public_key()), {})
    assert set(items) == {names.CHECKSUM_KEY, names.SHARED_AES_KEY_KEY}
    assert items[names.CHECKSUM_KEY] == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="


def test_trailing_newlines_are_stripped_before_hashing_and_encrypting() -> None:
    items = build_host_items(
        linux_key_b64(PRIVATE.public_key()),
        {"ansible_ssh_key": "ssh-ed25519 AAAA key\r\n\n", "guest_la_pw": " spaced \n"},
    )
    plain = {"ansible_ssh_key": "ssh-ed25519 AAAA key", "guest_la_pw": " spaced "}
    assert decrypt_all(PRIVATE, items) == plain
    assert items[names.CHECKSUM_KEY] == reference_checksum(plain)


def test_unknown_keys_are_rejected_all_at_once() -> None:
    with pytest.raises(GuestValueError) as caught:
        build_host_items(
            linux_key_b64(PRIVATE.public_key()),
            {
                "guest_host_name": "vm01",
                "vm_name": "x",
                "hlvmm.data.guest_la_pw": "x",
                "guest_la_pw": "é" * 3001,
            },
        )
    assert caught.value.keys == ("guest_la_pw", "hlvmm.data.guest_la_pw", "vm_name")
    assert "unknown data key" in caught.value.problems["vm_name"]


def test_non_string_values_are_rejected() -> None:
    with pytest.raises(GuestValueError, match="guest_v4_cidr_prefix: value must be a string, got int"):
        normalise_values({"guest_v4_cidr_prefix": 24})  # type: ignore[dict-item]


def test_value_errors_are_checked_before_the_key() -> None:
    with pytest.raises(GuestValueError):
        build_host_items("garbage", {"nope": "x"})
    with pytest.raises(GuestKeyError):
        build_host_items("garbage", {"guest_host_name": "vm01"})


def test_checksum_worked_example() -> None:
    items = {
        "hlvmm.data.guest_host_name": "vm01",
        "hlvmm.data.guest_la_uid": "admin",
        "hlvmm.data.guest_la_pw": "P@ssw0rd!",
        "hlvmm.data.guest_v4_dns2": "   ",
    }
    assert compute_checksum(items) == "nnfjKupS+6DuovWSLmo80Lwnv+d4qHVDVlvWOGFbkPU="


def test_checksum_worked_example_through_build_host_items() -> None:
    items = build_host_items(
        windows_key_b64(PRIVATE.public_key()),
        {
            "guest_host_name": "vm01",
            "guest_la_uid": "admin",
            "guest_la_pw": "P@ssw0rd!",
            "guest_v4_dns2": "   ",
        },
    )
    assert items[names.CHECKSUM_KEY] == "nnfjKupS+6DuovWSLmo80Lwnv+d4qHVDVlvWOGFbkPU="


def test_reference_key_order_is_pinned() -> None:
    expected = [
        "ansible_ssh_key",
        "ansible_ssh_user",
        "guest_domain_join_ou",
        "guest_domain_join_pw",
        "guest_domain_join_target",
        "guest_domain_join_uid",
        "guest_host_name",
        "guest_la_pw",
        "guest_la_uid",
        "guest_net_dns_suffix",
        "guest_v4_cidr_prefix",
        "guest_v4_default_gw",
        "guest_v4_dns1",
        "guest_v4_dns2",
        "guest_v4_ip_addr",
    ]
    full = [names.DATA_PREFIX + key for key in expected]
    # ordinal order of the full names is the protocol order, and it is case-insensitive-stable too
    assert sorted(full) == full
    assert sorted(full, key=str.casefold) == full
    assert sorted(names.DATA_KEYS) == expected
    values = {key: key.upper() for key in expected}
    joined = "|".join(key.upper() for key in expected)
    assert compute_checksum({names.DATA_PREFIX + k: v for k, v in values.items()}) == base64.b64encode(
        hashlib.sha256(joined.encode()).digest()
    ).decode("ascii")


def test_checksum_uses_full_key_names_for_ordering() -> None:
    # "guest_v4_dns1" < "guest_v4_dns2" either way, but ordering must be by the full name, not by value
    items = {"hlvmm.data.b": "1", "hlvmm.data.a": "2"}
    assert compute_checksum(items) == compute_checksum({"hlvmm.data.a": "2", "hlvmm.data.b": "1"})
    assert compute_checksum(items) == base64.b64encode(hashlib.sha256(b"2|1").digest()).decode()


def test_wrap_refuses_wrong_key_length() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        wrap_aes_key(PRIVATE.public_key(), b"short")
    with pytest.raises(ValueError, match="32 bytes"):
        encrypt_value(b"short", "x")


def test_random_source_must_return_the_requested_length() -> None:
    with pytest.raises(ValueError, match="exactly 32 bytes"):
        generate_aes_key(lambda n: b"x")


def test_encrypt_value_error_does_not_quote_the_value() -> None:
    with pytest.raises(ValueError) as caught:
        encrypt_value(generate_aes_key(), SECRET + "\udc80")
    assert SECRET not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


@pytest.mark.parametrize(
    "values",
    [
        {"guest_la_pw": SECRET + "😀"},
        {"guest_la_pw": SECRET * 200},
        {"guest_la_pw": SECRET + "\x00"},
        {SECRET: "x"},
        {"guest_la_pw": "x" * 99 + "\n" + SECRET},
    ],
)
def test_no_plaintext_in_value_errors(values: dict[str, str]) -> None:
    with pytest.raises(GuestValueError) as caught:
        build_host_items(linux_key_b64(PRIVATE.public_key()), values)
    text = str(caught.value) + repr(caught.value) + repr(caught.value.problems)
    if SECRET in values:
        # an unknown key is named (keys are not secrets), its value is not
        assert "'x'" not in text
    else:
        assert SECRET not in text


def test_no_plaintext_or_aes_key_in_key_errors() -> None:
    with pytest.raises(GuestKeyError) as caught:
        build_host_items("QUJD", {"guest_la_pw": SECRET})
    assert SECRET not in str(caught.value) + repr(caught.value)
