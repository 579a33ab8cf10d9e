"""Exceptions of the authentication layer, each carrying its HTTP status and a short, safe message.

::

    AuthError                          base: ``status``, ``message``, ``www_authenticate``, ``headers()``, ``problem()``
    ├── UnauthenticatedError (401)     the caller is not (validly) authenticated
    │   ├── MissingCredentialsError    no ``Authorization: Bearer`` header (and no trusted Easy Auth principal)
    │   └── InvalidTokenError          malformed, unsigned, badly signed, expired, or for another audience/tenant
    ├── ForbiddenError (403)           the caller is known but may not do this
    │   ├── InsufficientPermissionError  no app role, or a role below the one required
    │   └── LocalModeRefusedError      ``AETHERV_AUTH_MODE=none`` but the request was not addressed to loopback
    └── AuthUnavailableError (503)     the signing keys cannot be fetched and none are cached

Messages never contain the token, any part of it, or key material: they are fixed phrases chosen by this package
(optionally naming a claim, never quoting its value), safe to return to the caller and to log. Each family derives
from its domain error (:class:`functions.errors.Unauthenticated`, ``Forbidden``, ``Unavailable``), so the API answers
them through the one error table.
"""

from __future__ import annotations

import re
from typing import ClassVar

from functions import errors

__all__ = [
    "REALM",
    "AuthError",
    "AuthUnavailableError",
    "ForbiddenError",
    "InsufficientPermissionError",
    "InvalidTokenError",
    "LocalModeRefusedError",
    "MissingCredentialsError",
    "UnauthenticatedError",
]

REALM = "Aether-V"

# RFC 6750 §3: error_description is restricted to %x20-21 / %x23-5B / %x5D-7E (no quote, no backslash).
_UNSAFE = re.compile(r'[^\x20-\x7e]|["\\]')


def _quoted(text: str) -> str:
    return '"' + _UNSAFE.sub("", text) + '"'


class AuthError(Exception):
    """Base class of every error raised by ``functions.auth``.

    ``status`` is the HTTP status to answer with, ``message`` a short text safe to show the caller, ``error`` the
    RFC 6750 error code (``None`` when the request carried no credentials at all).
    """

    status: ClassVar[int] = 401
    title: ClassVar[str] = "Unauthorized"
    error: ClassVar[str | None] = "invalid_token"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def response_headers(self) -> dict[str, str]:
        """The headers of :meth:`headers` (the domain errors' name for them)."""
        return self.headers()

    @property
    def www_authenticate(self) -> str | None:
        """The ``WWW-Authenticate`` header value (RFC 6750 §3), or ``None`` when none belongs on the response."""
        if self.status not in (401, 403):
            return None
        parts = [f"Bearer realm={_quoted(REALM)}"]
        if self.error is not None:
            parts.append(f"error={_quoted(self.error)}")
            parts.append(f"error_description={_quoted(self.message)}")
        return ", ".join(parts)

    def headers(self) -> dict[str, str]:
        """Response headers that belong with this error (``WWW-Authenticate``, ``Retry-After``)."""
        headers: dict[str, str] = {"Cache-Control": "no-store"}
        if self.www_authenticate is not None:
            headers["WWW-Authenticate"] = self.www_authenticate
        return headers

    def problem(self) -> dict[str, object]:
        """An RFC 9457 problem document for the response body."""
        return {"type": "about:blank", "title": self.title, "status": self.status, "detail": self.message}


class UnauthenticatedError(AuthError, errors.Unauthenticated):
    """The caller is not authenticated (401)."""


class MissingCredentialsError(UnauthenticatedError):
    """The request carries no bearer token (RFC 6750: then the challenge has no error code)."""

    error: ClassVar[str | None] = None

    def __init__(self, message: str = "a bearer token is required") -> None:
        super().__init__(message)


class InvalidTokenError(UnauthenticatedError):
    """The bearer token (or the Easy Auth principal) cannot be accepted; ``message`` says why in a few words."""


class ForbiddenError(AuthError, errors.Forbidden):
    """The caller is authenticated but not allowed (403)."""

    status: ClassVar[int] = 403
    title: ClassVar[str] = "Forbidden"
    error: ClassVar[str | None] = "insufficient_scope"


class InsufficientPermissionError(ForbiddenError):
    """The caller's app roles do not grant the permission the operation requires."""


class LocalModeRefusedError(ForbiddenError):
    """``AETHERV_AUTH_MODE=none`` serves only requests addressed to a loopback host name."""

    error: ClassVar[str | None] = None

    @property
    def www_authenticate(self) -> str | None:
        """No challenge: no token would help."""
        return None


class AuthUnavailableError(AuthError, errors.Unavailable):
    """The tenant's signing keys cannot be fetched and none are cached (503; the caller should retry)."""

    status: ClassVar[int] = 503
    title: ClassVar[str] = "Service Unavailable"
    error: ClassVar[str | None] = None

    def __init__(self, message: str = "token signing keys are temporarily unavailable", retry_after: int = 30) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        """Adds ``Retry-After``."""
        headers = super().headers()
        headers["Retry-After"] = str(self.retry_after)
        return headers
