"""The REST API end to end over HTTP: reads, writes with the async job contract, Logic App polling, errors, audit."""

from __future__ import annotations

import copy
import json
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from functions.auth import LOCAL_OBJECT_ID
from tests.unit.test_vm_request import LINUX, readme_example
from tools.stack import Stack

EVENT_RAISED = 15  # DTFx EventType (durable-functions.md B4)


def linux(name: str, host: str = "hv03") -> dict[str, Any]:
    payload = copy.deepcopy(LINUX)
    payload.update(name=name, host=host)
    return payload


def follow(stack: Stack, response: tuple[int, dict[str, str], Any], timeout: float = 120) -> tuple[int, Any]:
    """What a Logic App HTTP action does: follow Location while 202, honouring Retry-After (capped for the test)."""
    status, headers, body = response
    polls = 0
    deadline = time.monotonic() + timeout
    while status == 202:
        assert time.monotonic() < deadline, body
        location = headers["Location"]
        assert location.startswith(stack.base_url + "/api/v1/jobs/"), location
        assert "runtime/webhooks" not in location
        assert "code=" not in location
        assert int(headers["Retry-After"]) >= 1
        time.sleep(0.3)
        status, headers, body = stack.request("GET", urlsplit(location).path)
        polls += 1
    assert polls >= 1
    return status, body


def test_reads(synced: Stack) -> None:
    stack = synced
    status, headers, inventory = stack.request("GET", "/api/v1/inventory")
    assert status == 200
    assert headers["X-Content-Type-Options"] == "nosniff", dict(headers)
    assert inventory["total_hosts"] == 3
    assert {h["name"] for h in inventory["hosts"]} == {"hv01", "hv02", "hv03"}
    _, _, hosts = stack.request("GET", "/api/v1/hosts")
    assert set(hosts) == {"items", "continuation"}
    host = hosts["items"][0]
    for field in ("name", "cluster", "connected", "last_seen", "error", "total_memory_gb"):
        assert field in host
    status, _, one = stack.request("GET", f"/api/v1/hosts/{host['name']}")
    assert status == 200
    assert one["name"] == host["name"]
    assert stack.request("GET", "/api/v1/hosts/nope")[0] == 404
    _, _, vms = stack.request("GET", "/api/v1/vms?limit=2")
    assert len(vms["items"]) == 2
    assert vms["continuation"]
    vm = vms["items"][0]
    for field in ("id", "name", "host", "state", "cpu_cores", "memory_gb", "ip_addresses", "os_family", "stale"):
        assert field in vm
    assert "last_seen" in vm
    _, _, rest = stack.request("GET", f"/api/v1/vms?limit=500&continuation={vms['continuation']}")
    everything = [v["id"] for v in vms["items"]] + [v["id"] for v in rest["items"]]
    assert len(everything) == len(set(everything))
    status, _, by_id = stack.request("GET", f"/api/v1/vms/{vm['id']}")
    assert status == 200
    assert by_id["name"] == vm["name"]
    _, _, on_host = stack.request("GET", f"/api/v1/hosts/{vm['host']}/vms?state={vm['state']}")
    assert vm["id"] in [v["id"] for v in on_host["items"]]
    status, _, bad = stack.request("GET", "/api/v1/vms?state=Sideways&stale=maybe&limit=0")
    assert status == 400
    assert {e["field"] for e in bad["errors"]} == {"state", "stale"}
    _, _, clusters = stack.request("GET", "/api/v1/clusters")
    assert sum(c["total_hosts"] for c in clusters["items"]) == 3
    _, _, images = stack.request("GET", "/api/v1/hosts/hv01/images")
    assert "Ubuntu 24.04 LTS" in [i["name"] for i in images["items"]]
    _, _, networks = stack.request("GET", "/api/v1/hosts/hv01/networks")
    assert "External" in [n["name"] for n in networks["items"]]


def test_invalid_create_lists_every_problem_as_problem_json(synced: Stack) -> None:
    stack = synced
    payload = linux("x" * 70)
    payload["cpu_cores"] = 0
    payload["guest"]["domain_join"] = {"domain": "corp.example", "username": "j", "password": "p", "ou": "OU=x"}
    status, headers, body = stack.request("POST", "/api/v1/vms", payload)
    assert status == 422
    assert headers["Content-Type"].startswith("application/problem+json")
    assert body["status"] == 422
    fields = {e["field"] for e in body["errors"]}
    assert {"name", "cpu_cores", "guest.domain_join.ou", "guest.domain_join"} <= fields
    assert "correct horse" not in str(body)
    assert stack.request("POST", "/api/v1/vms", "not an object")[0] == 422
    status, _, body = stack.request("POST", "/api/v1/hosts/hv01/vms", {})
    assert status == 404


