"""The guest's key pair: pooled RSA keys for fast labs, and the public key as each agent publishes it.

Windows publishes a CryptoAPI ``PUBLICKEYBLOB`` (``ExportCspBlob(false)``), Linux the PKCS#1 DER of the key;
both base64. Generated independently of ``functions.guest.keys``, which tests compare against.
"""

from __future__ import annotations

import base64
import functools
import struct

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tools.hvsim.guest.config import OsFamily

__all__ = ["capi_public_key_blob", "export_public_key", "pooled_key"]


@functools.cache
def pooled_key(slot: int = 0) -> rsa.RSAPrivateKey:
    """A process-wide RSA-2048 key for ``slot``, generated once; pass it as ``key=`` to keep big runs fast."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def capi_public_key_blob(public_key: rsa.RSAPublicKey) -> bytes:
    """The Windows agent's ``ExportCspBlob(false)``: PUBLICKEYBLOB, RSAPUBKEY, little-endian modulus."""
    numbers = public_key.public_numbers()
    size = (public_key.key_size + 7) // 8
    # bType 0x06, bVersion 0x02, reserved, aiKeyAlg CALG_RSA_KEYX, magic "RSA1", bitlen, pubexp
    header = struct.pack("<BBHI4sII", 0x06, 0x02, 0, 0x0000A400, b"RSA1", public_key.key_size, numbers.e)
    return header + numbers.n.to_bytes(size, "little")


def export_public_key(public_key: rsa.RSAPublicKey, os_family: OsFamily) -> str:
    """The public key as the given agent publishes it: CAPI blob (Windows) or PKCS#1 DER (Linux), base64."""
    if os_family == "windows":
        blob = capi_public_key_blob(public_key)
    else:
        blob = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    return base64.b64encode(blob).decode("ascii")
