"""Exceptions of the guest provisioning protocol layer.

::

    GuestProtocolError
    ├── GuestKeyError                  the guest's public key cannot be used
    ├── GuestValueError (ValueError)   provisioning values cannot be published (names every offending key)
    └── GuestAlreadyProvisionedError   the guest pool holds state from an earlier provisioning run

Messages and reprs never contain plaintext values, AES keys or key material.
"""

from __future__ import annotations

from collections.abc import Mapping


class GuestProtocolError(Exception):
    """Base class of every error raised by ``functions.guest``."""


class GuestKeyError(GuestProtocolError):
    """Raised when the guest's public key is missing, malformed, of an unknown format or not RSA-2048."""


class GuestValueError(GuestProtocolError, ValueError):
    """Raised when values cannot be published; ``problems`` maps each offending key to the reason."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems: dict[str, str] = dict(sorted(problems.items()))
        details = "; ".join(f"{key}: {reason}" for key, reason in self.problems.items())
        super().__init__(f"invalid provisioning values: {details}")

    @property
    def keys(self) -> tuple[str, ...]:
        """The offending data keys, sorted."""
        return tuple(self.problems)


class GuestAlreadyProvisionedError(GuestProtocolError):
    """Raised when the guest pool already holds a provisioning state from an earlier run (protocol D16)."""

    def __init__(self, state: str) -> None:
        self.state = state
        super().__init__(
            f"the guest pool already holds guest provisioning state {state!r} from an earlier run; "
            "the host cannot remove guest items, so re-initialising this VM needs an explicit override"
        )
