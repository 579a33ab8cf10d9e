"""Fixtures: a certificate authority and simulated hosts on loopback, and client options pointing at them."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from functions.hyperv.transport import ConnectionOptions
from functions.settings import Secret
from tools.hvsim.protocol.server import WinRMHostServer
from tools.hvsim.protocol.tls import CertificateAuthority

USERNAME = "LAB\\aether"
PASSWORD = "S3cret:pässw0rd!"


@pytest.fixture(autouse=True)
def _collect_garbage() -> Iterator[None]:
    # Collect after each test so an unclosed socket is reported against the test that leaked it.
    yield
    gc.collect()


@pytest.fixture(scope="session")
def ca() -> CertificateAuthority:
    return CertificateAuthority()


@pytest.fixture
def make_host(ca: CertificateAuthority) -> Iterator[Any]:
    started: list[WinRMHostServer] = []

    def make(name: str = "hv01", **kwargs: Any) -> WinRMHostServer:
        kwargs.setdefault("http", True)
        server = WinRMHostServer(name, object(), USERNAME, PASSWORD, ca, **kwargs)
        started.append(server.start())
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def host(make_host: Any) -> WinRMHostServer:
    return make_host()


@pytest.fixture
def options(ca: CertificateAuthority) -> Any:
    """``options(server, http=False, password=..., **ConnectionOptions fields)`` for the client."""

    def build(server: WinRMHostServer, **kwargs: Any) -> ConnectionOptions:
        return _options_for(server, ca, **kwargs)

    return build


def _options_for(
    server: WinRMHostServer,
    ca: CertificateAuthority,
    *,
    http: bool = False,
    password: str = PASSWORD,
    **kwargs: Any,
) -> ConnectionOptions:
    endpoint = server.http_endpoint if http else server.endpoint
    assert endpoint is not None
    kwargs.setdefault("connect_timeout", 2.0)
    kwargs.setdefault("operation_timeout", 5.0)
    kwargs.setdefault("read_timeout", 10.0)
    return ConnectionOptions(
        host=server.name,
        endpoint=endpoint,
        username=USERNAME,
        password=Secret(password),
        ca_trust_path=str(ca.ca_pem_path),
        **kwargs,
    )
