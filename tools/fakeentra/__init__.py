"""A local stand-in for a Microsoft Entra ID tenant, for tests and local runs (never deployed).

It publishes the tenant's OpenID metadata and signing keys at the paths Entra uses
(``/{tenant}/v2.0/.well-known/openid-configuration``, ``/{tenant}/discovery/v2.0/keys``, and the v1 equivalents),
mints v1 and v2 access tokens for users, service principals and managed identities — including deliberately bad
ones (expired, wrong audience, ``alg: none``, HS256 with the public key, unknown or wrong keys) — rotates keys,
can be switched "down", and counts requests so tests can assert the app's key caching and rate limiting.

In tests::

    fake = FakeEntra()                       # in memory: pass fake.fetch_json as the app's metadata fetcher
    with FakeEntra() as fake:                # or over HTTP on 127.0.0.1, a random port
        token = fake.mint(["Aether.Operator"], kind="managed_identity", version="1.0")

For local runs: ``python -m tools.fakeentra --port 8079`` serves a tenant and prints the app settings and
ready-to-use tokens for each role.
"""

from __future__ import annotations

from tools.fakeentra.authority import (
    AZURE_CLI_APP_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_TENANT_ID,
    FakeEntra,
    FakeKey,
    Kind,
    client_principal_header,
)

__all__ = [
    "AZURE_CLI_APP_ID",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_TENANT_ID",
    "FakeEntra",
    "FakeKey",
    "Kind",
    "client_principal_header",
]
