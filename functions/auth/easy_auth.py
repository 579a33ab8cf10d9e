"""The App Service Authentication ("Easy Auth") principal header, ``X-MS-CLIENT-PRINCIPAL``.

When Easy Auth runs in front of the app it validates the caller's token and passes the claims on as base64 JSON::

    {"auth_typ": "aad", "name_typ": "...", "role_typ": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
     "claims": [{"typ": "...", "val": "..."}, ...]}

Claim types go through a claim mapping, so long URIs stand for the short JWT names (the object id arrives as
``http://schemas.microsoft.com/identity/claims/objectidentifier``, the roles under ``role_typ``). This module turns
the header back into the short-name claims that :func:`functions.auth.principal.principal_from_claims` reads.

The header is trusted **only** when ``AETHERV_EASY_AUTH_ENABLED=true`` (the platform strips it from external
requests only where Easy Auth is on); the caller of this module enforces that.
"""

from __future__ import annotations

import base64
import binascii
import json

from functions.auth.errors import InvalidTokenError
from functions.models.json import JsonObject

__all__ = ["HEADER", "claims_from_header"]

HEADER = "x-ms-client-principal"
MAX_HEADER_CHARS = 64 * 1024

_ROLE_TYPES = ("roles", "role", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role")
_CLAIM_ALIASES = {
    "http://schemas.microsoft.com/identity/claims/objectidentifier": "oid",
    "http://schemas.microsoft.com/identity/claims/tenantid": "tid",
    "http://schemas.microsoft.com/identity/claims/scope": "scp",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": "upn",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name": "unique_name",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress": "email",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier": "sub",
}
_SINGLE = ("oid", "tid", "scp", "upn", "unique_name", "email", "sub", "name", "preferred_username", "appid", "azp")
_SINGLE_MORE = ("idtyp", "xms_mirid", "app_displayname", "ver", "aud", "iss")


def claims_from_header(value: str) -> JsonObject:
    """The short-name claims of an ``X-MS-CLIENT-PRINCIPAL`` value; ``roles`` is a list.

    Raises :class:`InvalidTokenError` when the value is not base64 JSON of the documented shape.
    """
    if len(value) > MAX_HEADER_CHARS:
        raise InvalidTokenError("the client principal header is too large")
    try:
        document = json.loads(base64.b64decode(value.strip(), validate=True))
    except (binascii.Error, ValueError):
        raise InvalidTokenError("the client principal header is not base64 JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("claims"), list):
        raise InvalidTokenError("the client principal header has no claims")
    role_type = document.get("role_typ")
    role_types = {*_ROLE_TYPES, role_type} if isinstance(role_type, str) and role_type else set(_ROLE_TYPES)
    name_type = document.get("name_typ")
    claims: JsonObject = {}
    roles: list[str] = []
    for item in document["claims"]:
        if not isinstance(item, dict):
            continue
        kind, val = item.get("typ"), item.get("val")
        if not isinstance(kind, str) or not isinstance(val, str):
            continue
        if kind in role_types:
            roles.append(val)
            continue
        name = _CLAIM_ALIASES.get(kind, kind)
        if name in _SINGLE or name in _SINGLE_MORE:
            claims.setdefault(name, val)
        if isinstance(name_type, str) and kind == name_type:
            claims.setdefault("_name", val)
    if "name" not in claims and "_name" in claims:
        claims["name"] = claims["_name"]
    claims.pop("_name", None)
    claims["roles"] = roles
    return claims
