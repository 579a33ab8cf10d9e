"""Interpretation of a snapshot of the guest pool (items the guest wrote) into a typed :class:`GuestStatus`.

The host cannot delete guest items, so state left by an earlier run on the same VM stays in the guest pool
(D16). The workflow reads the pool once before it starts (§15 step 3): :func:`ensure_fresh_guest_pool`
refuses a VM that already carries a provisioning state, and when the caller overrides that, the snapshot taken
then is passed as ``baseline`` to :func:`read_guest_status` so the old state is reported as stale instead of
as this run's result. Once the guest of this run has been seen waiting for the AES key (under a new public
key), that snapshot becomes the baseline for the completion wait, so a final state equal to the old run's is
still recognised as this run's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from functions.guest.errors import GuestAlreadyProvisionedError
from functions.guest.kvp import reassemble
from functions.guest.names import (
    GUEST_ERROR_KEY,
    GUEST_PUBLIC_KEY_KEY,
    GUEST_STATE_KEY,
    MAX_ERROR_SUMMARY_CHARS,
    GuestState,
)
from functions.models.json import JsonObject

_MAX_REPORTED_STATE_CHARS = 64


@dataclass(frozen=True, slots=True)
class GuestStatus:
    """What the guest has reported so far.

    ``state`` is the raw state string (``None`` if absent; unknown strings are kept so they can be
    reported), ``error_summary`` the guest's summary (``None`` if absent or empty),
    ``public_key_fingerprint`` the SHA-256 hex of the published public key text (``None`` if absent), and
    ``stale`` is true when the snapshot still shows what the baseline taken before this run showed, i.e. the
    guest has not reported anything in this run yet.
    """

    state: str | None
    error_summary: str | None
    public_key_fingerprint: str | None
    stale: bool = False

    @property
    def guest_state(self) -> GuestState | None:
        """The state as an enum member, or ``None`` if absent, stale or not a known state string."""
        if self.stale or self.state is None:
            return None
        try:
            return GuestState(self.state)
        except ValueError:
            return None

    @property
    def public_key_present(self) -> bool:
        """Whether a public key is published (it may be stale; see ``stale``)."""
        return self.public_key_fingerprint is not None

    @property
    def waiting_for_aes_key(self) -> bool:
        """The guest of this run has published its key and waits for the data (§4.2 step 5 can go on)."""
        return self.guest_state is GuestState.WAITING_FOR_AES_KEY and self.public_key_present

    @property
    def applied(self) -> bool:
        """This run's guest reported ``provisioningapplied``."""
        return self.guest_state is GuestState.APPLIED

    @property
    def failed(self) -> bool:
        """This run's guest reported ``provisioningfailed``; the reason is in ``error_summary``."""
        return self.guest_state is GuestState.FAILED

    @property
    def finished(self) -> bool:
        """This run's guest reached a terminal state."""
        return self.applied or self.failed

    @property
    def previous_run_detected(self) -> bool:
        """Read before a run starts: the guest pool already carries a provisioning state (D16)."""
        return self.state is not None

    def to_json(self) -> JsonObject:
        """Plain dict for orchestration payloads (holds no secrets)."""
        return {
            "state": self.state,
            "error_summary": self.error_summary,
            "public_key_fingerprint": self.public_key_fingerprint,
            "stale": self.stale,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GuestStatus:
        """Inverse of :meth:`to_json`."""
        return cls(
            state=data.get("state"),
            error_summary=data.get("error_summary"),
            public_key_fingerprint=data.get("public_key_fingerprint"),
            stale=bool(data.get("stale", False)),
        )


def read_guest_status(guest_items: Mapping[str, str], *, baseline: GuestStatus | None = None) -> GuestStatus:
    """Interpret a guest-pool snapshot; with ``baseline`` (the pre-run snapshot) spot an old run's leftovers.

    A snapshot is stale when the baseline had a state and the state and error are unchanged, unless the
    guest now waits for the AES key under a different public key (a fresh key proves a new run even if the
    old run had stopped at ``waitingforaeskey`` too).
    """
    state = guest_items.get(GUEST_STATE_KEY) or None
    error = guest_items.get(GUEST_ERROR_KEY) or None
    if error is not None:
        error = error[:MAX_ERROR_SUMMARY_CHARS]
    public_key = reassemble(guest_items, GUEST_PUBLIC_KEY_KEY)
    fingerprint = None
    if public_key is not None:
        fingerprint = hashlib.sha256("".join(public_key.split()).encode("utf-8")).hexdigest()
    stale = False
    if baseline is not None and baseline.state is not None:
        unchanged = state == baseline.state and error == baseline.error_summary
        new_key_waiting = state == GuestState.WAITING_FOR_AES_KEY and fingerprint != baseline.public_key_fingerprint
        stale = unchanged and not new_key_waiting
    return GuestStatus(state=state, error_summary=error, public_key_fingerprint=fingerprint, stale=stale)


def ensure_fresh_guest_pool(guest_items: Mapping[str, str]) -> GuestStatus:
    """§15 step 3: return the pre-run snapshot, or raise if an earlier run left a provisioning state (D16)."""
    status = read_guest_status(guest_items)
    if status.state is not None:
        raise GuestAlreadyProvisionedError(status.state[:_MAX_REPORTED_STATE_CHARS])
    return status
