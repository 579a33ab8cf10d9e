"""Table Storage access: one cached ``TableServiceClient`` per process, the same code path for Azurite and Azure.

Azurite (and any key-based account) is reached with the ``AzureWebJobsStorage`` connection string; Azure with the
account's table endpoint and a managed identity (``DefaultAzureCredential``, or ``ManagedIdentityCredential`` for a
user-assigned identity). Nothing is created at import time; tests inject a client with :func:`set_table_service`.
"""

from __future__ import annotations

import threading

from azure.core.credentials import TokenCredential
from azure.data.tables import TableServiceClient

from functions.settings import StorageSettings, get_settings

__all__ = ["AZURITE_CONNECTION_STRING", "connection_string", "set_table_service", "table_service"]

# The emulator's well-known development account (documented by Azurite; not a secret).
AZURITE_CONNECTION_STRING = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
    "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"
)


class _Holder:
    """The cached client, guarded by a lock."""

    lock = threading.Lock()
    client: TableServiceClient | None = None


def connection_string(storage: StorageSettings) -> str | None:
    """The effective connection string (``UseDevelopmentStorage=true`` expanded), or ``None`` for identity access."""
    if storage.connection_string is None:
        return None
    value = storage.connection_string.reveal()
    return AZURITE_CONNECTION_STRING if value == "UseDevelopmentStorage=true" else value


def _credential(client_id: str | None) -> TokenCredential:
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    if client_id:
        return ManagedIdentityCredential(client_id=client_id)
    return DefaultAzureCredential()


def _build(storage: StorageSettings) -> TableServiceClient:
    conn = connection_string(storage)
    if conn is not None:
        return TableServiceClient.from_connection_string(conn, connection_timeout=5, read_timeout=20)
    if storage.table_endpoint is None:  # pragma: no cover - settings validation forbids it
        raise RuntimeError("no storage connection configured")
    return TableServiceClient(
        storage.table_endpoint,
        credential=_credential(storage.managed_identity_client_id),
        connection_timeout=5,
        read_timeout=20,
    )


def table_service() -> TableServiceClient:
    """The process-wide table service client, created on first use from settings."""
    with _Holder.lock:
        if _Holder.client is None:
            _Holder.client = _build(get_settings().storage)
        return _Holder.client


def set_table_service(client: TableServiceClient | None) -> None:
    """Inject a client (tests) or clear the cached one so the next call rebuilds it from settings."""
    with _Holder.lock:
        _Holder.client = client
