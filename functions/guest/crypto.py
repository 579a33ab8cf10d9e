"""Host-side cryptography of the protocol (§6): the AES-256 session key, its RSA wrap and value encryption.

- Session key: 32 random bytes, one per provisioning run.
- Wrap: RSA PKCS#1 v1.5 encryption (not OAEP) with the guest's public key, standard base64 (344 characters).
- Values: UTF-8 plaintext, AES-256-CBC with PKCS#7 padding, a fresh 16-byte IV per value or chunk; the wire
  value is standard base64 of ``IV || ciphertext``.

The random source is injectable (``random(n) -> n bytes``) so tests can be deterministic; it defaults to
``os.urandom``. RSA padding always uses the library's own CSPRNG.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from typing import Final

from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

AES_KEY_BYTES: Final = 32
IV_BYTES: Final = 16

RandomSource = Callable[[int], bytes]
"""Returns the requested number of random bytes, like ``os.urandom``."""


def _random_bytes(random: RandomSource, count: int) -> bytes:
    data = random(count)
    if not isinstance(data, bytes | bytearray) or len(data) != count:
        raise ValueError(f"random source must return exactly {count} bytes")
    return bytes(data)


def generate_aes_key(random: RandomSource = os.urandom) -> bytes:
    """A fresh AES-256 session key."""
    return _random_bytes(random, AES_KEY_BYTES)


def wrap_aes_key(public_key: rsa.RSAPublicKey, aes_key: bytes) -> str:
    """Encrypt the session key to the guest with RSA PKCS#1 v1.5; returns standard base64."""
    if len(aes_key) != AES_KEY_BYTES:
        raise ValueError(f"AES key must be {AES_KEY_BYTES} bytes")
    wrapped = public_key.encrypt(aes_key, asym_padding.PKCS1v15())
    return base64.b64encode(wrapped).decode("ascii")


def encrypt_value(aes_key: bytes, plaintext: str, *, random: RandomSource = os.urandom) -> str:
    """Encrypt one value or chunk: base64(IV || AES-256-CBC(PKCS7(UTF-8(plaintext)))) with a fresh IV."""
    if len(aes_key) != AES_KEY_BYTES:
        raise ValueError(f"AES key must be {AES_KEY_BYTES} bytes")
    iv = _random_bytes(random, IV_BYTES)
    padder = sym_padding.PKCS7(algorithms.AES.block_size).padder()
    try:
        encoded = plaintext.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("value contains unpaired surrogates and cannot be encoded as UTF-8") from None
    padded = padder.update(encoded) + padder.finalize()
    encryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    return base64.b64encode(iv + ciphertext).decode("ascii")
