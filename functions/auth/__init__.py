"""Authentication and authorization of API callers: Entra ID bearer tokens, Easy Auth, and the local mode.

The public surface, for HTTP triggers::

    from functions.auth import AuthError, Authenticator, Permission

    principal = authenticator.authorize(req.headers, Permission.READER)   # Principal, or AuthError (401/403/503)

- :class:`Authenticator` — one per process, built by the composition root from the auth settings.
- :class:`Principal` — who called (object id, app id, display name, tenant, identity type, roles, permission).
- :class:`Permission` — ``READER`` < ``OPERATOR`` < ``ADMIN``; app role names come from ``AETHERV_ROLE_*``.
- :class:`AuthError` and its family (:mod:`functions.auth.errors`) — ``status``, ``message``,
  ``www_authenticate``, ``headers()``, ``problem()``.
- :class:`TokenValidator` and :class:`SigningKeys` — the lower-level token checks and key cache
  (:mod:`functions.auth.tokens`, :mod:`functions.auth.jwks`).
- :func:`startup_warning` — the text to log loudly when authentication is off.
"""

from __future__ import annotations

from functions.auth.access import LOCAL_OBJECT_ID, Authenticator, local_principal, startup_warning
from functions.auth.errors import (
    AuthError,
    AuthUnavailableError,
    ForbiddenError,
    InsufficientPermissionError,
    InvalidTokenError,
    LocalModeRefusedError,
    MissingCredentialsError,
    UnauthenticatedError,
)
from functions.auth.jwks import Fetcher, SigningKeys, fetch_json
from functions.auth.permissions import Permission, RoleMap
from functions.auth.principal import IdentityType, Principal
from functions.auth.tokens import TokenValidator, issuers_for, metadata_url_for

__all__ = [
    "LOCAL_OBJECT_ID",
    "AuthError",
    "AuthUnavailableError",
    "Authenticator",
    "Fetcher",
    "ForbiddenError",
    "IdentityType",
    "InsufficientPermissionError",
    "InvalidTokenError",
    "LocalModeRefusedError",
    "MissingCredentialsError",
    "Permission",
    "Principal",
    "RoleMap",
    "SigningKeys",
    "TokenValidator",
    "UnauthenticatedError",
    "fetch_json",
    "issuers_for",
    "local_principal",
    "metadata_url_for",
    "startup_warning",
]
