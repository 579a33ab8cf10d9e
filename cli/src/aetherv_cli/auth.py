"""Sign-in: the azure-identity credential behind the API's tokens, what ``aetherv login`` remembers, when none.

``aetherv login`` picks a method — ``environment`` (client credentials from ``AZURE_CLIENT_ID``,
``AZURE_TENANT_ID`` and ``AZURE_CLIENT_SECRET`` or ``AZURE_CLIENT_CERTIFICATE_PATH``: azure-identity's
``EnvironmentCredential``), ``azure-cli`` (the account of ``az login``) or ``device-code`` (a code to enter in a
browser) — gets one token to prove it works, and writes what later commands need to ``login.json`` in the config
directory: the method, the scope and tenant, and for device code the authentication record (no token, no secret).
Device-code tokens are kept in azure-identity's persistent token cache (``TokenCachePersistenceOptions``, encrypted
with the system keyring); where no keyring exists the cache cannot persist and each command signs in again, which
``login`` says. The other methods get a token at each command from their own source (the Azure CLI's cache, the
environment).

A server in local mode (``AETHERV_AUTH_MODE=none``, what ``make run`` serves) says so in its ``/ui-config.json``:
then no token is asked for or sent, and neither is one when nobody signed in.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from aetherv_cli.errors import AuthError

__all__ = ["METHODS", "Credential", "LoginState", "auto_method", "build_credential", "config_dir", "token_of"]

METHODS = ("auto", "environment", "azure-cli", "device-code")


class Credential(Protocol):
    """What azure-identity's credentials offer: a token for scopes (``.token`` is the bearer string)."""

    def get_token(self, *scopes: str) -> Any:
        """An ``AccessToken`` for ``scopes``."""


@dataclass(frozen=True)
class LoginState:
    """What ``aetherv login`` remembers for later commands (never a token or a secret)."""

    url: str
    method: str
    scope: str
    tenant_id: str | None = None
    client_id: str | None = None
    record: str | None = None
    """azure-identity's serialized ``AuthenticationRecord`` (device code): which account, not its token."""

    @classmethod
    def load(cls, directory: Path) -> LoginState | None:
        """The saved state, or ``None`` when nobody signed in (or the file is unreadable)."""
        try:
            data = json.loads((directory / "login.json").read_text(encoding="utf-8"))
            return cls(**{key: data.get(key) for key in cls.__dataclass_fields__})
        except (OSError, ValueError, TypeError):
            return None

    def save(self, directory: Path) -> Path:
        """Write the state (readable by the user only)."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "login.json"
        path.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
        path.chmod(0o600)
        return path


def config_dir(environ: Mapping[str, str]) -> Path:
    """``AETHERV_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/aetherv``, else ``~/.config/aetherv``."""
    if environ.get("AETHERV_CONFIG_DIR"):
        return Path(environ["AETHERV_CONFIG_DIR"])
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "aetherv"


def auto_method(environ: Mapping[str, str]) -> str:
    """Client credentials when the environment has them, else the Azure CLI when installed, else device code."""
    has_secret = environ.get("AZURE_CLIENT_SECRET") or environ.get("AZURE_CLIENT_CERTIFICATE_PATH")
    if environ.get("AZURE_CLIENT_ID") and environ.get("AZURE_TENANT_ID") and has_secret:
        return "environment"
    if shutil.which("az"):
        return "azure-cli"
    return "device-code"


def build_credential(state: LoginState, *, interactive: bool = False) -> Credential:
    """The azure-identity credential of a login method (``interactive``: device code may prompt)."""
    from azure import identity

    if state.method == "environment":
        return identity.EnvironmentCredential()
    if state.method == "azure-cli":
        return identity.AzureCliCredential(tenant_id=state.tenant_id or "")
    if state.method == "device-code":
        options: dict[str, Any] = {}
        if state.client_id:
            options["client_id"] = state.client_id
        if state.tenant_id:
            options["tenant_id"] = state.tenant_id
        if state.record:
            options["authentication_record"] = identity.AuthenticationRecord.deserialize(state.record)
        return identity.DeviceCodeCredential(
            cache_persistence_options=identity.TokenCachePersistenceOptions(name="aetherv"),
            disable_automatic_authentication=not interactive,
            **options,
        )
    raise AuthError(f"unknown login method {state.method!r}; run aetherv login again")


def token_of(credential: Credential, scope: str) -> str:
    """A bearer token for ``scope``; any failure is an :class:`AuthError` (exit 3) naming the credential."""
    try:
        return str(credential.get_token(scope).token)
    except Exception as exc:  # azure-identity raises several families; every one means "no token"
        name = type(credential).__name__
        raise AuthError(f"{name} could not get a token for {scope}: {_first_line(exc)}; run aetherv login") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