def test_create_and_poll_like_a_logic_app_until_succeeded(synced: Stack) -> None:
    stack = synced
    response = stack.request("POST", "/api/v1/vms", linux("api-e2e01"))
    status, _, job = response
    assert status == 202, job
    assert job["kind"] == "create_vm"
    assert job["status"] in ("Pending", "Running")
    assert job["target"]["name"] == "api-e2e01"
    final_status, final = follow(stack, response)
    assert final_status == 200, final
    assert final["status"] == "Succeeded"
    assert [s["status"] for s in final["steps"]] == ["Succeeded"] * len(final["steps"])
    assert final["result"]["vm"]["name"] == "api-e2e01"
    listed = stack.request("GET", "/api/v1/vms?name_prefix=api-e2e")[2]["items"]
    assert [v["name"] for v in listed] == ["api-e2e01"]


def test_a_failing_job_ends_the_polling_as_a_failure_with_its_error(synced: Stack) -> None:
    stack = synced
    payload = linux("api-fail01")
    payload["image"] = "Ubuntu 99.99 Imaginary"
    response = stack.request("POST", "/api/v1/vms", payload)
    assert response[0] == 202
    final_status, final = follow(stack, response)
    assert final_status == 422
    assert final["title"] == "Job failed"
    assert final["job"]["status"] == "Failed"
    assert final["job"]["error"]["category"] == "PreflightFailed"
    assert "Ubuntu 99.99 Imaginary" in final["detail"]


def test_idempotency_key(synced: Stack) -> None:
    stack = synced
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = stack.request("POST", "/api/v1/vms", linux("idem-e2e01"), key)
    again = stack.request("POST", "/api/v1/vms", linux("idem-e2e01"), key)
    assert first[0] == again[0] == 202
    assert first[2]["id"] == again[2]["id"]
    status, _, conflict = stack.request("POST", "/api/v1/vms", linux("idem-e2e02"), key)
    assert status == 409
    assert "Idempotency-Key" in conflict["detail"]
    follow(stack, first)


def test_power_delete_and_invalid_transitions(synced: Stack) -> None:
    stack = synced
    created = follow(stack, stack.request("POST", "/api/v1/vms", linux("api-pwr01")))[1]
    vm_id = created["result"]["vm_id"]
    status, _, conflict = stack.request("POST", f"/api/v1/vms/{vm_id}/start")
    assert status == 409
    assert conflict["state"] == "Running"
    assert stack.request("POST", f"/api/v1/vms/{vm_id}/teleport")[0] == 404
    stopped = follow(stack, stack.request("POST", f"/api/v1/vms/{vm_id}/stop"))
    assert stopped[0] == 200
    assert stack.request("GET", f"/api/v1/vms/{vm_id}")[2]["state"] == "Off"
    bad = stack.request("POST", f"/api/v1/vms/{vm_id}/shutdown", {"timeout_seconds": 1, "force": "yes"})
    assert bad[0] == 422
    assert {e["field"] for e in bad[2]["errors"]} == {"timeout_seconds", "force"}
    deleted = follow(stack, stack.request("DELETE", f"/api/v1/vms/{vm_id}"))
    assert deleted[0] == 200
    assert stack.request("GET", f"/api/v1/vms/{vm_id}")[0] == 404
    assert stack.request("DELETE", f"/api/v1/vms/{vm_id}")[0] == 404


