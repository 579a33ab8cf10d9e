"""``POST /api/v1/hosts/{host}/probe`` over HTTP: the app on its devhost probing the simulated lab's hosts.

The session's stack probes a healthy host, a host whose listener refuses connections, and a name it does not
manage. A second app on the same lab is configured wrongly — a wrong WinRM password, and one more host whose name
does not resolve — and neither its answers nor its log ever show a password.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tools.azurite import Azurite
from tools.stack import Stack, running_stack

STAGES = ["name_resolution", "tcp", "tls", "authentication", "powershell"]
WRONG_PASSWORD = "N0t-the-Lab-Passw0rd!"
MISSING = "hv-missing.invalid"


def probe(stack: Stack, host: str) -> tuple[int, Any]:
    status, headers, body = stack.request("POST", f"/api/v1/hosts/{host}/probe")
    assert headers["X-Content-Type-Options"] == "nosniff"
    return status, body


def audit_of(stack: Stack, host: str) -> list[dict[str, Any]]:
    _, _, audit = stack.request("GET", "/api/v1/audit?limit=200")
    return [r for r in audit["items"] if r["action"] == "probe_host" and r["target"] == {"host": host}]


def wait_job(stack: Stack, job: dict[str, Any]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, _, body = stack.request("GET", f"/api/v1/jobs/{job['id']}")
        if status != 202:
            assert body["status"] == "Succeeded", body
            return
        time.sleep(0.3)
    raise AssertionError(f"job {job['id']} did not finish")


def test_a_healthy_host_passes_every_stage(synced: Stack) -> None:
    lab_host = synced.lab.host("hv01")
    before = len(lab_host.server.received_operations("ping"))
    status, report = probe(synced, "hv01")

    assert status == 200, report
    assert report["ok"] is True and report["failed_stage"] is None, report["summary"]
    assert [s["name"] for s in report["stages"]] == STAGES
    assert all(s["status"] == "ok" and isinstance(s["duration_ms"], int) for s in report["stages"])
    assert report["summary"].startswith("hv01 passed every stage")
    assert report["endpoint"] == f"https://hv01:{lab_host.port}/wsman"
    assert report["address"] == "127.0.0.1"
    cert = report["certificate"]
    assert cert["subject"] == "CN=hv01" and cert["issuer"] == "CN=Aether-V hvsim lab CA"
    assert cert["trusted"] is True and cert["name_matches"] is True
    assert cert["not_after"] > report["probed_at"] > cert["not_before"]
    assert report["computer_name"] == "HV01"
    assert len(lab_host.server.received_operations("ping")) == before + 1  # the host itself ran the script
    assert synced.lab.password not in json.dumps(report)
    record = audit_of(synced, "hv01")[0]
    assert record["outcome"] == 200 and record["detail"] == "ok"
    assert record["who"]["object_id"]


def test_a_refused_listener_fails_at_tcp(synced: Stack) -> None:
    control = synced.lab.control.url
    synced.request_to(control, "POST", "/hvsim/hosts/hv02/down")
    try:
        status, report = probe(synced, "hv02")
    finally:
        synced.request_to(control, "POST", "/hvsim/hosts/hv02/up")
        # A scheduled sync may have seen hv02 down meanwhile: store it connected again for the tests that follow.
        wait_job(synced, synced.request("POST", "/api/v1/inventory/refresh?host=hv02")[2])

    assert status == 200
    assert report["ok"] is False and report["failed_stage"] == "tcp"
    port = synced.lab.host("hv02").port
    assert report["summary"] == (
        f"TCP: connection refused on hv02:{port} (127.0.0.1) — "
        "is the WinRM HTTPS listener running and the firewall open?"
    )
    assert [s["status"] for s in report["stages"]] == ["ok", "failed", "skipped", "skipped", "skipped"]
    assert report["certificate"] is None
    assert audit_of(synced, "hv02")[0]["detail"] == "failed at tcp"


def test_a_name_the_app_does_not_manage_is_404_and_never_probed(synced: Stack) -> None:
    status, problem = probe(synced, "hv99")
    assert status == 404
    assert problem["type"] == "urn:aetherv:problem:host-not-configured", problem
    assert audit_of(synced, "hv99")[0]["outcome"] == 404


@pytest.fixture(scope="module")
def misconfigured(stack: Stack, azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Another app on the same lab: the wrong WinRM password, and a host whose name does not resolve."""
    settings = {
        "AETHERV_HOSTS": f"{stack.lab.aetherv_hosts},{MISSING}:5986",
        "AETHERV_WINRM_PASSWORD": WRONG_PASSWORD,
        "AETHERV_INVENTORY_SCHEDULE": "0 0 0 1 1 *",
    }
    with running_stack(azurite, tmp_path_factory.mktemp("misconfigured"), stack.lab, **settings) as app:
        yield app


def test_a_wrong_password_fails_at_authentication_and_no_secret_shows(misconfigured: Stack) -> None:
    status, report = probe(misconfigured, "hv03")

    assert status == 200
    assert report["failed_stage"] == "authentication", report["summary"]
    assert [s["status"] for s in report["stages"]] == ["ok", "ok", "ok", "failed", "skipped"]
    assert report["certificate"]["trusted"] is True
    assert report["summary"].startswith(f"WinRM authentication: {misconfigured.lab.username} was not accepted (NTLM)")
    text = json.dumps(report)
    log = Path(str(misconfigured.log_path)).read_text(errors="replace")
    assert "probe of hv03: WinRM authentication:" in log  # the log is the app's, and it has the outcome
    for secret in (WRONG_PASSWORD, misconfigured.lab.password):
        assert secret not in text
        assert secret not in log
        assert secret not in json.dumps(audit_of(misconfigured, "hv03"))


def test_a_name_that_does_not_resolve_fails_at_name_resolution(misconfigured: Stack) -> None:
    status, report = probe(misconfigured, MISSING)

    assert status == 200
    assert report["failed_stage"] == "name_resolution"
    assert report["summary"].startswith(f"Name resolution: {MISSING} does not resolve (")
    assert [s["status"] for s in report["stages"]] == ["failed", "skipped", "skipped", "skipped", "skipped"]
    assert report["address"] is None
