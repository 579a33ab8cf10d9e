"""The authenticated caller: who it is (for the audit log) and what it may do.

One :class:`Principal` shape for every way in — a bearer token validated in code, the Easy Auth principal header, or
the fixed local developer of ``AETHERV_AUTH_MODE=none`` — built from a flat claims mapping by
:func:`principal_from_claims`.

Identity type, from the token's claims:

- ``idtyp`` (optional claim) decides when present: ``user`` or ``app``;
- otherwise a token with a user name (``preferred_username``, ``upn``, ``unique_name``) or delegated scopes
  (``scp``) is a user, and one with only a client app id (``appid``/``azp``) is an app;
- an app whose token carries ``xms_mirid`` (the managed identity's resource id, present in managed identity tokens
  such as those of Logic Apps) is reported as ``managed_identity``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from functions.auth.errors import InvalidTokenError
from functions.auth.permissions import Permission, RoleMap
from functions.models.json import JsonObject

__all__ = ["AuthSource", "IdentityType", "Principal", "identity_type_of", "principal_from_claims"]

AuthSource = Literal["bearer", "easy_auth", "local"]

_USER_NAME_CLAIMS = ("preferred_username", "upn", "unique_name", "email")


class IdentityType(StrEnum):
    """The kind of caller."""

    USER = "user"
    APP = "app"
    MANAGED_IDENTITY = "managed_identity"
    LOCAL = "local"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller.

    ``object_id`` (Entra ``oid``) is the stable identifier to record; ``app_id`` is the client application
    (``appid``/``azp``: for apps and managed identities their own id, for users the app they signed in with);
    ``display_name`` is a human-readable label (``name``/``preferred_username``/``upn``, or the app id for apps);
    ``permission`` is the highest level the ``roles`` grant, ``None`` when they grant nothing.
    """

    object_id: str
    display_name: str
    identity_type: IdentityType
    tenant_id: str | None
    app_id: str | None
    username: str | None
    roles: tuple[str, ...]
    permission: Permission | None
    scopes: tuple[str, ...] = ()
    source: AuthSource = "bearer"
    token_version: str | None = None
    managed_identity_resource_id: str | None = None

    def has(self, required: Permission) -> bool:
        """Whether the principal's roles grant ``required``."""
        return self.permission is not None and self.permission.allows(required)

    @property
    def is_app(self) -> bool:
        """Whether the caller is an application (service principal or managed identity), not a person."""
        return self.identity_type in (IdentityType.APP, IdentityType.MANAGED_IDENTITY)

    def audit(self) -> JsonObject:
        """The fields an audit record needs, as JSON-ready values."""
        return {
            "object_id": self.object_id,
            "display_name": self.display_name,
            "identity_type": self.identity_type.value,
            "tenant_id": self.tenant_id,
            "app_id": self.app_id,
            "username": self.username,
            "roles": list(self.roles),
            "permission": self.permission.name.lower() if self.permission is not None else None,
            "source": self.source,
            "managed_identity_resource_id": self.managed_identity_resource_id,
        }


def _text(claims: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        value = claims.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(part for part in value.split() if part)
    if isinstance(value, Iterable) and not isinstance(value, Mapping | bytes):
        return tuple(item for item in value if isinstance(item, str) and item)
    return ()


def identity_type_of(claims: Mapping[str, Any]) -> IdentityType:
    """The caller's identity type from its claims (rules in the module docstring)."""
    idtyp = (_text(claims, "idtyp") or "").lower()
    if idtyp == "user":
        return IdentityType.USER
    if idtyp != "app":
        if _text(claims, *_USER_NAME_CLAIMS) is not None or _strings(claims.get("scp")):
            return IdentityType.USER
        if _text(claims, "appid", "azp") is None:
            return IdentityType.USER
    return IdentityType.MANAGED_IDENTITY if _text(claims, "xms_mirid") is not None else IdentityType.APP


def principal_from_claims(
    claims: Mapping[str, Any],
    role_map: RoleMap,
    *,
    source: AuthSource,
    token_version: str | None = None,
) -> Principal:
    """Build the principal of already-validated ``claims`` (``roles`` a list, ``scp`` a space-separated string).

    Raises :class:`InvalidTokenError` when the claims have no object id (``oid``).
    """
    object_id = _text(claims, "oid")
    if object_id is None:
        raise InvalidTokenError("the token has no object id (oid) claim")
    kind = identity_type_of(claims)
    app_id = _text(claims, "appid", "azp")
    username = _text(claims, *_USER_NAME_CLAIMS) if kind is IdentityType.USER else None
    if kind is IdentityType.USER:
        display = _text(claims, "name") or username or object_id
    else:
        display = _text(claims, "app_displayname") or app_id or object_id
    roles = _strings(claims.get("roles"))
    return Principal(
        object_id=object_id,
        display_name=display,
        identity_type=kind,
        tenant_id=_text(claims, "tid"),
        app_id=app_id,
        username=username,
        roles=roles,
        permission=role_map.permission_for(roles),
        scopes=_strings(claims.get("scp")),
        source=source,
        token_version=token_version,
        managed_identity_resource_id=_text(claims, "xms_mirid") if kind is IdentityType.MANAGED_IDENTITY else None,
    )
