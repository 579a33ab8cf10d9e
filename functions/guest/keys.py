"""Import of the guest's ephemeral RSA public key (``hlvmm.meta.guest_provisioning_public_key``).

Formats are told apart by their first bytes (§6.4):

- ``06 02`` — Windows CAPI ``PUBLICKEYBLOB`` from ``RSACryptoServiceProvider.ExportCspBlob(false)`` (§6.2): a
  20-byte header (``bType``, ``bVersion``, reserved, ``aiKeyAlg``, magic ``RSA1``, ``bitlen``, ``pubexp``, all
  little-endian) followed by the modulus, little-endian;
- ``30`` — DER: PKCS#1 ``RSAPublicKey`` as the Linux agent publishes it (§6.3), or SubjectPublicKeyInfo.

Only RSA keys with a 2048-bit modulus are accepted. Errors are :class:`GuestKeyError` and never quote the key.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from typing import Final

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from functions.guest.errors import GuestKeyError

KEY_BITS: Final = 2048

CAPI_PUBLICKEYBLOB: Final = 0x06
CAPI_BLOB_VERSION: Final = 0x02
CALG_RSA_KEYX: Final = 0x0000A400
CALG_RSA_SIGN: Final = 0x00002400
RSA1_MAGIC: Final = 0x31415352  # b"RSA1" read as a little-endian u32
CAPI_HEADER_BYTES: Final = 20

_WHITESPACE: Final = re.compile(r"\s+")


def load_guest_public_key(public_key_b64: str) -> rsa.RSAPublicKey:
    """Parse the guest's base64 public key (CAPI PUBLICKEYBLOB, PKCS#1 or SPKI DER); whitespace is ignored."""
    if not isinstance(public_key_b64, str):
        raise GuestKeyError(f"guest public key must be a base64 string, got {type(public_key_b64).__name__}")
    compact = _WHITESPACE.sub("", public_key_b64)
    if not compact:
        raise GuestKeyError("guest public key is empty")
    try:
        blob = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise GuestKeyError("guest public key is not valid base64") from None
    return load_guest_public_key_bytes(blob)


def load_guest_public_key_bytes(blob: bytes) -> rsa.RSAPublicKey:
    """Parse a decoded guest public key, choosing the format by its first bytes."""
    if len(blob) >= 2 and blob[0] == CAPI_PUBLICKEYBLOB and blob[1] == CAPI_BLOB_VERSION:
        key = parse_capi_public_key_blob(blob)
    elif blob[:1] == b"\x30":
        key = _parse_der(blob)
    else:
        first = blob[:2].hex(" ") or "nothing"
        raise GuestKeyError(
            "guest public key has an unknown format (expected a CAPI PUBLICKEYBLOB starting 06 02 "
            f"or DER starting 30; starts with {first})"
        )
    if key.key_size != KEY_BITS:
        raise GuestKeyError(
            f"guest public key has a {key.key_size}-bit modulus; only {KEY_BITS}-bit is accepted"
        )
    return key


def parse_capi_public_key_blob(blob: bytes) -> rsa.RSAPublicKey:
    """Parse a CAPI ``PUBLICKEYBLOB`` + ``RSAPUBKEY`` + little-endian modulus (§6.2)."""
    if len(blob) < CAPI_HEADER_BYTES:
        raise GuestKeyError(f"CAPI public key blob is truncated ({len(blob)} bytes, header needs 20)")
    b_type, b_version, _reserved, alg_id, magic, bitlen, pubexp = struct.unpack_from("<BBHIIII", blob)
    if b_type != CAPI_PUBLICKEYBLOB or b_version != CAPI_BLOB_VERSION:
        raise GuestKeyError("CAPI public key blob does not start with 06 02 (PUBLICKEYBLOB, version 2)")
    if alg_id not in (CALG_RSA_KEYX, CALG_RSA_SIGN):
        raise GuestKeyError(
            f"CAPI public key blob has algorithm 0x{alg_id:08x}, not CALG_RSA_KEYX or CALG_RSA_SIGN"
        )
    if magic != RSA1_MAGIC:
        raise GuestKeyError("CAPI public key blob lacks the RSA1 magic")
    if bitlen != KEY_BITS:
        raise GuestKeyError(
            f"CAPI public key blob declares a {bitlen}-bit modulus; only {KEY_BITS}-bit is accepted"
        )
    expected = CAPI_HEADER_BYTES + bitlen // 8
    if len(blob) != expected:
        problem = "truncated" if len(blob) < expected else "longer than its modulus"
        raise GuestKeyError(f"CAPI public key blob is {problem} ({len(blob)} bytes, expected {expected})")
    modulus = int.from_bytes(blob[CAPI_HEADER_BYTES:expected], "little")
    return _public_key(modulus, pubexp)


def _parse_der(blob: bytes) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_der_public_key(blob)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise GuestKeyError(
            "guest public key is not a valid DER RSAPublicKey (PKCS#1) or SubjectPublicKeyInfo"
        ) from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise GuestKeyError(f"guest public key is not an RSA key ({type(key).__name__})")
    return key


def _public_key(modulus: int, exponent: int) -> rsa.RSAPublicKey:
    if modulus.bit_length() != KEY_BITS:
        raise GuestKeyError(
            f"guest public key modulus has {modulus.bit_length()} significant bits; expected {KEY_BITS}"
        )
    try:
        return rsa.RSAPublicNumbers(exponent, modulus).public_key()
    except ValueError:
        raise GuestKeyError("guest public key has an invalid RSA exponent or modulus") from None


def capi_public_key_blob(key: rsa.RSAPublicKey, *, alg_id: int = CALG_RSA_KEYX) -> bytes:
    """Serialise ``key`` as a CAPI PUBLICKEYBLOB, the layout ``ExportCspBlob(false)`` produces."""
    numbers = key.public_numbers()
    byte_len = (key.key_size + 7) // 8
    header = struct.pack(
        "<BBHIIII", CAPI_PUBLICKEYBLOB, CAPI_BLOB_VERSION, 0, alg_id, RSA1_MAGIC, key.key_size, numbers.e
    )
    return header + numbers.n.to_bytes(byte_len, "little")
