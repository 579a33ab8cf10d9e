"""Approvals end to end: creates on a host that requires one wait for an Admin; approve, reject, expiry, and who may
decide — checked on the job's URL (202 while it waits), the job record and the simulated host.

A stack of its own (a small lab, ``hv02`` requiring approval, a short deadline) in local mode; and the secured stack
(fake Entra) for the rule that a requester never approves their own create.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from functions.models.jobs import JobStatus, Requester
from tests.e2e.conftest import APPROVAL_TIMEOUT as TIMEOUT
from tests.e2e.test_vm_workflows import linux
from tools.fakeentra.authority import FakeEntra
from tools.stack import Stack


def submit(stack: Stack, name: str, host: str = "hv02") -> dict[str, Any]:
    status, _, job = stack.request("POST", "/api/v1/vms", linux(name, host=host))
    assert status == 202, job
    return dict(job)


def job_url(stack: Stack, job_id: str) -> tuple[int, dict[str, Any]]:
    status, _, body = stack.request("GET", f"/api/v1/jobs/{job_id}")
    return status, dict(body.get("job", body))


def until_awaiting(stack: Stack, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status, job = job_url(stack, job_id)
        if job["status"] == "AwaitingApproval" and (job.get("approval") or {}).get("deadline"):
            assert status == 202  # a Logic App polling the job simply waits
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} never awaited approval")


def on_host(stack: Stack, host: str, name: str) -> bool:
    model = stack.lab.host(host).model
    with model.lock:
        return any(vm.name == name for vm in model.vms.values())


def test_a_create_on_a_host_that_requires_approval_waits_and_runs_once_approved(approving: Stack) -> None:
    name = f"ap-{uuid.uuid4().hex[:6]}"
    job = submit(approving, name)
    assert job["status"] == "AwaitingApproval"  # from the start
    waiting = until_awaiting(approving, job["id"])
    assert waiting["approval"]["required_by"] == "host hv02 requires approval"
    assert not on_host(approving, "hv02", name)  # nothing is touched while it waits
    status, _, listed = approving.request("GET", "/api/v1/jobs?status=AwaitingApproval")
    assert status == 200 and job["id"] in [j["id"] for j in listed["items"]]

    status, headers, decided = approving.request("POST", f"/api/v1/jobs/{job['id']}/approve", {"reason": "planned"})
    assert status == 202 and headers["Location"].endswith(f"/api/v1/jobs/{job['id']}"), decided
    result = approving.wait(job["id"], 120)
    assert result["runtimeStatus"] == "Completed", result
    record = approving.jobs.get(job["id"])
    assert record is not None and record.status == "Succeeded"
    assert record.approval is not None and record.approval.decision == "approved"
    assert record.approval.decided_by is not None and record.approval.decided_by.name == "local developer"
    assert record.approval.reason == "planned"
    assert on_host(approving, "hv02", name)
    again = approving.request("POST", f"/api/v1/jobs/{job['id']}/approve", None)
    assert again[0] == 409 and again[2]["type"].endswith("invalid-state")  # nothing to decide any more


def test_a_rejected_create_ends_canceled_with_the_reason(approving: Stack) -> None:
    name = f"rj-{uuid.uuid4().hex[:6]}"
    job = submit(approving, name)
    until_awaiting(approving, job["id"])
    missing = approving.request("POST", f"/api/v1/jobs/{job['id']}/reject", {})
    assert missing[0] == 422 and missing[2]["errors"][0]["field"] == "reason"
    status, _, _ = approving.request("POST", f"/api/v1/jobs/{job['id']}/reject", {"reason": "use hv03 instead"})
    assert status == 202
    approving.wait(job["id"], 60)
    status, body = job_url(approving, job["id"])
    assert status == 409 and body["status"] == "Canceled"  # the job URL's answer for a canceled job
    assert "use hv03 instead" in body["error"]["message"]
    assert body["approval"]["decision"] == "rejected"
    assert not on_host(approving, "hv02", name)


def test_no_decision_in_time_cancels_the_create(approving: Stack) -> None:
    name = f"to-{uuid.uuid4().hex[:6]}"
    job = submit(approving, name)
    until_awaiting(approving, job["id"])
    approving.wait(job["id"], TIMEOUT + 30)
    status, body = job_url(approving, job["id"])
    assert status == 409 and body["approval"]["decision"] == "expired"
    assert body["error"]["message"].startswith(f"no decision on the approval within {TIMEOUT} s")
    assert not on_host(approving, "hv02", name)


def test_a_create_on_a_host_without_the_rule_runs_at_once(approving: Stack) -> None:
    job = submit(approving, f"na-{uuid.uuid4().hex[:6]}", host="hv03")
    assert job["status"] == "Pending" and "approval" not in job
    assert approving.request("POST", f"/api/v1/jobs/{job['id']}/approve", None)[0] == 409
    approving.wait(job["id"], 120)


def test_the_requester_is_refused_as_approver(secured: Stack, entra: FakeEntra) -> None:
    requester = entra.mint(["Aether.Admin"], extra_claims={"oid": "requester-1"})
    other = entra.mint(["Aether.Admin"], extra_claims={"oid": "admin-2"})
    job = secured.jobs.create(
        secured.jobs.new_job(
            id=f"create-vm-{uuid.uuid4().hex[:6]}",
            kind="create_vm",
            requested_by=Requester(id="requester-1", name="Requester", type="user"),
            status=JobStatus.AWAITING_APPROVAL,
        )
    )
    status, _, problem = secured.request("POST", f"/api/v1/jobs/{job.id}/approve", None, _bearer(requester))
    assert status == 403 and "cannot approve or reject" in problem["detail"], problem
    operator = entra.mint(["Aether.Operator"], extra_claims={"oid": "operator-3"})
    status, _, _ = secured.request("POST", f"/api/v1/jobs/{job.id}/reject", {"reason": "x"}, _bearer(operator))
    assert status == 403  # an Operator is no Admin
    audit = secured.request("GET", "/api/v1/audit", None, _bearer(other))[2]["items"]
    refused = [r for r in audit if r["action"] == "approve_job" and r["target"].get("job_id") == job.id]
    assert refused and refused[0]["outcome"] == 403
    stored = secured.jobs.get(job.id)
    assert stored is not None and stored.status == JobStatus.AWAITING_APPROVAL  # unchanged


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
