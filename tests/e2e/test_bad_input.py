"""Bad input never gets a 5xx: a corpus of hostile or malformed requests against every route, over raw HTTP.

Each case is sent byte for byte (``http.client``, so paths, headers and bodies are exactly what the case says) to
the app on the devhost. Every answer must be below 500; API answers (not the docs' static assets) must be problem
documents with the security headers. The corpus grows whenever a case is found that was not in it.
"""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from tests.unit.test_vm_request import LINUX
from tools.stack import Stack


@dataclass(frozen=True)
class Case:
    """One request: method, raw path (already encoded as it goes on the wire), body bytes and headers."""

    name: str
    method: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def _b64(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


LIMITS = ["", "0", "-1", "501", "abc", "²", "١٢", "1e3", " 5", "5 ", "0x10", "9" * 50, "%00", "5.0", "+5", "٣"]
TOKENS = [
    "junk",
    "%%%",
    _b64([]),
    _b64(1),
    _b64(None),
    _b64("text"),
    _b64({"v": 1, "t": []}),
    _b64({"v": 2, "t": {}}),
    _b64({"v": 1, "t": {"a": 1}}),
    _b64({"v": 1, "t": {"NextPartitionKey": {"x": "y"}}}),
    "A" * 10_000,
    quote("ü€"),
    _b64([1, 2, 3]),
]
PREFIXES = [quote("\U0010ffff"), "%00", "a" * 300, "%25", "'", "a%20b", quote("\ud7ff"), "%C0%AF", "..", "*"]


def _query_cases() -> Iterator[Case]:
    for route in ("/api/v1/vms", "/api/v1/jobs", "/api/v1/hosts", "/api/v1/audit", "/api/v1/hosts/hv01/vms"):
        for value in LIMITS:
            yield Case(f"limit={value!r} on {route}", "GET", f"{route}?limit={quote(value)}")
        for token in TOKENS:
            yield Case(f"continuation {token[:20]!r} on {route}", "GET", f"{route}?continuation={quote(token)}")
    for prefix in PREFIXES:
        yield Case(f"name_prefix={prefix[:20]!r}", "GET", f"/api/v1/vms?name_prefix={prefix}")
    for state in ("", "running", "Ru%00n", "Off%0A"):
        yield Case(f"state={state!r}", "GET", f"/api/v1/vms?state={state}")
    for stale in ("yes", "TRUE%00", "2"):
        yield Case(f"stale={stale!r}", "GET", f"/api/v1/vms?stale={stale}")
    for status in ("Lost", "pending", "%00", "a" * 500):
        yield Case(f"job status={status[:20]!r}", "GET", f"/api/v1/jobs?status={status}")
    yield Case("host filter with odd characters", "GET", "/api/v1/vms?host=" + quote("hv/01#?\\"))
    yield Case("repeated parameters", "GET", "/api/v1/vms?limit=5&limit=6&limit=x")


def _path_cases() -> Iterator[Case]:
    for value in ("%00", "a" * 3000, quote("ü"), "..%2F..%2Fetc", "%2e%2e", quote("\U0010ffff"), "%FF%FE", "x%0Ay"):
        yield Case(f"VM id {value[:20]!r}", "GET", f"/api/v1/vms/{value}")
        yield Case(f"job id {value[:20]!r}", "GET", f"/api/v1/jobs/{value}")
        yield Case(f"host {value[:20]!r}", "GET", f"/api/v1/hosts/{value}")
        yield Case(f"host images {value[:20]!r}", "GET", f"/api/v1/hosts/{value}/images")
        yield Case(f"delete VM {value[:20]!r}", "DELETE", f"/api/v1/vms/{value}")
        yield Case(f"cancel {value[:20]!r}", "POST", f"/api/v1/jobs/{value}/cancel")
    for static in (
        "/api/docs/assets/a%00b",
        "/api/docs/assets/..%2F..%2Fsettings",
        "/api/docs/assets/" + quote("ü") + ".js",
        "/ui/000000000000/index.html%00.js",
        "/ui/000000000000/..%2F..%2Fapi%2Fhttp.py",
        "/ui/000000000000/" + "a" * 2000,
        "/ui/%00/app.js",
        "/vms/%00",
        "/jobs/" + quote("\U0010ffff"),
        "/%00",
    ):
        yield Case(f"static {static[:40]!r}", "GET", static)
    for method in ("PUT", "PATCH", "OPTIONS"):
        yield Case(f"{method} on /api/v1/vms", method, "/api/v1/vms", b"{}", {"Content-Type": "application/json"})
    yield Case("POST to an unknown API path", "POST", "/api/v1/nothing/here", b"{}")


def _body(payload: Any) -> bytes:
    return payload if isinstance(payload, bytes) else _json(payload)


def _create_cases() -> Iterator[Case]:
    bodies: list[tuple[str, Any]] = [
        ("not JSON", b"{not json"),
        ("JSON array", []),
        ("JSON number", 42),
        ("JSON string", "vm"),
        ("JSON null", None),
        ("nested 20000 deep", _deep(20_000)),
        ("nested 50000 deep", _deep(50_000)),
        ("nested 100 deep in a field", {**LINUX, "extra": json.loads(_deep(100))}),
        ("invalid UTF-8", b'{"name": "\xff\xfe"}'),
        ("lone surrogate in the password", {**LINUX, "guest": {**LINUX["guest"], "admin_password": "abc\ud800defgh"}}),
        ("lone surrogate in the user", {**LINUX, "guest": {**LINUX["guest"], "admin_username": "a\udfffb"}}),
        ("lone surrogate in the name", {**LINUX, "name": "a\ud800"}),
        ("unknown top-level field", {**LINUX, "nope": 1}),
        ("name as a number", {**LINUX, "name": 5}),
        ("name with a newline", {**LINUX, "name": "web01\n"}),
        ("cpu as a string", {**LINUX, "cpu_cores": "2"}),
        ("cpu as a bool", {**LINUX, "cpu_cores": True}),
        ("cpu huge", {**LINUX, "cpu_cores": 10**30}),
        ("memory NaN-like", {**LINUX, "memory_gb": "NaN"}),
        ("memory infinite", b'{"name": "x1", "memory_gb": Infinity}'),
        ("disk negative", {**LINUX, "disk_gb": -5}),
        ("guest as a list", {**LINUX, "guest": []}),
        ("ipv4 as a string", {**LINUX, "guest": {**LINUX["guest"], "ipv4": "10.0.0.5"}}),
        ("vlan without network", {**LINUX, "network": None, "vlan_id": 5}),
        ("emoji in the name", {**LINUX, "name": "web\U0001f600"}),
        ("NUL in the image", {**LINUX, "image": "Ubuntu\x00"}),
        ("3 MB of padding", {**LINUX, "padding": "x" * 3_000_000}),
        ("empty object", {}),
        ("every field null", dict.fromkeys(LINUX)),
    ]
    for name, payload in bodies:
        yield Case(f"create: {name}", "POST", "/api/v1/vms", _body(payload), {"Content-Type": "application/json"})
    yield Case("create: XML", "POST", "/api/v1/vms", b"<vm/>", {"Content-Type": "application/xml"})
    yield Case("create: no body", "POST", "/api/v1/vms")
    for key in ("k" * 4000, "with space", "ü-key", "", "tab\tkey", "x" * 201):
        headers = {"Content-Type": "application/json", "Idempotency-Key": key}
        yield Case(f"Idempotency-Key {key[:15]!r}", "POST", "/api/v1/vms", _json(LINUX), headers)


def _power_cases(vm_id: str) -> Iterator[Case]:
    for action in ("start", "stop", "shutdown", "restart", "explode", "%00", quote("ü")):
        for name, payload in (
            ("unknown field", {"nope": 1}),
            ("array", [1]),
            ("number", 7),
            ("timeout as text", {"timeout_seconds": "60"}),
            ("timeout huge", {"timeout_seconds": 10**20}),
            ("force as text", {"force": "yes"}),
            ("not JSON", b"{"),
            ("deep", _deep(30_000)),
        ):
            yield Case(
                f"power {action}: {name}",
                "POST",
                f"/api/v1/vms/{vm_id}/{action}",
                _body(payload),
                {"Content-Type": "application/json"},
            )


def _send(stack: Stack, case: Case) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(stack.base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.putrequest(case.method, case.path, skip_accept_encoding=True)
        headers = {"Content-Length": str(len(case.body)), **case.headers}
        for name, value in headers.items():
            connection.putheader(name, value.encode("utf-8"))
        connection.endheaders(case.body)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def corpus(vm_id: str) -> list[Case]:
    return [*_query_cases(), *_path_cases(), *_create_cases(), *_power_cases(vm_id)]


def test_no_bad_input_gets_a_5xx(synced: Stack) -> None:
    stack = synced
    vm_id = next(iter(stack.repo.iter_vms(host="hv01"))).id
    cases = corpus(vm_id)
    assert len(cases) >= 250
    failures: list[str] = []
    for case in cases:
        status, headers, body = _send(stack, case)
        if status >= 500:
            failures.append(f"{case.name}: {status} {body[:200]!r}")
            continue
        if case.path.startswith("/api/") and not case.path.startswith("/api/docs") and status >= 400:
            if not headers.get("content-type", "").startswith("application/problem+json"):
                failures.append(f"{case.name}: {status} without a problem document")
            elif headers.get("x-content-type-options") != "nosniff":
                failures.append(f"{case.name}: {status} without the security headers")
    assert failures == [], "\n".join(failures)
    assert not any(case.name.startswith("create:") and "abc\ud800" in case.name for case in cases)


@pytest.mark.parametrize("path", ["/api/healthz", "/api/readyz"])
def test_health_routes_carry_the_security_headers(synced: Stack, path: str) -> None:
    status, headers, _ = _send(synced, Case(path, "GET", path))
    assert status == 200
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"].startswith("default-src 'none'")


def test_hosts_are_paged_like_vms(synced: Stack) -> None:
    status, _, first = synced.request("GET", "/api/v1/hosts?limit=2")
    assert status == 200
    assert len(first["items"]) == 2
    assert first["continuation"]
    _, _, rest = synced.request("GET", f"/api/v1/hosts?limit=2&continuation={quote(first['continuation'])}")
    names = [h["name"] for h in first["items"] + rest["items"]]
    assert names == sorted(names)
    assert set(names) == {h.name for h in synced.lab.hosts}
