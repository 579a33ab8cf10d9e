"""The fake tenant: signing keys, OpenID metadata and JWKS documents, and token minting.

:class:`FakeEntra` answers the same paths as Microsoft Entra ID's tenant endpoints, either in memory (its
:meth:`~FakeEntra.fetch_json` fits the app's injectable metadata fetcher) or over HTTP (:meth:`~FakeEntra.start`),
counting every request so tests can assert caching and rate limiting.

Tokens look like Entra access tokens of the requested version and caller kind:

- ``kind="user"``: ``name``, delegated ``scp``; v2 ``preferred_username``/``azp``, v1 ``upn``/``unique_name``/``appid``;
- ``kind="app"``: a service principal (client credentials): ``appid`` (v1) or ``azp`` (v2), no ``scp``;
- ``kind="managed_identity"``: like ``app`` plus ``xms_mirid`` (the identity's resource id), as Logic Apps send.

Issuers: v2 ``{authority}/{tenant}/v2.0``; v1 ``https://sts.windows.net/{tenant}/`` when the authority is the public
cloud's ``https://login.microsoftonline.com``, else ``{authority}/{tenant}/`` (what the app expects of a
non-Microsoft authority).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from functions.settings import AuthSettings

__all__ = [
    "AZURE_CLI_APP_ID",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_TENANT_ID",
    "FakeEntra",
    "FakeKey",
    "Kind",
    "Version",
    "client_principal_header",
]

DEFAULT_TENANT_ID = "fa4ee17a-0000-4000-8000-000000000001"
DEFAULT_CLIENT_ID = "ae74e700-0000-4000-8000-000000000002"
AZURE_CLI_APP_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"  # the public client id of the Azure CLI
PUBLIC_AUTHORITY = "https://login.microsoftonline.com"

Kind = Literal["user", "app", "managed_identity"]
Version = Literal["1.0", "2.0"]

# Stable identities of the callers the fake mints tokens for.
_IDENTITIES: dict[str, dict[str, str]] = {
    "user": {"oid": "11111111-1111-4111-8111-111111111111", "name": "Ada Lovelace", "upn": "ada@contoso.example"},
    "app": {"oid": "22222222-2222-4222-8222-222222222222", "appid": "a0a0a0a0-0000-4000-8000-00000000a991"},
    "managed_identity": {
        "oid": "33333333-3333-4333-8333-333333333333",
        "appid": "b0b0b0b0-0000-4000-8000-00000000b991",
        "mirid": "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg-aetherv/providers/"
        "Microsoft.ManagedIdentity/userAssignedIdentities/id-logicapp",
    },
}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64json(document: Mapping[str, Any]) -> str:
    return _b64url(json.dumps(document, separators=(",", ":")).encode())


@dataclass(frozen=True)
class FakeKey:
    """One RSA signing key of the fake tenant."""

    kid: str
    private_key: rsa.RSAPrivateKey

    @classmethod
    def generate(cls, kid: str | None = None) -> FakeKey:
        """A new 2048-bit key with a random (or the given) ``kid``."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(kid=kid or _b64url(uuid.uuid4().bytes)[:16], private_key=key)

    @property
    def public_pem(self) -> bytes:
        """The public key as PEM (what an HS256 key-confusion attack would use as the HMAC secret)."""
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def jwk(self, issuer: str) -> dict[str, Any]:
        """The public key as an Entra-style JWK (no ``alg``; ``x5t`` is a fake thumbprint)."""
        jwk = RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        jwk.update({"kid": self.kid, "use": "sig", "x5t": self.kid, "issuer": issuer})
        return jwk


