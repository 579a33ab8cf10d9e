"""Sealing: authenticated, bound to its workflow, tied to its key, never leaking the value."""

from __future__ import annotations

import base64
import os

import pytest

from functions.sealing import SealError, seal, seal_json, unseal, unseal_json
from functions.settings import Secret, load_settings

KEY = Secret(base64.b64encode(os.urandom(32)).decode())
OTHER = Secret(base64.b64encode(os.urandom(32)).decode())


def test_round_trip_and_no_plaintext_in_the_sealed_text() -> None:
    sealed = seal_json({"guest_la_pw": "Sup3r-Secret!"}, "job-1", key=KEY)
    assert "Sup3r" not in sealed
    assert unseal_json(sealed, "job-1", key=KEY) == {"guest_la_pw": "Sup3r-Secret!"}
    assert seal(b"x", "job-1", key=KEY) != seal(b"x", "job-1", key=KEY)  # fresh nonce each time


def test_wrong_context_key_or_tampering_is_refused_without_the_value() -> None:
    sealed = seal(b"Sup3r-Secret!", "job-1", key=KEY)
    with pytest.raises(SealError, match="another workflow"):
        unseal(sealed, "job-2", key=KEY)
    with pytest.raises(SealError, match="different AETHERV_SEAL_KEY"):
        unseal(sealed, "job-1", key=OTHER)
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(SealError) as info:
        unseal(flipped, "job-1", key=KEY)
    assert "Sup3r" not in str(info.value)
    with pytest.raises(SealError, match="malformed"):
        unseal("garbage", "job-1", key=KEY)


def test_uses_the_configured_key(local_settings: dict[str, str]) -> None:
    configured = load_settings().seal_key
    sealed = seal(b"value", "ctx", key=configured)
    assert unseal(sealed, "ctx", key=configured) == b"value"
    with pytest.raises(SealError):
        unseal(sealed, "ctx", key=KEY)
