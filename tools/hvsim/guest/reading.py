"""Reading the host pool as each agent does: chunk-aware reads, AES key unwrap, decryption, checksum.

The Windows agent discovers only bare ``hlvmm.data.*`` names and so never reads chunked values (D1), and compares
the checksum case-insensitively; the Linux agent reassembles chunks, loses trailing newlines of each chunk and
value (D2; command substitution), drops NUL bytes, decrypts with a ``-nopad`` fallback that turns bad padding into
garbage and reads a value that is exactly an ``echo`` option as empty. Both skip values that fail to decrypt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tools.hvsim.guest.config import (
    CHECKSUM,
    CHUNK_SUFFIX,
    DATA_PREFIX,
    MAX_CHUNKS,
    SHARED_AES_KEY,
    AgentFailureError,
    OsFamily,
)

__all__ = ["PoolReader", "shell_capture", "unwrap_shared_key"]

_ECHO_OPTION: Final = re.compile(rb"-[neE]+")


def unwrap_shared_key(wrapped_b64: str | None, private_key: rsa.RSAPrivateKey | None) -> bytes:
    """The shared AES key (PKCS#1 v1.5) as every agent unwraps it: anything but 32 bytes fails the run."""
    summary = "error decrypting:shared_aes_key"
    if not wrapped_b64 or private_key is None:
        raise AgentFailureError(summary)
    try:
        wrapped = base64.b64decode("".join(wrapped_b64.split()), validate=True)
        aes_key = private_key.decrypt(wrapped, padding.PKCS1v15())
    except (ValueError, binascii.Error):
        raise AgentFailureError(summary) from None
    if len(aes_key) != 32:
        raise AgentFailureError(summary)
    return aes_key


@dataclass(frozen=True)
class PoolReader:
    """How the ``os_family`` agent reads and decrypts the host pool."""

    os_family: OsFamily

    def read(self, host: Mapping[str, str], name: str) -> str | None:
        """Chunk-aware plaintext read of a host item, as each agent does it."""
        if self.os_family == "windows":
            if host.get(name):
                return host[name]
        elif name in host:
            return host[name]
        parts: list[str] = []
        for index in range(MAX_CHUNKS):
            part = host.get(f"{name}._{index}")
            if not part:
                break
            parts.append(part)
        return "".join(parts) if parts else None

    def unwrap_aes_key(self, host: Mapping[str, str], private_key: rsa.RSAPrivateKey | None) -> bytes:
        """The shared AES key, unwrapped with the guest's private key (32 bytes, or the agent fails)."""
        return unwrap_shared_key(self.read(host, SHARED_AES_KEY), private_key)

    def data_names(self, host: Mapping[str, str]) -> list[str]:
        """The data items the agent discovers (Linux adds the base names of chunked items)."""
        if self.os_family == "windows":
            # -like "hlvmm.data.*" -and -notmatch '\._[0-9]+$': chunks are dropped, never reassembled (D1)
            return [n for n in host if n.lower().startswith(DATA_PREFIX) and not CHUNK_SUFFIX.search(n)]
        names = [n for n in host if n.startswith(DATA_PREFIX) and not CHUNK_SUFFIX.search(n)]
        for name in host:
            if name.startswith(DATA_PREFIX) and CHUNK_SUFFIX.search(name):
                base = name[: name.rindex("._")]
                if base not in names:
                    names.append(base)
        return names

    def read_data(
        self, host: Mapping[str, str], aes_key: bytes, summary: str = "error reading:provisioning_data"
    ) -> dict[str, bytes]:
        """Discover and decrypt the data values; values failing to decrypt are left out, as both agents do."""
        names = self.data_names(host)
        if not names:
            raise AgentFailureError(summary)
        values: dict[str, bytes] = {}
        for name in names:
            value = self._decrypt_item(host, name, aes_key)
            if value is not None:
                values[name] = value
        return values

    def _decrypt_item(self, host: Mapping[str, str], name: str, aes_key: bytes) -> bytes | None:
        windows = self.os_family == "windows"
        bare = host.get(name)
        if (windows and bare) or (not windows and bare is not None):
            pieces = [bare]
        else:
            pieces = []
            for index in range(MAX_CHUNKS):
                part = host.get(f"{name}._{index}")
                if not part:
                    break
                pieces.append(part)
            if not pieces:
                return None
        plain = b""
        for piece in pieces:
            decrypted = _decrypt_windows(piece, aes_key) if windows else _decrypt_linux(piece, aes_key)
            if decrypted is None:
                return None
            if windows:  # UTF8.GetString replaces invalid bytes; the checksum re-encodes the string
                plain += decrypted.decode("utf-8", "replace").encode("utf-8")
            else:  # each chunk is captured with command substitution, which drops trailing newlines (D2)
                plain += shell_capture(decrypted)
        if windows:
            return plain or None  # `if ($decryptedValue)`
        value = shell_capture(plain)  # `echo` into a file, read back with $(cat …)
        if _ECHO_OPTION.fullmatch(value):
            return b""  # echo takes "-n" & co. as options and prints nothing
        return value

    def checksum_matches(self, values: Mapping[str, bytes], host: Mapping[str, str]) -> bool:
        """Whether the published checksum matches the SHA-256 of the values, joined as the agent joins them."""
        published = self.read(host, CHECKSUM) or ""
        if self.os_family == "windows":
            ordered = sorted(values, key=lambda name: (name.casefold(), name))  # Sort-Object, culture-aware
            joined = b"|".join(values[name] for name in ordered)
        else:
            kept = {name: value for name, value in values.items() if value.strip()}
            joined = b"|".join(kept[name] for name in sorted(kept))  # `sort`
            published = shell_capture(published.encode("utf-8")).decode("utf-8", "replace")
        computed = base64.b64encode(hashlib.sha256(joined).digest()).decode("ascii")
        if self.os_family == "windows":
            return computed.casefold() == published.casefold()  # PowerShell -ne is case-insensitive
        return computed == published

    def normalise_version(self, version: str) -> str:
        """A version string as the agent compares it (NULs and surrounding whitespace dropped)."""
        if self.os_family == "windows":
            return version.replace("\x00", "").strip()  # -replace "`0", "" then .Trim()
        return " ".join(re.sub("[\x00\r\n]", "", version).split())  # tr -d '\0\r\n' | xargs


def _decrypt_windows(item: str, aes_key: bytes) -> bytes | None:
    try:
        blob = base64.b64decode("".join(item.split()), validate=True)
    except (ValueError, binascii.Error):
        return None
    iv, ciphertext = blob[:16], blob[16:]
    if len(iv) < 16 or not ciphertext or len(ciphertext) % 16:
        return None
    padded = _aes_cbc_decrypt(aes_key, iv, ciphertext)
    pad = padded[-1]
    if not 1 <= pad <= 16 or padded[-pad:] != bytes([pad]) * pad:
        return None
    return padded[:-pad]


def _decrypt_linux(item: str, aes_key: bytes) -> bytes | None:
    try:
        blob = base64.b64decode("".join(item.split()), validate=True)
    except (ValueError, binascii.Error):
        return None
    if len(blob) < 16:
        return None
    iv, ciphertext = blob[:16], blob[16:]
    if not ciphertext or len(ciphertext) % 16:
        return b""  # `openssl … -nopad | sed …` fails inside a pipeline whose status is sed's: empty output
    padded = _aes_cbc_decrypt(aes_key, iv, ciphertext)
    pad = padded[-1]
    if 1 <= pad <= 16 and padded[-pad:] == bytes([pad]) * pad:
        return padded[:-pad]
    # -nopad fallback: raw blocks with trailing NULs stripped from each line (sed 's/\x00*$//')
    return b"\n".join(line.rstrip(b"\x00") for line in padded.split(b"\n"))


def _aes_cbc_decrypt(aes_key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    decryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).decryptor()
    return decryptor.update(ciphertext) + decryptor.finalize()


def shell_capture(data: bytes) -> bytes:
    """What ``$(…)`` keeps of a command's output: NUL bytes dropped, trailing newlines removed."""
    return data.replace(b"\x00", b"").rstrip(b"\n")
