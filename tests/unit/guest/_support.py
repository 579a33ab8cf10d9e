"""Test support: a fixed RSA key, a deterministic random source and an independent guest-side decrypt.

The decrypt here is written against ``cryptography`` primitives directly, without ``functions.guest``, so the
round-trip tests check the host side against a second implementation of the wire format.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Mapping

from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# A fixed RSA-2048 key pair generated once for these tests (never used anywhere else).
TEST_KEY_PEM = b"""\
-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCtDe5pWGwbbvbT
A19J2VU9jMKbC4GSsb9kI9xMvs9Wi+cYTjCahpwH992c3vc6KHorM5mFZY3CQExv
N3mzXD1CH3bi7Agz8lZDkd/0jj0GKxDz5ZlNqqHG+/47c9ll+XzVHdyjLpOpqFnK
k/oX3pw98fxbutcJ5fv1agdknmb3wMc1+1G0OnLiFLVOHEBAPIxNkyCwy5WA8EYd
HhEGeEFFYYuN/68cWfa8/jBekj0C3DVQSIzHs+pIBWDlBMI7KytFMnFoSJTQbKh4
kxu67yOeQOQoSsBYfk45N9u5BrgIdgjn6j3jYAsPwPR/VUEE24KHPmYXMxUOR9tQ
LDtRhCEVAgMBAAECggEAQ/TGDBFAdq9m9qsK1r2lFwP5AZiNm9T4AvOAFZUSZ3qN
18IQnQXCLPDdUjZOYES34NIk9bjQ55iHS18+B7xvg9FGRssIV5nQ3Tzh9K+McCkm
QZiGUHTyjWi0R5VxJ/XGWwwcceoe608kX4QngAsXUM3/WugufIEXJaKq34zCg4RH
h02c1U53L+YZQwdiRka/1uo+v9g/923cjuNDBJMA9/aPxButa4F6hecy9uivdtfZ
oi9YqEdPMqS0Vsqp9Iq7ge/UgPT9Z8mFjSLzvhBD8VUPAgHSTCIiOBhzJwXh0wOk
rz/zfjY3tt/RCoWyp8rh05MBxmffU8USH7BSzFPOGwKBgQDS5tzIEJNuj1L/kh2x
nmLyPvDw8IAZLvdUyptP2zZmsusImTbMIo6mmpeI1wZayoderWbgvqYHfa+FP7wl
6for/JuQMwqQRHSuGntzz/+L/yKrVKoBiUS2Z47t+TkTxPho6i0aSba4AfNpCdLC
y7VODc91OqJzlNiTshham2TBpwKBgQDSDzxrCsI5E03+6m1ZA7Ef93w3QrCQARUR
pMwJoc89cbIxgCmdRyA6cL03sgFUDBo0Obz+I7kxxI/Z6OzyxHv5j+iT8GgbOprk
bpwlV/vQAdNZkVXjdf943tkvkO5YV241pmyzz3COPqTixLztT3No/y1YNd7sjPFE
jlyCK5mG4wKBgEq8dNCQzy4GrCrU5KDkt7uQgmFfWIWUFyF9CrypugV6sb9CTCDa
viJb9gcP67iQvJfYavSJmtxcta5Kf6oP2A9uXNIkxEGLgK2RxN2tf6lkqCx+vB//
PNJGsGe0QX239y92jLUcGhvq1Q8L5BwThBQ84J9yP88ll/n+ypKRLotRAoGAWA2q
9fP8lpBREZqTW80AYrYLi96YxMSvYEYEgcUiak9OsxFWYGeASv8XUlF73Q91rI7H
eoDfEM2kv2O0b8+NaH+6rskH2uImK7tyGPVYyUj6n4Ecz8yW2sQPprDKOJ3txO+O
gZFjTT1VQPnXeGLlrg3JpEBwwhgSyvoiLS65nKECgYEAoIq//xt7fKM6lXHblBr/
yyrxi1nBATiu5MCYR22NXr3BOBRmhvbpHrUa+zuGFPgVz2PFE6cM70BF9BZjx/Ws
Kf++aNeozitpzziNousoVf4HZMqzXvSGrObnPdTlsn21Yr61bf4k1pWHpz7waqk+
jACJq4IQIpK2PutCFM2UcLA=
-----END PRIVATE KEY-----
"""

# The PKCS#1 DER public key of a fixed RSA-1024 key pair, for the "wrong size" tests.
RSA_1024_PKCS1_DER = bytes.fromhex(
    "30818902818100baa6ec57faba064a95a185ee5907bca43f903fee68fa5423c5f08d1837373efcdd30bb4564f2d0ddddd4f180eb88e213b4d733b08a49bebc3683f8d2bb80f6c01abe11c73ddc7d26abed46d49d7348d27956ce05ab85b63ef4a10cf2d7c41a5b33ddc536303ea69c1207a0c2642b7322e09240325304a91390c6c7e24ab4b92d0203010001"
)


def fixed_private_key() -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(TEST_KEY_PEM, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def capi_blob(public_key: rsa.RSAPublicKey, alg_id: int = 0xA400) -> bytes:
    """CAPI PUBLICKEYBLOB built by hand from §6.2 (independent of functions.guest.keys)."""
    numbers = public_key.public_numbers()
    header = bytes([0x06, 0x02, 0x00, 0x00]) + struct.pack("<I", alg_id) + b"RSA1"
    header += struct.pack("<II", public_key.key_size, numbers.e)
    return header + numbers.n.to_bytes(public_key.key_size // 8, "little")


def windows_key_b64(public_key: rsa.RSAPublicKey) -> str:
    return base64.b64encode(capi_blob(public_key)).decode("ascii")


def linux_key_b64(public_key: rsa.RSAPublicKey) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    return base64.b64encode(der).decode("ascii")


class CountingRandom:
    """Deterministic stand-in for os.urandom: SHA-256 of a counter, recording every request."""

    def __init__(self, seed: bytes = b"aetherv") -> None:
        self.seed = seed
        self.counter = 0
        self.requests: list[int] = []

    def __call__(self, count: int) -> bytes:
        self.requests.append(count)
        out = b""
        while len(out) < count:
            out += hashlib.sha256(self.seed + self.counter.to_bytes(8, "big")).digest()
            self.counter += 1
        return out[:count]


def unwrap_aes_key(private_key: rsa.RSAPrivateKey, wrapped_b64: str) -> bytes:
    return private_key.decrypt(base64.b64decode(wrapped_b64, validate=True), padding.PKCS1v15())


def decrypt_item(aes_key: bytes, item_b64: str) -> str:
    blob = base64.b64decode(item_b64, validate=True)
    iv, ciphertext = blob[:16], blob[16:]
    decryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = sym_padding.PKCS7(128).unpadder()
    return (unpadder.update(padded) + unpadder.finalize()).decode("utf-8")


def decrypt_all(private_key: rsa.RSAPrivateKey, items: Mapping[str, str]) -> dict[str, str]:
    """What a correct guest reads: data key (without namespace) → plaintext, chunks reassembled."""
    aes_key = unwrap_aes_key(private_key, items["hlvmm.meta.shared_aes_key"])
    assert len(aes_key) == 32
    values: dict[str, str] = {}
    bases = {name.split("._")[0] for name in items if name.startswith("hlvmm.data.")}
    for base in bases:
        if base in items:
            values[base.removeprefix("hlvmm.data.")] = decrypt_item(aes_key, items[base])
            continue
        parts = []
        index = 0
        while f"{base}._{index}" in items:
            parts.append(decrypt_item(aes_key, items[f"{base}._{index}"]))
            index += 1
        values[base.removeprefix("hlvmm.data.")] = "".join(parts)
    return values


def reference_checksum(values: Mapping[str, str]) -> str:
    """§8 recipe over data keys without namespace (values already non-blank)."""
    ordered = sorted(f"hlvmm.data.{key}" for key in values)
    joined = "|".join(values[name.removeprefix("hlvmm.data.")] for name in ordered)
    return base64.b64encode(hashlib.sha256(joined.encode("utf-8")).digest()).decode("ascii")
