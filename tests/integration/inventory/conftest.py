"""Fixtures for inventory tests: a fresh set of tables on the session's Azurite and a request counter."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from azure.core.pipeline.transport import HttpRequest, HttpResponse, RequestsTransport
from azure.data.tables import TableServiceClient

from functions.inventory.repository import InventoryRepository
from tools.azurite import Azurite


class RequestCounter(RequestsTransport):
    """The SDK's HTTP transport, counting requests by method as they go on the wire."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter[str] = Counter()

    def send(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:  # type: ignore[override]
        self.counts[request.method] += 1
        return super().send(request, **kwargs)

    @property
    def writes(self) -> int:
        return sum(n for method, n in self.counts.items() if method != "GET")

    def reset(self) -> None:
        self.counts.clear()


@pytest.fixture
def counter() -> RequestCounter:
    return RequestCounter()


@pytest.fixture
def make_repo(azurite: Azurite, counter: RequestCounter) -> Callable[..., InventoryRepository]:
    prefix = "t" + uuid.uuid4().hex[:10]

    def make(**kwargs: Any) -> InventoryRepository:
        service = TableServiceClient.from_connection_string(azurite.connection_string, transport=counter)
        repo = InventoryRepository(service, prefix, **kwargs)
        repo.ensure_tables()
        return repo

    return make


@pytest.fixture
def repo(make_repo: Callable[..., InventoryRepository]) -> InventoryRepository:
    return make_repo()
