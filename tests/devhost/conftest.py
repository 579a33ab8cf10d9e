"""Shared helpers for the devhost tests: real HTTP against a running devhost."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tools.devhost import DevHost

APPS = Path(__file__).parent / "apps"


class Reply:
    """A buffered HTTP response."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


def request(method: str, url: str, body: bytes | str | None = None, headers: dict[str, str] | None = None) -> Reply:
    """One HTTP request over a fresh connection."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    data = body.encode() if isinstance(body, str) else body
    try:
        connection.request(method, target, body=data, headers=headers or {})
        response = connection.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def start(host_url: str, name: str, payload: Any = None, instance_id: str | None = None) -> Reply:
    """Start an orchestration through the sample app's HTTP starter (the SDK client)."""
    path = f"{host_url}/api/start/{name}" + (f"/{instance_id}" if instance_id else "")
    return request("POST", path, None if payload is None else json.dumps(payload))


def wait_for(status_url: str, timeout: float = 20.0, until: tuple[str, ...] = ()) -> dict[str, Any]:
    """Poll a status URL until the instance finishes (or reaches one of ``until``)."""
    deadline = time.monotonic() + timeout
    while True:
        reply = request("GET", status_url)
        body = reply.json() if reply.body else {}
        if reply.status in (200, 500) or (body and body.get("runtimeStatus") in until):
            return dict(body)
        if time.monotonic() > deadline:
            raise AssertionError(f"instance did not finish in {timeout}s: {body}")
        time.sleep(0.02)


def run(host_url: str, name: str, payload: Any = None, instance_id: str | None = None) -> dict[str, Any]:
    """Start an orchestration and wait for its final status."""
    reply = start(host_url, name, payload, instance_id)
    assert reply.status == 202, reply.body
    return wait_for(reply.json()["statusQueryGetUri"])


@pytest.fixture(scope="module")
def durable_host() -> Iterator[DevHost]:
    """The Durable sample app on an in-memory task hub."""
    with DevHost(APPS / "durable", memory=True, port=0, settings={"DEVHOST_TEST_HUB": "DurableTests"}) as host:
        yield host


def wait_until(condition: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll until ``condition()`` holds (a state the test can observe, not a guess at timing)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout}s")
        time.sleep(0.01)


def start_orchestration(host_url: str, name: str, payload: Any = None) -> str:
    """Start an orchestration through the management API; returns its status URL."""
    reply = request("POST", f"{host_url}/runtime/webhooks/durabletask/orchestrators/{name}", json.dumps(payload))
    assert reply.status == 202, reply.body
    return str(reply.json()["statusQueryGetUri"])


def history(host: DevHost, instance_id: str) -> list[dict[str, Any]]:
    """The stored history events of an instance's current execution."""
    return [json.loads(text) for text in host.store.history(instance_id)]
