"""The control plane: faults, counters, operations and reset over HTTP, and routes added by others."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from functions.hyperv import errors
from functions.hyperv.runner import PowerShellRunner
from functions.hyperv.transport import WinRMTransport
from tools.hvsim.protocol.control import ControlError, ControlPlane, ControlRequest, ControlResponse
from tools.hvsim.protocol.server import WinRMHostServer


@pytest.fixture
def control(host: WinRMHostServer) -> Iterator[ControlPlane]:
    plane = ControlPlane()
    plane.add_host(host)
    with plane:
        yield plane


def call(plane: ControlPlane, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(plane.url + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read() or b"null")


def test_faults_counters_operations_and_reset(host: WinRMHostServer, control: ControlPlane, options: Any) -> None:
    status, faults = call(
        control,
        "PATCH",
        "/hvsim/hosts/hv01/faults",
        {"script_errors": {"ping": {"category": "VmNotFound", "message": "gone"}}, "latency_ms": 5},
    )
    assert status == 200
    assert faults["script_errors"] == {"ping": {"category": "VmNotFound", "message": "gone"}}
    assert faults["latency_ms"] == 5
    with WinRMTransport(options(host)) as transport, pytest.raises(errors.VmNotFound, match="gone"):
        PowerShellRunner(transport).run("ping", {"name": "web01"})

    status, counters = call(control, "GET", "/hvsim/hosts/hv01/counters")
    assert status == 200
    assert counters["operations"] == {"ping": 1}
    assert counters["http_round_trips"] == 8
    status, operations = call(control, "GET", "/hvsim/hosts/hv01/operations")
    assert operations == [{"operation": "ping", "params": {"name": "web01"}}]

    assert call(control, "POST", "/hvsim/reset") == (200, {"reset": True})
    assert call(control, "GET", "/hvsim/hosts/hv01/counters")[1]["http_round_trips"] == 0
    assert call(control, "GET", "/hvsim/hosts/hv01/faults")[1]["script_errors"] == {}
    assert call(control, "GET", "/hvsim/hosts/hv01/operations")[1] == []


def test_put_replaces_and_delete_clears(control: ControlPlane) -> None:
    call(control, "PATCH", "/hvsim/hosts/hv01/faults", {"reject_auth": True})
    status, faults = call(control, "PUT", "/hvsim/hosts/hv01/faults", {"slow_operations": {"ping": 10}})
    assert status == 200
    assert faults["reject_auth"] is False
    assert faults["slow_operations"] == {"ping": 10}
    status, faults = call(control, "DELETE", "/hvsim/hosts/hv01/faults")
    assert faults["slow_operations"] == {}


def test_refuse_connections_via_control_plane(host: WinRMHostServer, control: ControlPlane, options: Any) -> None:
    call(control, "PATCH", "/hvsim/hosts/hv01/faults", {"refuse_connections": True})
    with WinRMTransport(options(host)) as transport, pytest.raises(errors.HostUnreachable):
        PowerShellRunner(transport).run("ping", {})
    call(control, "PATCH", "/hvsim/hosts/hv01/faults", {"refuse_connections": False})
    with WinRMTransport(options(host)) as transport:
        assert PowerShellRunner(transport).run("ping", {})["echo"] == {}


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/hvsim/hosts/nope/faults", None, 404),
        ("GET", "/nowhere", None, 404),
        ("POST", "/hvsim/hosts", None, 405),
        ("PATCH", "/hvsim/hosts/hv01/faults", {"latency_ms": -1}, 400),
        ("PATCH", "/hvsim/hosts/hv01/faults", {"unknown": 1}, 400),
        ("PATCH", "/hvsim/hosts/hv01/faults", [1], 400),
    ],
)
def test_errors(control: ControlPlane, method: str, path: str, body: Any, status: int) -> None:
    code, payload = call(control, method, path, body)
    assert code == status
    assert "error" in payload


def test_routes_added_by_others_and_reset_hooks(control: ControlPlane) -> None:
    seen: list[str] = []

    def get_vm(request: ControlRequest) -> Any:
        if request.params["vm"] == "missing":
            raise ControlError(404, "no such VM")
        return {"host": request.params["host"], "vm": request.params["vm"], "q": request.query}

    def create_vm(request: ControlRequest) -> Any:
        return ControlResponse(201, {"created": request.body})

    control.route("GET", "/hvsim/hosts/{host}/vms/{vm}", get_vm)
    control.route("POST", "/hvsim/hosts/{host}/vms", create_vm)
    control.on_reset(lambda: seen.append("reset"))
    assert call(control, "GET", "/hvsim/hosts/hv01/vms/web01?state=on") == (
        200,
        {"host": "hv01", "vm": "web01", "q": {"state": "on"}},
    )
    assert call(control, "GET", "/hvsim/hosts/hv01/vms/missing") == (404, {"error": "no such VM"})
    assert call(control, "POST", "/hvsim/hosts/hv01/vms", {"name": "x"}) == (201, {"created": {"name": "x"}})
    call(control, "POST", "/hvsim/reset")
    assert seen == ["reset"]


def test_host_listing(control: ControlPlane, host: WinRMHostServer) -> None:
    status, hosts = call(control, "GET", "/hvsim/hosts")
    assert status == 200
    assert hosts == [host.describe()]
    assert hosts[0]["endpoint"].startswith("https://127.0.0.1:")
