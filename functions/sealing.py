"""Sealing secrets before they enter workflow history.

Orchestration inputs, outputs and activity payloads are stored in the task hub in plaintext, readable by anyone
with storage access. Guest passwords and keys are therefore sealed with AES-256-GCM under ``AETHERV_SEAL_KEY``
before ``start_new`` and unsealed only inside the activity that uses them. The sealed text names the key it was
sealed with (a short key id), and is bound to a context string (the workflow instance id), so a sealed blob
copied into another workflow does not open there.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from functions.settings import Secret

__all__ = ["SealError", "seal", "seal_json", "unseal", "unseal_json"]

_VERSION = "s1"


class SealError(ValueError):
    """A sealed value could not be opened: wrong key, wrong context, or altered text. Never includes the value."""


def _key(key: Secret) -> bytes:
    return base64.b64decode(key.reveal())


def _key_id(key: bytes) -> str:
    return hashlib.sha256(b"aetherv-seal-key-id" + key).hexdigest()[:8]


def seal(plaintext: bytes, context: str, *, key: Secret) -> str:
    """Encrypt and authenticate ``plaintext`` bound to ``context``; returns printable text."""
    raw_key = _key(key)
    nonce = os.urandom(12)
    sealed = AESGCM(raw_key).encrypt(nonce, plaintext, context.encode("utf-8"))
    body = base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")
    return f"{_VERSION}.{_key_id(raw_key)}.{body}"


def unseal(text: str, context: str, *, key: Secret) -> bytes:
    """Open text produced by :func:`seal` with the same key and context, or raise :class:`SealError`."""
    raw_key = _key(key)
    try:
        version, key_id, body = text.split(".", 2)
    except ValueError:
        raise SealError("sealed value is malformed") from None
    if version != _VERSION:
        raise SealError("sealed value has an unknown format")
    if key_id != _key_id(raw_key):
        raise SealError("sealed value was sealed with a different AETHERV_SEAL_KEY")
    try:
        data = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        return AESGCM(raw_key).decrypt(data[:12], data[12:], context.encode("utf-8"))
    except (InvalidTag, ValueError):
        raise SealError("sealed value was altered or belongs to another workflow") from None


def seal_json(value: Any, context: str, *, key: Secret) -> str:
    """Seal a JSON-serialisable value."""
    return seal(json.dumps(value, separators=(",", ":")).encode("utf-8"), context, key=key)


def unseal_json(text: str, context: str, *, key: Secret) -> Any:
    """Open a value sealed with :func:`seal_json`."""
    return json.loads(unseal(text, context, key=key))
