"""HTTP triggers over real HTTP: routes, methods, headers, query, bodies, errors, sync and async."""

import asyncio
import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tools.devhost import DevHost

from .conftest import APPS, request


@pytest.fixture(scope="module")
def web() -> Iterator[str]:
    with DevHost(APPS / "web", memory=True, port=0) as host:
        yield host.base_url


def test_int_route_and_non_int_is_404(web: str) -> None:
    reply = request("GET", f"{web}/api/items/42")
    assert reply.status == 200
    assert reply.json() == {"kind": "int", "n": "42"}
    assert request("GET", f"{web}/api/items/forty-two").status == 404


def test_named_parameter_and_methods(web: str) -> None:
    assert request("GET", f"{web}/api/things/abc").json() == {"id": "abc", "method": "GET"}
    assert request("PUT", f"{web}/api/things/abc").json() == {"id": "abc", "method": "PUT"}
    # Like the Functions host: a route that exists only for other methods is "not found".
    assert request("DELETE", f"{web}/api/things/abc").status == 404
    assert request("GET", f"{web}/API/Things/x").status == 200


def test_catch_all(web: str) -> None:
    assert request("GET", f"{web}/api/files/a/b/c.txt").body == b"a/b/c.txt"
    assert request("GET", f"{web}/api/files").body == b""


def test_unknown_routes_are_404(web: str) -> None:
    assert request("GET", f"{web}/api/nope").status == 404
    assert request("GET", f"{web}/items/42").status == 404


def test_binary_body_headers_and_query_round_trip(web: str) -> None:
    payload = bytes(range(256)) * 64 + os.urandom(1024)
    reply = request("POST", f"{web}/api/echo?q=hello%20world", payload, {"X-Custom": "value-1"})
    assert reply.status == 201
    assert reply.body == payload
    assert reply.headers["x-echo-header"] == "value-1"
    assert reply.headers["x-query"] == "hello world"
    assert reply.headers["content-type"] == "application/octet-stream"


def test_request_object_and_context(web: str) -> None:
    reply = request("GET", f"{web}/api/inspect?a=1&b=two&a=3", headers={"X-One": "1"})
    body = reply.json()
    assert reply.headers["content-type"] == "application/json"
    assert body["params"] == {"a": "1,3", "b": "two"}
    # the front end appends the peer it accepted the connection from, as App Service's does
    assert body["headers"] == {"x-one": "1", "x-forwarded-for": "127.0.0.1"}
    assert body["url"].startswith(web)
    assert body["url"].endswith("/api/inspect?a=1&b=two&a=3")
    assert body["function"] == "inspect"
    assert len(body["invocation_id"]) == 36


def test_string_return_value_and_status_codes(web: str) -> None:
    reply = request("GET", f"{web}/api/text")
    assert (reply.status, reply.body) == (200, b"plain text")
    assert reply.headers["content-type"].startswith("text/plain")
    reply = request("GET", f"{web}/api/status/418")
    assert reply.status == 418
    assert reply.headers["set-cookie"] == "a=1"


@pytest.mark.parametrize("route", ["boom", "aboom"])
def test_exceptions_become_500_without_details(web: str, route: str, caplog: pytest.LogCaptureFixture) -> None:
    reply = request("GET", f"{web}/api/{route}")
    assert reply.status == 500
    assert b"DETAIL" not in reply.body
    assert b"Traceback" not in reply.body
    assert "DETAIL" in caplog.text


def test_sync_functions_do_not_block_the_loop(web: str) -> None:
    results: list[float] = []

    def slow() -> None:
        started = time.perf_counter()
        assert request("GET", f"{web}/api/slow").body == b"slow done"
        results.append(time.perf_counter() - started)

    threads = [threading.Thread(target=slow) for _ in range(4)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    quick = request("GET", f"{web}/api/text")
    quick_elapsed = time.perf_counter() - started
    for thread in threads:
        thread.join()
    assert quick.status == 200
    assert quick_elapsed < min(results)  # answered while the slow calls were still running
    assert len(results) == 4
    assert max(results) < 1.5  # four 0.5 s calls ran concurrently (serially they would take 2 s)


def test_one_log_line_per_invocation(web: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="devhost")
    request("GET", f"{web}/api/things/z")
    lines = [r.getMessage() for r in caplog.records if r.name == "devhost"]
    assert len([line for line in lines if "Functions.thing" in line]) == 1
    assert "Succeeded" in lines[-1]
    assert "Duration=" in lines[-1]


def test_connections_are_served_with_nagle_off() -> None:
    """The listening socket says TCP, so asyncio turns Nagle off on each connection (a keep-alive response's body
    would otherwise wait behind its headers for the client's delayed ACK)."""
    host = DevHost(APPS / "web", memory=True, port=0)
    listening = host.bind()

    async def accepted_nodelay() -> int:
        answer: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def on_connection(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            answer.set_result(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(on_connection, sock=listening)
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", host.port)
            value = await asyncio.wait_for(answer, 10)
            writer.close()
            return value
        finally:
            server.close()

    try:
        assert asyncio.run(accepted_nodelay()) != 0
    finally:
        listening.close()
