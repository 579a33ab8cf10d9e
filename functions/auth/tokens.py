"""Validation of Microsoft Entra ID access tokens (v1 and v2) for this API, in code.

A token is accepted only when all of these hold:

- it is a compact JWS of at most 16 KiB, its header says ``alg: RS256`` (nothing else: not ``none``, not HS256 —
  not even HS256 "signed" with our public key — not other RSA or EC variants) and names a ``kid``;
- ``iss`` is the configured tenant's v1 or v2 issuer (:func:`issuers_for`), and ``ver``, when present, matches it;
- ``tid`` is the configured tenant; ``aud`` is exactly the Application ID URI (``api://<client id>`` by default) or
  the client id;
- ``exp`` is present and not past, ``nbf`` not in the future, ``iat`` not in the future (each with ``leeway``
  seconds of clock skew, 90 by default);
- the signature verifies with the tenant key named by ``kid`` (see :mod:`functions.auth.jwks` for how keys are
  cached and refreshed).

The claims are checked before the key is looked up (so a foreign or expired token never triggers a key refresh) and
again on the verified payload. PyJWT does the signature work; the claim checks are here so that the clock is
injectable and every rejection has a precise, safe reason.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt

from functions.auth.errors import InvalidTokenError
from functions.auth.jwks import Fetcher, SigningKeys, fetch_json
from functions.auth.permissions import RoleMap
from functions.auth.principal import Principal, principal_from_claims
from functions.models.json import JsonObject
from functions.settings import AuthSettings

__all__ = ["DEFAULT_AUTHORITY", "MAX_TOKEN_CHARS", "TokenValidator", "issuers_for", "metadata_url_for"]

log = logging.getLogger(__name__)

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
MAX_TOKEN_CHARS = 16 * 1024
ALGORITHM = "RS256"

# v1 tokens are issued by the cloud's security token service host, not the login host.
_V1_ISSUER_HOSTS = {
    "login.microsoftonline.com": "https://sts.windows.net",
    "login.windows.net": "https://sts.windows.net",
    "login.microsoftonline.us": "https://sts.windows.net",
    "login.chinacloudapi.cn": "https://sts.chinacloudapi.cn",
    "login.partner.microsoftonline.cn": "https://sts.chinacloudapi.cn",
}
_COMPACT_JWS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")


def issuers_for(authority: str, tenant_id: str) -> tuple[str, str]:
    """The accepted ``(v1, v2)`` issuers for ``tenant_id`` at ``authority``.

    v2 is always ``{authority}/{tenant}/v2.0``. v1 is ``https://sts.windows.net/{tenant}/`` for the public and US
    Government clouds and ``https://sts.chinacloudapi.cn/{tenant}/`` for the China cloud; for any other authority
    (such as a local test authority) it is ``{authority}/{tenant}/``, the v1 form on the authority's own host.
    """
    authority = authority.rstrip("/")
    tenant = tenant_id.lower()
    parts = urlsplit(authority)
    sts = _V1_ISSUER_HOSTS.get(parts.hostname or "") if parts.scheme == "https" and parts.path in ("", "/") else None
    return f"{sts or authority}/{tenant}/", f"{authority}/{tenant}/v2.0"


def metadata_url_for(authority: str, tenant_id: str, app_id: str | None = None) -> str:
    """The tenant's v2 OpenID Connect metadata document; with ``app_id``, the one naming that app's own keys.

    An app registration with custom signing keys (claims mapping) signs its tokens with keys only the metadata read
    with ``?appid=<client id>`` points to
    (https://learn.microsoft.com/entra/identity-platform/access-tokens#validate-the-signature).
    """
    url = f"{authority.rstrip('/')}/{tenant_id.lower()}/v2.0/.well-known/openid-configuration"
    return f"{url}?{urlencode({'appid': app_id})}" if app_id else url


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


class TokenValidator:
    """Validates bearer tokens for one tenant and API (rules in the module docstring).

    ``clock`` returns the current Unix time (injectable for tests); the signing keys come from ``keys`` or, by
    default, from a :class:`SigningKeys` on the tenant's metadata using ``fetcher``.
    """

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        app_id_uri: str | None = None,
        authority: str = DEFAULT_AUTHORITY,
        role_map: RoleMap | None = None,
        keys: SigningKeys | None = None,
        fetcher: Fetcher = fetch_json,
        clock: Callable[[], float] = time.time,
        leeway: float = 90.0,
        app_signing_keys: bool = False,
    ) -> None:
        if not tenant_id or not client_id:
            raise ValueError("a tenant id and a client id are required to validate tokens")
        self.tenant_id = tenant_id.lower()
        self.client_id = client_id
        self.app_id_uri = app_id_uri or f"api://{client_id}"
        self.authority = authority.rstrip("/")
        self.role_map = role_map or RoleMap()
        metadata = metadata_url_for(self.authority, self.tenant_id, client_id if app_signing_keys else None)
        self.keys = keys or SigningKeys(metadata, fetcher=fetcher)
        self.issuer_v1, self.issuer_v2 = issuers_for(self.authority, self.tenant_id)
        self.audiences = (self.app_id_uri, self.client_id)
        self._clock = clock
        self.leeway = leeway

    @classmethod
    def from_settings(
        cls,
        settings: AuthSettings,
        *,
        fetcher: Fetcher = fetch_json,
        clock: Callable[[], float] = time.time,
        keys: SigningKeys | None = None,
    ) -> TokenValidator:
        """A validator for the configured tenant, audience and role names."""
        return cls(
            tenant_id=settings.tenant_id,
            client_id=settings.client_id,
            app_id_uri=settings.app_id_uri or None,
            authority=settings.authority or DEFAULT_AUTHORITY,
            role_map=RoleMap.from_settings(settings),
            keys=keys,
            fetcher=fetcher,
            clock=clock,
            app_signing_keys=settings.app_signing_keys,
        )

    def validate(self, token: str) -> JsonObject:
        """The verified claims of ``token``; raises :class:`InvalidTokenError` or :class:`AuthUnavailableError`."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or not _COMPACT_JWS.match(token):
            raise InvalidTokenError("the bearer token is not a well-formed JWT")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except (jwt.PyJWTError, ValueError, TypeError):
            raise InvalidTokenError("the bearer token is not a well-formed JWT") from None
        if header.get("alg") != ALGORITHM:
            raise InvalidTokenError("the token must be signed with RS256")
        if "crit" in header:
            raise InvalidTokenError("the token header has unsupported critical extensions")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidTokenError("the token header has no key id (kid)")
        self._check_claims(unverified)
        key = self.keys.get(kid)
        if key is None:
            raise InvalidTokenError("the token is signed with an unknown key")
        try:
            claims: JsonObject = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                options={
                    "verify_signature": True,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                    "verify_sub": False,
                    "verify_jti": False,
                    "require": [],
                },
            )
        except jwt.InvalidSignatureError:
            raise InvalidTokenError("the token signature is invalid") from None
        except (jwt.PyJWTError, ValueError, TypeError):
            raise InvalidTokenError("the bearer token is not a well-formed JWT") from None
        self._check_claims(claims)
        return claims

    def principal(self, token: str) -> Principal:
        """The caller a valid ``token`` stands for (its permission may be ``None``: authorization is separate)."""
        claims = self.validate(token)
        version = "1.0" if claims.get("iss") == self.issuer_v1 else "2.0"
        return principal_from_claims(claims, self.role_map, source="bearer", token_version=version)

    def _check_claims(self, claims: Mapping[str, Any]) -> None:
        issuer = claims.get("iss")
        if issuer not in (self.issuer_v1, self.issuer_v2):
            raise InvalidTokenError("the token was not issued by the configured tenant's authority")
        version = claims.get("ver")
        if version is not None and version != ("1.0" if issuer == self.issuer_v1 else "2.0"):
            raise InvalidTokenError("the token version (ver) does not match its issuer")
        tenant = claims.get("tid")
        if not isinstance(tenant, str) or tenant.lower() != self.tenant_id:
            raise InvalidTokenError("the token is for another tenant (tid)")
        audience = claims.get("aud")
        if not isinstance(audience, str) or audience not in self.audiences:
            raise InvalidTokenError("the token is for another audience (aud)")
        now = self._clock()
        expires = _number(claims.get("exp"))
        if expires is None:
            raise InvalidTokenError("the token has no valid expiry (exp)")
        if now >= expires + self.leeway:
            raise InvalidTokenError("the token has expired")
        for name, message in (
            ("nbf", "the token is not valid yet (nbf)"),
            ("iat", "the token is issued in the future"),
        ):
            if name not in claims:
                continue
            value = _number(claims[name])
            if value is None:
                raise InvalidTokenError(f"the token's {name} claim is not a number")
            if value > now + self.leeway:
                raise InvalidTokenError(message)
