"""Who is calling and may they: the one entry point HTTP triggers use, per auth mode.

``entra`` (default)
    An ``Authorization: Bearer <token>`` header is validated in code (:class:`~functions.auth.tokens.TokenValidator`).
    If ``AETHERV_EASY_AUTH_ENABLED=true`` and the request has no bearer token, the Easy Auth principal header
    (``X-MS-CLIENT-PRINCIPAL``) is used instead. With both present, the bearer token wins: it is validated and the
    header is ignored, so the result never depends on a header the app cannot check itself. With Easy Auth not
    enabled the header is ignored entirely — a forged header grants nothing.
``none``
    Local development only (settings refuse it in Azure). Every request is the fixed local developer with all roles,
    but only when the request's ``Host`` (and any ``X-Forwarded-Host`` / ``X-Forwarded-For``) is a loopback name or
    address — a second guard behind the host binding to loopback.

The composition root builds one :class:`Authenticator` from the auth settings and hands it to the API, which calls
``authenticator.authorize(req.headers, Permission.OPERATOR)`` per request; an :class:`AuthError` it raises is
answered through the API's error table.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from functions.auth.easy_auth import HEADER as EASY_AUTH_HEADER
from functions.auth.easy_auth import claims_from_header
from functions.auth.errors import (
    AuthError,
    InsufficientPermissionError,
    InvalidTokenError,
    LocalModeRefusedError,
    MissingCredentialsError,
)
from functions.auth.jwks import Fetcher, fetch_json, is_loopback_host
from functions.auth.permissions import Permission, RoleMap
from functions.auth.principal import IdentityType, Principal, principal_from_claims
from functions.auth.tokens import TokenValidator
from functions.settings import AuthSettings, Settings

__all__ = ["LOCAL_OBJECT_ID", "Authenticator", "local_principal", "startup_warning"]

log = logging.getLogger(__name__)

LOCAL_OBJECT_ID = "00000000-0000-0000-0000-000000000000"
LOCAL_DISPLAY_NAME = "local developer"


def local_principal(role_map: RoleMap) -> Principal:
    """The fixed caller of ``AETHERV_AUTH_MODE=none``: every role, admin permission."""
    return Principal(
        object_id=LOCAL_OBJECT_ID,
        display_name=LOCAL_DISPLAY_NAME,
        identity_type=IdentityType.LOCAL,
        tenant_id=None,
        app_id=None,
        username=None,
        roles=role_map.all_roles(),
        permission=Permission.ADMIN,
        source="local",
    )


def _host_of(value: str) -> str | None:
    try:
        return urlsplit("//" + value.strip()).hostname
    except ValueError:
        return None


def _is_loopback_request(headers: Mapping[str, str]) -> bool:
    if not is_loopback_host(_host_of(headers.get("host", ""))):
        return False
    forwarded_host = headers.get("x-forwarded-host")
    if forwarded_host is not None and not all(is_loopback_host(_host_of(part)) for part in forwarded_host.split(",")):
        return False
    forwarded_for = headers.get("x-forwarded-for")
    return forwarded_for is None or all(is_loopback_host(part.strip()) for part in forwarded_for.split(","))


def _bearer_token(authorization: str) -> str | None:
    """The token of a ``Bearer`` credential; ``None`` for another scheme."""
    scheme, _, rest = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = rest.strip()
    if not token or " " in token:
        raise InvalidTokenError("the Authorization header must be 'Bearer <token>'")
    return token


class Authenticator:
    """Authenticates and authorizes requests for one set of auth settings (see the module docstring)."""

    def __init__(
        self,
        settings: AuthSettings,
        *,
        validator: TokenValidator | None = None,
        fetcher: Fetcher = fetch_json,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.role_map = RoleMap.from_settings(settings)
        self.validator: TokenValidator | None = None
        if settings.mode == "entra":
            self.validator = validator or TokenValidator.from_settings(settings, fetcher=fetcher, clock=clock)

    def authenticate(self, headers: Mapping[str, str]) -> Principal:
        """The caller of a request with ``headers``; raises :class:`AuthError` when there is none or it is invalid.

        The principal's ``permission`` may be ``None``; use :meth:`authorize` to require a level.
        """
        lowered = {name.lower(): value for name, value in headers.items()}
        try:
            return self._authenticate(lowered)
        except AuthError as exc:
            log.info("auth: request rejected (%d): %s", exc.status, exc.message)
            raise

    def authorize(self, headers: Mapping[str, str], required: Permission) -> Principal:
        """The caller, if its roles grant ``required``; raises :class:`AuthError` (401, 403 or 503) otherwise."""
        return self.authorize_principal(self.authenticate(headers), required)

    def authorize_principal(self, principal: Principal, required: Permission) -> Principal:
        """``principal``, if its roles grant ``required``; raises :class:`InsufficientPermissionError` otherwise."""
        if principal.has(required):
            return principal
        if principal.permission is None and principal.scopes and not principal.roles:
            message = "the token is delegated (scp) and carries no app role of this API; an app role must be assigned"
        elif principal.permission is None:
            message = "the caller holds no app role of this API"
        else:
            message = f"this operation requires the {self.role_map.role_for(required)} role or higher"
        log.info(
            "auth: %s %s (oid %s) denied: holds %s, needs %s",
            principal.identity_type.value,
            principal.display_name,
            principal.object_id,
            principal.permission.name if principal.permission else "no role",
            required.name,
        )
        raise InsufficientPermissionError(message)

    def _authenticate(self, headers: Mapping[str, str]) -> Principal:
        if self.settings.mode == "none":
            if not _is_loopback_request(headers):
                raise LocalModeRefusedError("authentication is off, so only loopback requests are served")
            return local_principal(self.role_map)
        assert self.validator is not None
        authorization = headers.get("authorization", "")
        token = _bearer_token(authorization) if authorization.strip() else None
        if token is not None:
            return self.validator.principal(token)
        easy_auth = headers.get(EASY_AUTH_HEADER)
        if easy_auth is not None:
            if self.settings.easy_auth_enabled:
                return self._easy_auth_principal(easy_auth)
            log.warning("auth: ignored an %s header: Easy Auth is not enabled", EASY_AUTH_HEADER)
        raise MissingCredentialsError()

    def _easy_auth_principal(self, value: str) -> Principal:
        claims = claims_from_header(value)
        tenant = claims.get("tid")
        if tenant is not None and str(tenant).lower() != self.settings.tenant_id.lower():
            raise InvalidTokenError("the client principal is from another tenant (tid)")
        return principal_from_claims(claims, self.role_map, source="easy_auth")


def startup_warning(settings: Settings | AuthSettings) -> str | None:
    """A loud warning to log at startup when authentication is off or uses a local test authority."""
    auth = settings.auth if isinstance(settings, Settings) else settings
    if auth.mode == "none":
        return (
            "AUTHENTICATION IS OFF (AETHERV_AUTH_MODE=none): every request to a loopback address is served as "
            f"'{LOCAL_DISPLAY_NAME}' with all roles ({', '.join(RoleMap.from_settings(auth).all_roles())}). "
            "For local development only; never expose this host beyond 127.0.0.1."
        )
    if urlsplit(auth.authority).scheme == "http":
        return (
            f"Tokens are validated against a LOCAL TEST AUTHORITY ({auth.authority}), not Microsoft Entra ID. "
            "For local development and tests only."
        )
    return None
