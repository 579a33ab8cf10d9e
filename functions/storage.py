"""Table Storage access: one cached ``TableServiceClient`` per process, the same code path for Azurite and Azure.

Azurite (and any key-based account) is reached with the ``AzureWebJobsStorage`` connection string; Azure with the
account's table endpoint and a managed identity (``DefaultAzureCredential``, or ``ManagedIdentityCredential`` for a
user-assigned identity). The composition root builds the one client of the process with
:func:`build_table_service` (no network I/O until the first request); tests build their own. Listings hand out the
SDK's continuation tokens wrapped as opaque strings (:func:`encode_continuation`), and only such strings are
accepted back. Each store reaches its tables through :class:`Tables`: created on first use, one client per table.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
from collections.abc import Mapping
from typing import Any

import requests
from azure.core.credentials import TokenCredential
from azure.core.exceptions import ResourceExistsError
from azure.core.pipeline.transport import RequestsTransport
from azure.data.tables import TableClient, TableServiceClient
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from functions.errors import InvalidQuery
from functions.models.problems import Problem
from functions.settings import StorageSettings

__all__ = [
    "AZURITE_CONNECTION_STRING",
    "TABLE_CONNECTIONS",
    "Tables",
    "build_table_service",
    "connection_string",
    "decode_continuation",
    "encode_continuation",
    "managed_identity",
]

_MAX_TOKEN = 4096
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_-]*")

# The emulator's well-known development account (documented by Azurite; not a secret).
AZURITE_CONNECTION_STRING = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
    "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"
)


def connection_string(storage: StorageSettings) -> str | None:
    """The effective connection string (``UseDevelopmentStorage=true`` expanded), or ``None`` for identity access."""
    if storage.connection_string is None:
        return None
    value = storage.connection_string.reveal()
    return AZURITE_CONNECTION_STRING if value == "UseDevelopmentStorage=true" else value


def managed_identity(client_id: str | None) -> TokenCredential:
    """The app's managed identity: the user-assigned one of ``client_id``, else ``DefaultAzureCredential``'s."""
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    if client_id:
        return ManagedIdentityCredential(client_id=client_id)
    return DefaultAzureCredential()


TABLE_CONNECTIONS = 256
"""Idle connections the process keeps to the table endpoint: one per thread that may use it at once (the inventory
sync's hosts, ``AETHERV_INVENTORY_HOSTS_PER_ACTIVITY`` per running activity, and the worker's other threads). The
requests default of 10 made every request beyond the tenth open a connection and throw it away afterwards."""


def table_transport(connections: int = TABLE_CONNECTIONS) -> RequestsTransport:
    """The HTTP transport of the table client: the SDK's own, with a pool of ``connections`` kept-alive connections.

    Like the SDK's default session it follows the environment's proxy settings and leaves retries to the SDK's
    retry policy (urllib3 retries nothing).
    """
    session = requests.Session()
    adapter = HTTPAdapter(
        pool_maxsize=connections, max_retries=Retry(total=False, redirect=False, raise_on_status=False)
    )
    for prefix in ("http://", "https://"):
        session.mount(prefix, adapter)
    return RequestsTransport(session=session, session_owner=True, connection_timeout=5, read_timeout=20)


def build_table_service(storage: StorageSettings) -> TableServiceClient:
    """The table service client for ``storage``: a connection string (Azurite, keys) or endpoint + managed identity."""
    conn = connection_string(storage)
    if conn is not None:
        return TableServiceClient.from_connection_string(conn, transport=table_transport())
    if storage.table_endpoint is None:  # pragma: no cover - settings validation forbids it
        raise RuntimeError("no storage connection configured")
    return TableServiceClient(
        storage.table_endpoint,
        credential=managed_identity(storage.managed_identity_client_id),
        transport=table_transport(),
    )


def encode_continuation(token: Mapping[str, Any]) -> str:
    """An opaque, URL-safe continuation token for the Table SDK's own token (a dict of strings)."""
    raw = json.dumps({"v": 1, "t": dict(token)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continuation(token: str) -> dict[str, str]:
    """The SDK token inside a continuation token this app issued; :class:`InvalidQuery` for anything else."""
    problem = Problem("continuation", "is not a token this API issued")
    invalid = InvalidQuery("continuation token is not valid", [problem])
    if len(token) > _MAX_TOKEN or not _TOKEN_CHARS.fullmatch(token):
        raise invalid
    try:
        document = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise invalid from None
    inner = document.get("t") if isinstance(document, dict) and document.get("v") == 1 else None
    if not isinstance(inner, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in inner.items()):
        raise invalid
    return inner


class Tables:
    """A store's tables: every one created on its first use (one that exists is fine), one client kept per table.

    A client costs more to make than a point read to send, so it is made once. Two threads racing here at most
    create a table twice (the second gets ``ResourceExistsError``, ignored) or make a client twice (one is kept).
    """

    def __init__(self, service: TableServiceClient, *names: str) -> None:
        self.service = service
        self.names = names
        self._ready = False
        self._clients: dict[str, TableClient] = {}

    def ensure(self) -> None:
        """Create every table of the store that does not exist yet."""
        for name in self.names:
            with contextlib.suppress(ResourceExistsError):
                self.service.create_table(name)
        self._ready = True

    def client(self, name: str | None = None) -> TableClient:
        """The client of table ``name`` (default: the store's first), the store's tables created first if need be."""
        name = name or self.names[0]
        client = self._clients.get(name)
        if client is None:
            if not self._ready:
                self.ensure()
            client = self._clients.setdefault(name, self.service.get_table_client(name))
        return client