def test_jobs_listing_cancel_and_audit(synced: Stack) -> None:
    stack = synced
    control = stack.lab.control.url
    stack.request_to(control, "PUT", "/hvsim/hosts/hv02/guest-behaviour", {"silent": True, "poll_interval": 0.1})
    try:
        status, _, job = stack.request("POST", "/api/v1/vms", linux("api-cancel01", host="hv02"))
        assert status == 202
        stack.wait(job["id"], 60, until=lambda s: (s.get("customStatus") or {}).get("step") == "wait_for_key")
        status, _, canceling = stack.request("POST", f"/api/v1/jobs/{job['id']}/cancel")
        assert status == 202, canceling
        stack.wait(job["id"], 60)
    finally:
        stack.request_to(control, "PUT", "/hvsim/hosts/hv02/guest-behaviour", {"poll_interval": 0.1})
    raised = [e for e in stack.history(job["id"]) if e["EventType"] == EVENT_RAISED and e["Name"] == "cancel"]
    assert [json.loads(e["Input"]) for e in raised] == [{"by": LOCAL_OBJECT_ID}]  # who canceled reaches the workflow
    status, _, final = stack.request("GET", f"/api/v1/jobs/{job['id']}")
    assert status == 409
    assert final["job"]["status"] == "Canceled"
    assert final["job"]["cancel_requested_by"]["id"] == LOCAL_OBJECT_ID
    assert final["job"]["cleanup"]["status"] == "Succeeded"
    assert stack.request("POST", f"/api/v1/jobs/{job['id']}/cancel")[0] == 409
    assert stack.request("GET", "/api/v1/jobs/no-such-job")[0] == 404
    for host in ("hv01", "hv02", "hv03"):  # make sure there are more jobs than one page holds
        follow(stack, stack.request("POST", f"/api/v1/inventory/refresh?host={host}"))
    _, _, page = stack.request("GET", "/api/v1/jobs?limit=3")
    assert len(page["items"]) == 3
    assert page["continuation"]
    _, _, canceled = stack.request("GET", "/api/v1/jobs?status=Canceled&kind=create_vm&limit=100")
    assert job["id"] in [j["id"] for j in canceled["items"]]
    assert stack.request("GET", "/api/v1/jobs?status=Lost")[0] == 400
    _, _, audit = stack.request("GET", "/api/v1/audit?limit=200")
    actions = [(a["action"], a["job_id"]) for a in audit["items"]]
    assert ("cancel_job", job["id"]) in actions
    assert ("create_vm", job["id"]) in actions
    record = next(a for a in audit["items"] if a["job_id"] == job["id"] and a["action"] == "create_vm")
    assert record["who"]["display_name"]
    assert record["outcome"] == 202
    assert "correct horse" not in str(audit)


def test_refresh_inventory_is_a_job(synced: Stack) -> None:
    stack = synced
    response = stack.request("POST", "/api/v1/inventory/refresh?host=hv02")
    assert response[0] == 202
    status, final = follow(stack, response)
    assert status == 200
    assert final["result"]["hosts"] == 1
    assert stack.request("POST", "/api/v1/inventory/refresh?host=nope")[0] == 404


def test_request_limits_and_errors(synced: Stack) -> None:
    stack = synced
    big = linux("big01")
    big["padding"] = "x" * 300_000
    assert stack.request("POST", "/api/v1/vms", big)[0] == 413
    status, _, body = stack.request("POST", "/api/v1/vms", None)
    assert status == 400
    assert body["title"] == "Missing body"
    assert stack.request("GET", "/api/v1/nothing-here")[0] == 404


def test_openapi_and_docs(synced: Stack) -> None:
    stack = synced
    status, _, document = stack.request("GET", "/api/openapi.json")
    assert status == 200
    assert document["openapi"] == "3.1.0"
    assert "/v1/vms" in document["paths"]
    create = document["components"]["schemas"]["VmCreateRequest"]
    assert set(create["required"]) == {"name", "cpu_cores", "memory_gb"}
    status, headers, page = stack.request("GET", "/api/docs")
    assert status == 200
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "cdn" not in str(page).lower()
    status, headers, _ = stack.request("GET", "/api/docs/assets/vendor/swagger-ui/swagger-ui-bundle.js")
    assert status == 200
    assert headers["Content-Type"].startswith("text/javascript")
    assert stack.request("GET", "/api/docs/assets/../../settings.py")[0] == 404


def test_a_create_is_not_warned_about_what_only_the_guests_agent_decides(synced: Stack) -> None:
    """Whether a DNS suffix or a domain join can be applied and confirmed depends on the image's agent: the host
    decides once the agent has answered (tests/e2e/test_guest_agents.py), not at submission."""
    stack = synced
    payload = copy.deepcopy(readme_example("windows-static-domain"))
    payload.update(name="warn01", host="hv03", image="Windows Server 1999 Imaginary", os_family="windows")
    status, _, job = stack.request("POST", "/api/v1/vms", payload)
    assert status == 202
    assert job["warnings"] == []
    follow(stack, (status, {"Location": f"{stack.base_url}/api/v1/jobs/{job['id']}", "Retry-After": "5"}, job))
