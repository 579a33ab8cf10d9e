"""VM leases end to end on the devhost against the simulated lab: a lease that expires during the test deletes the
VM (gone from the simulated host, by a delete job of ``system:lease``, after a recorded warning); an extended lease
does not; a cleared lease ends its workflow; the bounds of a create's lease; the listing's expiring filter.

The stack runs leases in seconds (``tools/stack.py``: the warning 7.2 s ahead, a re-read every 3.6 s).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from functions.models.leases import format_moment
from tests.e2e.test_vm_workflows import create, finished, linux
from tools.stack import Stack


def moment(seconds: float) -> str:
    return format_moment(datetime.now(UTC) + timedelta(seconds=seconds))


def eventually(check: Callable[[], Any], timeout: float = 90, what: str = "the condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def audit(stack: Stack, vm_id: str) -> list[dict[str, Any]]:
    status, _, body = stack.request("GET", "/api/v1/audit?limit=500")
    assert status == 200, body
    return [r for r in body["items"] if (r.get("target") or {}).get("vm_id") == vm_id]


def vm_document(stack: Stack, vm_id: str) -> dict[str, Any]:
    status, _, body = stack.request("GET", f"/api/v1/vms/{vm_id}")
    assert status == 200, body
    return dict(body)


def created(stack: Stack, name: str, host: str, **extra: Any) -> str:
    payload = linux(name, host=host) | extra
    outcome = finished(stack, create(stack, payload).job["id"])
    assert outcome["job"]["status"] == "Succeeded", outcome
    return str(outcome["job"]["result"]["vm_id"])


def test_a_lease_that_expires_warns_then_deletes_the_vm_as_system_lease(stack: Stack) -> None:
    vm_id = created(stack, "lease-e2e01", "hv01", lease={"expires_at": moment(35)})
    lease = vm_document(stack, vm_id)["lease"]
    assert lease is not None and lease["requested_by"] and lease["version"] == 1
    listed = stack.request("GET", "/api/v1/vms?expiring_within_hours=1")[2]["items"]
    assert vm_id in [vm["id"] for vm in listed]

    def warned() -> Any:
        vm = stack.repo.get_vm(vm_id)
        return vm is not None and (vm.details.get("lease") or {}).get("warned_at")

    eventually(warned, 60, "the warning")
    warning = [r for r in audit(stack, vm_id) if r["action"] == "lease_warning"]
    assert len(warning) == 1 and warning[0]["who"]["object_id"] == "system:lease"
    assert vm_id in stack.lab.host("hv01").model.vms  # not before its time

    eventually(lambda: vm_id not in stack.lab.host("hv01").model.vms, 90, "the delete at expiry")
    records = audit(stack, vm_id)
    deletes = [r for r in records if r["action"] == "delete_vm"]
    assert deletes and deletes[0]["who"]["object_id"] == "system:lease" and deletes[0]["job_id"]
    job = stack.jobs.get(deletes[0]["job_id"])
    assert job is not None and job.kind == "delete_vm" and job.requested_by.id == "system:lease"
    eventually(lambda: stack.repo.get_vm(vm_id) is None, 60, "the inventory to drop the VM")
    status = eventually(
        lambda: (s := stack.status(f"lease-{vm_id}")) and s.get("runtimeStatus") == "Completed" and s, 60, "the end"
    )
    assert status["output"] == {"vm_id": vm_id, "outcome": "ended"}


def test_an_extended_lease_does_not_delete_the_vm_and_a_cleared_one_ends_its_workflow(stack: Stack) -> None:
    vm_id = created(stack, "lease-e2e02", "hv02")
    assert vm_document(stack, vm_id)["lease"] is None
    status, _, body = stack.request("PUT", f"/api/v1/vms/{vm_id}/lease", {"expires_at": moment(12)})
    assert status == 200 and body["lease"]["version"] == 1, body
    status, _, body = stack.request("PUT", f"/api/v1/vms/{vm_id}/lease", {"hours": 2})
    assert status == 200 and body["lease"]["version"] == 2, body
    time.sleep(20)  # past the first expiry, and several re-reads of the lease
    assert vm_id in stack.lab.host("hv02").model.vms
    lease = vm_document(stack, vm_id)["lease"]
    assert lease["version"] == 2 and lease["expired_at"] is None and lease["delete_job_id"] is None
    assert not [r for r in audit(stack, vm_id) if r["action"] in ("delete_vm", "lease_expired")]

    status, _, body = stack.request("PUT", f"/api/v1/vms/{vm_id}/lease", {"expires_at": None})
    assert status == 200 and body == {"vm_id": vm_id, "lease": None}
    assert vm_document(stack, vm_id)["lease"] is None
    eventually(lambda: stack.status(f"lease-{vm_id}").get("runtimeStatus") == "Completed", 30, "the workflow to end")
    assert vm_id in stack.lab.host("hv02").model.vms


def test_a_lease_outside_its_bounds_is_refused_naming_the_field(stack: Stack) -> None:
    status, _, problem = stack.request(
        "POST", "/api/v1/vms", linux("lease-bad01", host="hv03") | {"lease": {"hours": 100000}}
    )
    assert status == 422 and [e["field"] for e in problem["errors"]] == ["lease.hours"], problem
    past = linux("lease-bad02", host="hv03") | {"lease": {"expires_at": "2020-01-01T00:00:00Z"}}
    status, _, problem = stack.request("POST", "/api/v1/vms", past)
    assert status == 422 and [e["field"] for e in problem["errors"]] == ["lease.expires_at"], problem
    status, _, problem = stack.request("POST", "/api/v1/vms", linux("lease-bad03") | {"lease": {"days": 3}})
    assert status == 422 and any(e["field"].startswith("lease") for e in problem["errors"]), problem
    any_vm = stack.request("GET", "/api/v1/vms?limit=1")[2]["items"][0]["id"]
    status, _, problem = stack.request("PUT", f"/api/v1/vms/{any_vm}/lease", {"expires_at": "2020-01-01T00:00:00Z"})
    assert status == 422 and [e["field"] for e in problem["errors"]] == ["expires_at"], problem
    status, _, problem = stack.request("GET", "/api/v1/vms?expiring_within_hours=soon")
    assert status == 400 and problem["errors"][0]["field"] == "expiring_within_hours", problem
    status, _, problem = stack.request("PUT", "/api/v1/vms/00000000-0000-0000-0000-000000000000/lease", {"hours": 1})
    assert status == 404, problem
