"""Import of the guest public key: CAPI PUBLICKEYBLOB, PKCS#1 DER, SPKI DER, and rejections."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from functions.guest.errors import GuestKeyError
from functions.guest.keys import (
    CALG_RSA_SIGN,
    capi_public_key_blob,
    load_guest_public_key,
    load_guest_public_key_bytes,
)

from ._support import RSA_1024_PKCS1_DER, capi_blob, fixed_private_key, linux_key_b64, windows_key_b64

PUBLIC = fixed_private_key().public_key()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def test_capi_header_matches_the_protocol_bytes() -> None:
    blob = capi_blob(PUBLIC)
    assert blob[:20].hex(" ") == "06 02 00 00 00 a4 00 00 52 53 41 31 00 08 00 00 01 00 01 00"
    assert len(blob) == 276
    assert len(windows_key_b64(PUBLIC)) == 368


def test_pkcs1_der_layout_matches_the_protocol() -> None:
    der = base64.b64decode(linux_key_b64(PUBLIC))
    assert len(der) == 270
    assert der[:9].hex(" ") == "30 82 01 0a 02 82 01 01 00"
    assert der[-5:].hex(" ") == "02 03 01 00 01"
    assert len(linux_key_b64(PUBLIC)) == 360


@pytest.mark.parametrize(
    "encoded",
    [
        pytest.param(windows_key_b64(PUBLIC), id="windows-capi"),
        pytest.param(linux_key_b64(PUBLIC), id="linux-pkcs1"),
        pytest.param(
            b64(
                PUBLIC.public_bytes(
                    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            ),
            id="spki",
        ),
        pytest.param(b64(capi_blob(PUBLIC, alg_id=CALG_RSA_SIGN)), id="capi-signature-key"),
    ],
)
def test_accepted_formats_give_the_same_key(encoded: str) -> None:
    assert load_guest_public_key(encoded).public_numbers() == PUBLIC.public_numbers()


def test_whitespace_in_base64_is_tolerated() -> None:
    encoded = windows_key_b64(PUBLIC)
    wrapped = "\r\n ".join(encoded[i : i + 64] for i in range(0, len(encoded), 64)) + "\n\t"
    assert load_guest_public_key(wrapped).public_numbers() == PUBLIC.public_numbers()


def test_host_blob_builder_matches_independent_layout() -> None:
    assert capi_public_key_blob(PUBLIC) == capi_blob(PUBLIC)


@pytest.mark.parametrize(
    ("encoded", "message"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("   \n", "empty", id="blank"),
        pytest.param("not base64!!", "not valid base64", id="garbage"),
        pytest.param("QUJD", "unknown format", id="wrong-first-byte"),
        pytest.param(b64(b"\x07\x02" + capi_blob(PUBLIC)[2:]), "unknown format", id="private-key-blob-type"),
        pytest.param(b64(capi_blob(PUBLIC)[:150]), "truncated", id="truncated-capi"),
        pytest.param(b64(capi_blob(PUBLIC)[:12]), "truncated", id="truncated-capi-header"),
        pytest.param(b64(capi_blob(PUBLIC) + b"\x00"), "longer than its modulus", id="oversized-capi"),
        pytest.param(b64(capi_blob(PUBLIC)[:8] + b"RSA2" + capi_blob(PUBLIC)[12:]), "RSA1", id="bad-magic"),
        pytest.param(b64(capi_blob(PUBLIC, alg_id=0x6610)), "algorithm", id="aes-alg-id"),
        pytest.param(
            b64(base64.b64decode(linux_key_b64(PUBLIC))[:200]), "not a valid DER", id="truncated-der"
        ),
        pytest.param(b64(RSA_1024_PKCS1_DER), "1024-bit", id="rsa-1024-der"),
        pytest.param(b64(b"\x30\x03\x02\x01\x05"), "not a valid DER", id="der-not-a-key"),
    ],
)
def test_rejected_keys_raise_a_clear_error(encoded: str, message: str) -> None:
    with pytest.raises(GuestKeyError, match=message):
        load_guest_public_key(encoded)


def test_capi_blob_declaring_1024_bits_is_rejected() -> None:
    blob = bytearray(capi_blob(PUBLIC))
    blob[12:16] = (1024).to_bytes(4, "little")
    with pytest.raises(GuestKeyError, match="1024-bit"):
        load_guest_public_key_bytes(bytes(blob[: 20 + 128]))


def test_capi_blob_with_short_modulus_is_rejected() -> None:
    blob = bytearray(capi_blob(PUBLIC))
    blob[20 + 255] = 0  # most significant byte of the little-endian modulus
    with pytest.raises(GuestKeyError, match="significant bits"):
        load_guest_public_key_bytes(bytes(blob))


def test_non_rsa_spki_is_rejected() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    spki = ec_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(GuestKeyError, match="not an RSA key"):
        load_guest_public_key(b64(spki))


def test_non_string_is_rejected() -> None:
    with pytest.raises(GuestKeyError, match="base64 string"):
        load_guest_public_key(b"abc")  # type: ignore[arg-type]


def test_error_messages_do_not_quote_the_key() -> None:
    encoded = b64(capi_blob(PUBLIC)[:150])
    with pytest.raises(GuestKeyError) as caught:
        load_guest_public_key(encoded)
    assert encoded[:40] not in str(caught.value)
    assert encoded[:40] not in repr(caught.value)
