"""The management HTTP API as the SDK and other callers use it (both base paths)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from tools.devhost import DevHost

from .conftest import APPS, request, wait_for

BASES = ["/durabletask/", "/runtime/webhooks/durabletask/"]


@pytest.fixture(scope="module")
def host() -> Iterator[DevHost]:
    with DevHost(APPS / "durable", memory=True, port=0, settings={"DEVHOST_TEST_HUB": "ManagementTests"}) as running:
        yield running


@pytest.mark.parametrize("base", BASES)
def test_start_with_double_encoded_body_and_status(host: DevHost, base: str) -> None:
    url = f"{host.base_url}{base}orchestrators/chain?connectionName=Storage&taskHub=SampleHub"
    reply = request("POST", url, json.dumps(json.dumps(["Twice"])))  # what the SDK's start_new sends
    assert reply.status == 202
    body = reply.json()
    final = wait_for(f"{host.base_url}{base}instances/{body['id']}?connection=Storage")
    assert final["output"] == ["Hello Twice!"]
    assert final["input"] == ["Twice"]
    assert final["createdTime"].endswith("Z")
    assert len(final["createdTime"]) == 20
    no_input = request("GET", f"{host.base_url}{base}instances/{body['id']}?showInput=false").json()
    assert no_input["input"] is None
    plain = request("POST", f"{host.base_url}{base}orchestrators/chain", json.dumps(["Plain"]))
    assert wait_for(plain.json()["statusQueryGetUri"])["output"] == ["Hello Plain!"]


@pytest.mark.parametrize("bad_id", ["@entity", "a/b", "a\\b", "a#b", "a?b", "tab\there", "x" * 257])
def test_invalid_instance_ids_are_400(host: DevHost, bad_id: str) -> None:
    url = f"{host.base_url}/durabletask/orchestrators/chain/{quote(bad_id, safe='')}"
    reply = request("POST", url)
    assert reply.status == 400
    assert "ExceptionMessage" in reply.json()


def test_unknown_orchestrator_is_400_and_unknown_instance_404(host: DevHost) -> None:
    reply = request("POST", f"{host.base_url}/durabletask/orchestrators/no_such_orchestrator")
    assert reply.status == 400
    assert "no_such_orchestrator" in reply.json()["ExceptionMessage"]
    assert request("GET", f"{host.base_url}/durabletask/instances/missing").status == 404
    assert request("POST", f"{host.base_url}/durabletask/instances/missing/terminate").status == 404
    assert request("POST", f"{host.base_url}/durabletask/instances/missing/raiseEvent/x", "1").status == 404


def test_raise_event_rejects_non_json(host: DevHost) -> None:
    reply = request("POST", f"{host.base_url}/durabletask/orchestrators/waiter/nonjson")
    assert reply.status == 202
    bad = request("POST", f"{host.base_url}/durabletask/instances/nonjson/raiseEvent/first", "not json")
    assert bad.status == 400
    ok = request("POST", f"{host.base_url}/durabletask/instances/nonjson/raiseEvent/first", '"3"')
    assert ok.status == 202
    assert wait_for(f"{host.base_url}/durabletask/instances/nonjson")["output"] == "Hello 3!"


def test_list_paging_beyond_100_with_continuation_header(host: DevHost) -> None:
    ids = [f"page-{n:03d}" for n in range(130)]
    for instance_id in ids:
        assert request("POST", f"{host.base_url}/durabletask/orchestrators/quick/{instance_id}", '"p"').status == 202
    for instance_id in ids:
        wait_for(f"{host.base_url}/durabletask/instances/{instance_id}")
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        headers = {"x-ms-continuation-token": token} if token else {}
        reply = request("GET", f"{host.base_url}/durabletask/instances/?instanceIdPrefix=page-", headers=headers)
        assert reply.status == 200
        page = reply.json()
        pages += 1
        assert len(page) <= 100
        seen.extend(item["instanceId"] for item in page)
        token = reply.headers.get("x-ms-continuation-token")
        if not token:
            break
    assert pages == 2
    assert sorted(seen) == ids
    # The SDK's get_status_by (one request, no paging) sees the first page.
    sdk = request("POST", f"{host.base_url}/api/manage/query/page-")
    assert len(sdk.json()) == 100
    top = request("GET", f"{host.base_url}/durabletask/instances/?instanceIdPrefix=page-&top=7")
    assert len(top.json()) == 7
    assert top.headers["x-ms-continuation-token"]


def test_list_filters_and_purge_many(host: DevHost) -> None:
    before = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
    for n in range(3):
        request("POST", f"{host.base_url}/durabletask/orchestrators/waiter/filter-{n}")
    reply = request(
        "GET",
        f"{host.base_url}/durabletask/instances/?createdTimeFrom={before}&runtimeStatus=Running,Pending"
        "&instanceIdPrefix=filter-",
    )
    assert sorted(item["instanceId"] for item in reply.json()) == ["filter-0", "filter-1", "filter-2"]
    future = "2999-01-01T00:00:00.000000Z"
    assert request("GET", f"{host.base_url}/durabletask/instances/?createdTimeFrom={future}").json() == []
    assert request("DELETE", f"{host.base_url}/durabletask/instances/").status == 400
    purge = request(
        "DELETE",
        f"{host.base_url}/durabletask/instances/?createdTimeFrom={before}&runtimeStatus=Running,Pending",
    )
    assert purge.status == 200
    assert purge.json()["instancesDeleted"] >= 3
    assert request("GET", f"{host.base_url}/durabletask/instances/filter-1").status == 404
    again = request("DELETE", f"{host.base_url}/durabletask/instances/?createdTimeFrom={future}")
    assert again.status == 404


def test_entities_over_http(host: DevHost) -> None:
    base = f"{host.base_url}/runtime/webhooks/durabletask/entities/Counter"
    assert request("GET", f"{base}/http-key").status == 404
    assert request("POST", f"{base}/http-key?op=add", "5").status == 202
    assert request("POST", f"{base}/http-key?op=add", json.dumps("2")).status == 202
    deadline = time.monotonic() + 5
    while request("GET", f"{base}/http-key").body != b"7" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert request("GET", f"{base}/http-key").json() == 7
    listing = request("GET", f"{base}?fetchState=true").json()
    assert {"entityId": {"name": "counter", "key": "http-key"}, "state": 7}.items() <= next(
        item for item in listing if item["entityId"]["key"] == "http-key"
    ).items()
    assert request("DELETE", f"{base}/http-key").status == 202
    deadline = time.monotonic() + 5
    while request("GET", f"{base}/http-key").status != 404 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert request("GET", f"{base}/http-key").status == 404


def test_restart_and_rewind(host: DevHost) -> None:
    reply = request("POST", f"{host.base_url}/durabletask/orchestrators/chain/restart-me", '["R"]')
    wait_for(reply.json()["statusQueryGetUri"])
    restarted = request("POST", f"{host.base_url}/durabletask/instances/restart-me/restart")
    assert restarted.status == 202
    assert restarted.json()["id"] != "restart-me"
    assert wait_for(restarted.json()["statusQueryGetUri"])["output"] == ["Hello R!"]
    assert request("POST", f"{host.base_url}/durabletask/instances/restart-me/rewind?reason=x").status == 410
