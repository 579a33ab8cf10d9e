"""A job's log end to end: complete and secret-free for a create that succeeds, one that fails and is cleaned up,
and one that is canceled — read through ``GET /api/v1/jobs/{id}/log`` a page at a time, as a follower would.

What the log says is checked against the job record and against hvsim's own state (the VM it names was made, or is
gone); every line is scanned for the passwords the creates carried.
"""

from __future__ import annotations

import copy
import re
import time
from typing import Any

from tests.e2e.test_vm_workflows import linux, windows
from tests.unit.test_vm_request import WINDOWS
from tools.stack import Stack

PASSWORD = "Tr0ub4dor&3-log-e2e"
JOIN_PASSWORD = "J0in-the-d0main-e2e!"


def read_log(stack: Stack, job_id: str, limit: int = 7) -> list[dict[str, Any]]:
    """Every entry of the job's log, read ``limit`` at a time with the ``next`` token."""
    entries: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        query = f"?limit={limit}" + (f"&after={after}" if after else "")
        status, _, page = stack.request("GET", f"/api/v1/jobs/{job_id}/log{query}")
        assert status == 200, page
        assert page["job_id"] == job_id
        entries += page["entries"]
        if not page["more"]:
            again = stack.request("GET", f"/api/v1/jobs/{job_id}/log?after={page['next']}")[2]
            assert again["entries"] == [] and again["next"] == page["next"]  # a follower waits at the end
            return entries
        after = page["next"]


def messages(entries: list[dict[str, Any]], source: str | None = None) -> list[str]:
    return [e["message"] for e in entries if source is None or e["source"] == source]


def finished(stack: Stack, job_id: str) -> dict[str, Any]:
    stack.wait(job_id, 120)
    job = stack.jobs.get(job_id)
    assert job is not None
    return job.to_json()


def assert_secret_free(entries: list[dict[str, Any]]) -> None:
    text = repr(entries)
    assert PASSWORD not in text and JOIN_PASSWORD not in text


def test_a_successful_create_logs_every_step_the_host_and_the_guest(synced: Stack) -> None:
    payload = copy.deepcopy(WINDOWS)
    payload.update(windows("log-win01", host="hv01"))
    payload["guest"]["admin_password"] = PASSWORD
    if payload["guest"].get("domain_join"):
        payload["guest"]["domain_join"]["password"] = JOIN_PASSWORD
    status, _, job = synced.request("POST", "/api/v1/vms", payload)
    assert status == 202, job
    done = finished(synced, job["id"])
    assert done["status"] == "Succeeded", done
    entries = read_log(synced, job["id"])
    assert_secret_free(entries)
    assert all(e["at"] and e["level"] in ("info", "warning", "error") for e in entries)
    text = messages(entries, "workflow")
    assert text[0].startswith("create_vm log-win01 requested by")
    for step in done["steps"]:  # every step's start and end, in the order they ran
        started = text.index(f"step {step['name']} started")
        assert any(m.startswith(f"step {step['name']} succeeded") for m in text[started:]), step
    assert text[-1] == "job succeeded"
    vm_id = done["result"]["vm_id"]
    assert f"create_vm: created VM log-win01 ({vm_id})" in " ".join(messages(entries, "host"))
    assert vm_id in synced.lab.host("hv01").model.vms  # the VM the log names is on the host
    guest = messages(entries, "guest")
    assert guest[0] == "guest state: waitingforaeskey", guest
    assert re.fullmatch(r"guest state: \S+ → provisioningapplied", guest[-1]), guest
    assert {e["host"] for e in entries if e["source"] in ("host", "guest")} == {"hv01"}


def test_a_failed_create_logs_the_error_and_what_the_cleanup_removed(synced: Stack) -> None:
    faults = synced.lab.host("hv02").server.faults
    faults.update({"failures_after": {"create_vm": {"category": "ScriptFailed", "message": "the host gave up"}}})
    payload = linux("log-lnx02", host="hv02")
    payload["guest"]["admin_password"] = PASSWORD
    try:
        status, _, job = synced.request("POST", "/api/v1/vms", payload)
        assert status == 202, job
        done = finished(synced, job["id"])
    finally:
        faults.update({"failures_after": {}})
    assert done["status"] == "Failed" and done["cleanup"]["status"] == "Succeeded", done
    entries = read_log(synced, job["id"])
    assert_secret_free(entries)
    errors = [e for e in entries if e["level"] == "error"]
    assert any("vm_create failed: ScriptFailed: hv02: the host gave up" in e["message"] for e in errors), [
        e["message"] for e in errors
    ]
    assert any(m.startswith("step create_vm failed") for m in messages(entries, "workflow"))
    host_lines = " ".join(messages(entries, "host"))
    assert "created VM log-lnx02" in host_lines  # the script made it before it failed …
    assert "removing VM log-lnx02" in host_lines  # … and the compensation found it by its mark
    assert "cleanup Succeeded" in messages(entries, "cleanup")
    assert messages(entries, "workflow")[-1] == "job failed: ScriptFailed: hv02: the host gave up"
    assert "log-lnx02" not in {vm.name for vm in synced.lab.host("hv02").model.vms.values()}


def test_a_canceled_create_logs_the_cancel_and_its_cleanup(synced: Stack) -> None:
    control = synced.lab.control.url
    faults = synced.lab.host("hv03").server.faults
    synced.request_to(control, "PUT", "/hvsim/hosts/hv03/guest-behaviour", {"silent": True, "poll_interval": 0.1})
    try:
        status, _, job = synced.request("POST", "/api/v1/vms", linux("log-cancel03", host="hv03"))
        assert status == 202, job
        synced.wait(job["id"], 60, until=lambda s: (s.get("customStatus") or {}).get("step") == "wait_for_key")
        faults.update({"slow_operations": {"read_guest_kvp": 1500}})  # the cancel finds a guest poll in flight
        time.sleep(0.5)
        assert synced.request("POST", f"/api/v1/jobs/{job['id']}/cancel")[0] == 202
        done = finished(synced, job["id"])
    finally:
        faults.update({"slow_operations": {}})
        synced.request_to(control, "PUT", "/hvsim/hosts/hv03/guest-behaviour", {"poll_interval": 0.1})
    assert done["status"] == "Canceled", done
    entries = read_log(synced, job["id"], limit=50)
    text = messages(entries, "workflow")
    assert "step wait_for_key canceled" in " ".join(text)
    assert text[-1].startswith("job canceled"), text
    assert not [e["message"] for e in entries if "VmNotFound" in e["message"]]  # no poll raced the cleanup
    assert "cleanup Succeeded" in messages(entries, "cleanup")
    assert "removing VM log-cancel03" in " ".join(messages(entries, "host"))
    assert "log-cancel03" not in {vm.name for vm in synced.lab.host("hv03").model.vms.values()}


def test_the_log_of_a_missing_job_is_404_and_a_bad_token_400(synced: Stack) -> None:
    assert synced.request("GET", "/api/v1/jobs/no-such-job/log")[0] == 404
    status, _, problem = synced.request("GET", "/api/v1/jobs/no-such-job/log?after=not-a-token")
    assert status == 400 and problem["errors"][0]["field"] == "after"