class FakeEntra:
    """A fake Entra tenant for tests and local runs (module docstring); thread-safe.

    ``key`` is the first signing key (a new one by default); ``clock`` sets the minted tokens' times.

    Switches: ``down`` makes every endpoint answer 503; ``delay`` seconds are waited before each answer.
    Counters: :attr:`metadata_requests`, :attr:`jwks_requests` (and ``requests`` by kind).
    """

    def __init__(
        self,
        tenant_id: str = DEFAULT_TENANT_ID,
        client_id: str = DEFAULT_CLIENT_ID,
        *,
        app_id_uri: str | None = None,
        authority: str | None = None,
        clock: Callable[[], float] = time.time,
        key: FakeKey | None = None,
    ) -> None:
        self.tenant_id = tenant_id.lower()
        self.client_id = client_id
        self.app_id_uri = app_id_uri or f"api://{client_id}"
        self._authority = authority.rstrip("/") if authority else None
        self.clock = clock
        self.keys: list[FakeKey] = [key or FakeKey.generate()]
        self.active_kid = self.keys[0].kid
        self.app_keys: dict[str, FakeKey] = {}  # custom signing keys of app registrations (claims mapping)
        self.down = False
        self.delay = 0.0
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- identity of the tenant -----------------------------------------------------------------------------------

    @property
    def authority(self) -> str:
        """The authority URL (the server's ``http://127.0.0.1:<port>`` once started)."""
        if self._authority is None:
            raise RuntimeError("the fake authority has no URL yet: start() it or pass authority=")
        return self._authority

    @property
    def issuer_v2(self) -> str:
        """The v2 issuer of this tenant."""
        return f"{self.authority}/{self.tenant_id}/v2.0"

    @property
    def issuer_v1(self) -> str:
        """The v1 issuer of this tenant."""
        if self.authority == PUBLIC_AUTHORITY:
            return f"https://sts.windows.net/{self.tenant_id}/"
        return f"{self.authority}/{self.tenant_id}/"

    @property
    def metadata_requests(self) -> int:
        """How many metadata documents were served (v1 and v2)."""
        return self.requests["metadata"]

    @property
    def jwks_requests(self) -> int:
        """How many key sets were served."""
        return self.requests["jwks"]

    def reset_counters(self) -> None:
        """Zero the request counters."""
        with self._lock:
            self.requests.clear()

    def settings(self, **overrides: Any) -> AuthSettings:
        """``AuthSettings`` for an app that trusts this tenant (fields overridable)."""
        values: dict[str, Any] = {
            "mode": "entra",
            "authority": self.authority,
            "tenant_id": self.tenant_id,
            "client_id": self.client_id,
            "app_id_uri": self.app_id_uri,
            "role_reader": "Aether.Reader",
            "role_operator": "Aether.Operator",
            "role_admin": "Aether.Admin",
            "easy_auth_enabled": False,
        }
        values.update(overrides)
        return AuthSettings(**values)

    def env(self) -> dict[str, str]:
        """The app settings (environment variables) for an app that trusts this tenant."""
        return {
            "AETHERV_AUTH_MODE": "entra",
            "AETHERV_ENTRA_AUTHORITY": self.authority,
            "AETHERV_ENTRA_TENANT_ID": self.tenant_id,
            "AETHERV_ENTRA_CLIENT_ID": self.client_id,
            "AETHERV_ENTRA_APP_ID_URI": self.app_id_uri,
        }

    # -- keys -----------------------------------------------------------------------------------------------------

    @property
    def active_key(self) -> FakeKey:
        """The key that signs new tokens."""
        return next(key for key in self.keys if key.kid == self.active_kid)

    def rotate_key(self, *, retire_old: bool = False) -> FakeKey:
        """Publish a new key and sign with it from now on; the old keys stay published unless ``retire_old``."""
        key = FakeKey.generate()
        with self._lock:
            self.keys = [key] if retire_old else [*self.keys, key]
            self.active_kid = key.kid
        return key

    def remove_key(self, kid: str) -> None:
        """Stop publishing the key ``kid`` (it cannot be the active key)."""
        if kid == self.active_kid:
            raise ValueError("cannot remove the active key; rotate first")
        with self._lock:
            self.keys = [key for key in self.keys if key.kid != kid]

    def use_app_signing_key(self, app_id: str | None = None) -> FakeKey:
        """Give an app registration its own signing key, as claims mapping does.

        Tokens for the app are signed with that key, which only the key set read with ``?appid=<app id>`` contains.
        """
        key = FakeKey.generate()
        with self._lock:
            self.app_keys[app_id or self.client_id] = key
        return key

    # -- documents ------------------------------------------------------------------------------------------------

    def jwks(self, app_id: str | None = None) -> dict[str, Any]:
        """The tenant's key set; with ``app_id`` also that app's own key, if it has one."""
        keys = [*self.keys, *([self.app_keys[app_id]] if app_id in self.app_keys else [])]
        return {"keys": [key.jwk(self.issuer_v2) for key in keys]}

    def metadata(self, version: Version = "2.0", app_id: str | None = None) -> dict[str, Any]:
        """The tenant's OpenID Connect metadata (v2 or v1 endpoint); ``app_id`` carries over to ``jwks_uri``."""
        base = f"{self.authority}/{self.tenant_id}"
        v2 = version == "2.0"
        suffix = f"?appid={app_id}" if app_id else ""
        return {
            "issuer": self.issuer_v2 if v2 else self.issuer_v1,
            "jwks_uri": (f"{base}/discovery/v2.0/keys" if v2 else f"{base}/discovery/keys") + suffix,
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize" if v2 else f"{base}/oauth2/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token" if v2 else f"{base}/oauth2/token",
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "tenant_region_scope": "EU",
        }

    def handle(self, path: str) -> tuple[int, dict[str, Any]]:
        """Answer a GET of ``path`` (status and JSON body), counting it."""
        if self.delay:
            time.sleep(self.delay)
        parts = [part for part in urlsplit(path).path.split("/") if part]
        asked = parse_qs(urlsplit(path).query).get("appid")
        app_id = asked[0] if asked else None
        tenant_ok = bool(parts) and parts[0].lower() == self.tenant_id
        routes: dict[tuple[str, ...], tuple[str, Callable[[], dict[str, Any]]]] = {
            ("v2.0", ".well-known", "openid-configuration"): ("metadata", lambda: self.metadata("2.0", app_id)),
            (".well-known", "openid-configuration"): ("metadata", lambda: self.metadata("1.0", app_id)),
            ("discovery", "v2.0", "keys"): ("jwks", lambda: self.jwks(app_id)),
            ("discovery", "keys"): ("jwks", lambda: self.jwks(app_id)),
        }
        kind, build = routes.get(tuple(parts[1:]), ("other", dict)) if tenant_ok else ("other", dict)
        with self._lock:
            self.requests[kind] += 1
        if self.down:
            return 503, {"error": "temporarily_unavailable"}
        if kind == "other":
            return 404, {"error": "not_found"}
        return 200, build()

    def fetch_json(self, url: str, *, timeout: float) -> Any:
        """In-memory stand-in for the app's HTTP fetcher: routes ``url`` to :meth:`handle`."""
        if not url.startswith(self.authority + "/"):
            raise OSError(f"no route to {urlsplit(url).hostname}")
        status, document = self.handle(url[len(self.authority) :])
        if status != 200:
            raise OSError(f"HTTP {status}")
        return document

    # -- tokens ---------------------------------------------------------------------------------------------------

    def claims(
        self,
        roles: Sequence[str] = (),
        *,
        version: Version = "2.0",
        audience: str | None = None,
        kind: Kind = "user",
        expires_in: float = 3600,
        not_before: float = 0,
        issued_at: float = 0,
        scopes: Sequence[str] | None = None,
        extra_claims: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The claims :meth:`mint` signs (see there)."""
        now = int(self.clock())
        identity = _IDENTITIES[kind]
        v2 = version == "2.0"
        claims: dict[str, Any] = {
            "aud": audience or (self.client_id if v2 else self.app_id_uri),
            "iss": self.issuer_v2 if v2 else self.issuer_v1,
            "iat": now + int(issued_at),
            "nbf": now + int(not_before),
            "exp": now + int(expires_in),
            "oid": identity["oid"],
            "sub": identity["oid"],
            "tid": self.tenant_id,
            "uti": _b64url(uuid.uuid4().bytes)[:22],
            "ver": version,
        }
        if kind == "user":
            claims["name"] = identity["name"]
            claims["preferred_username" if v2 else "upn"] = identity["upn"]
            if not v2:
                claims["unique_name"] = identity["upn"]
            claims["azp" if v2 else "appid"] = AZURE_CLI_APP_ID
            claims["azpacr" if v2 else "appidacr"] = "0"
            claims["scp"] = " ".join(scopes if scopes is not None else ["user_impersonation"])
        else:
            claims["azp" if v2 else "appid"] = identity["appid"]
            claims["azpacr" if v2 else "appidacr"] = "2" if kind == "managed_identity" else "1"
            if kind == "managed_identity":
                claims["xms_mirid"] = identity["mirid"]
            if scopes:
                claims["scp"] = " ".join(scopes)
        if roles:
            claims["roles"] = list(roles)
        for name, value in (extra_claims or {}).items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return claims

    def mint(
        self,
        roles: Sequence[str] = (),
        *,
        version: Version = "2.0",
        audience: str | None = None,
        kind: Kind = "user",
        expires_in: float = 3600,
        not_before: float = 0,
        issued_at: float = 0,
        scopes: Sequence[str] | None = None,
        extra_claims: Mapping[str, Any] | None = None,
        kid: str | None = None,
        alg: str = "RS256",
        signing_key: rsa.RSAPrivateKey | None = None,
        extra_headers: Mapping[str, Any] | None = None,
    ) -> str:
        """A signed access token for this tenant.

        ``roles`` become the ``roles`` claim (none by default); ``audience`` defaults to the client id (v2) or the
        App ID URI (v1); ``expires_in``, ``not_before`` and ``issued_at`` are seconds relative to the clock;
        ``scopes`` are the delegated ``scp`` (users get ``user_impersonation`` by default); ``extra_claims``
        override claims (``None`` removes one). ``kid`` names the header key id (default the active key's) and
        ``signing_key`` signs instead of that key. ``alg`` may be any RSA algorithm PyJWT knows, ``"none"``
        (unsigned) or ``"HS256"`` (HMAC with the public key PEM as the secret: the key-confusion attack).
        ``extra_headers`` override header fields (``None`` removes one).
        """
        claims = self.claims(
            roles,
            version=version,
            audience=audience,
            kind=kind,
            expires_in=expires_in,
            not_before=not_before,
            issued_at=issued_at,
            scopes=scopes,
            extra_claims=extra_claims,
        )
        active = self.app_keys.get(self.client_id) if claims.get("aud") in (self.client_id, self.app_id_uri) else None
        active = active or self.active_key  # an app with its own key gets its tokens signed with it
        header: dict[str, Any] = {"typ": "JWT", "alg": alg, "kid": kid or active.kid, "x5t": kid or active.kid}
        for name, value in (extra_headers or {}).items():
            if value is None:
                header.pop(name, None)
            else:
                header[name] = value
        signing_input = f"{_b64json(header)}.{_b64json(claims)}"
        if alg == "none":
            return signing_input + "."
        if alg.startswith("HS"):
            digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
            mac = hmac.new(active.public_pem, signing_input.encode(), digest).digest()
            return f"{signing_input}.{_b64url(mac)}"
        algorithm = jwt.get_algorithm_by_name(alg)
        signature = algorithm.sign(signing_input.encode(), signing_key or active.private_key)
        return f"{signing_input}.{_b64url(signature)}"

    # -- HTTP server ----------------------------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve the tenant endpoints over HTTP in a background thread; returns the authority URL."""
        if self._server is not None:
            raise RuntimeError("the fake authority is already running")
        server = ThreadingHTTPServer((host, port), _handler_for(self))
        server.daemon_threads = True
        bound_host, bound_port = str(server.server_address[0]), server.server_address[1]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self._authority = f"http://{shown}:{bound_port}"
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fakeentra", daemon=True
        )
        self._thread.start()
        return self._authority

    def stop(self) -> None:
        """Stop the HTTP server (the authority URL stays, so minted tokens keep their issuer)."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeEntra:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _handler_for(fake: FakeEntra) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "fakeentra"
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            status, document = fake.handle(self.path)
            body = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "max-age=86400, private")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


def client_principal_header(
    claims: Mapping[str, Any],
    *,
    role_type: str = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
) -> str:
    """An ``X-MS-CLIENT-PRINCIPAL`` value as App Service Authentication builds it from token ``claims``.

    Claim names go through App Service's default mapping (``oid`` → the ``objectidentifier`` URI, ``roles`` → one
    claim of ``role_type`` per role, and so on).
    """
    mapping = {
        "oid": "http://schemas.microsoft.com/identity/claims/objectidentifier",
        "tid": "http://schemas.microsoft.com/identity/claims/tenantid",
        "scp": "http://schemas.microsoft.com/identity/claims/scope",
        "upn": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
        "unique_name": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
        "sub": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier",
    }
    entries: list[dict[str, str]] = []
    for name, value in claims.items():
        if name == "roles":
            entries.extend({"typ": role_type, "val": str(role)} for role in value)
        else:
            entries.append({"typ": mapping.get(name, name), "val": str(value)})
    document = {
        "auth_typ": "aad",
        "claims": entries,
        "name_typ": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
        "role_typ": role_type,
    }
    return base64.b64encode(json.dumps(document).encode()).decode("ascii")
