"""IP pools end to end on the devhost, against the simulated lab and Azurite.

A create from a pool: the guest applies the allocated address (checked in hvsim's guest), the allocation names the
VM and is released when the VM is deleted; a failed create gives its address back; an exhausted pool is a 409
before any job exists; thirty concurrent creates through the API hold thirty distinct addresses (checked in the
table itself).
"""

from __future__ import annotations

import copy
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from azure.data.tables import TableServiceClient

from functions.ippools.store import POOL_ROW, PoolStore
from tests.e2e.test_vm_workflows import create, delete, finished, linux
from tools.azurite import Azurite
from tools.stack import Stack


def pool_document(subnet: str, first: int, last: int, *, network: str = "External", **extra: Any) -> dict[str, Any]:
    return {
        "network": network,
        "vlan_id": 120,
        "prefix_length": 24,
        "gateway": f"{subnet}.1",
        "dns_servers": [f"{subnet}.2"],
        "dns_suffix": "corp.example",
        "ranges": [{"start": f"{subnet}.{first}", "end": f"{subnet}.{last}"}],
        **extra,
    }


def put_pool(stack: Stack, name: str, document: dict[str, Any]) -> dict[str, Any]:
    status, _, body = stack.request("PUT", f"/api/v1/ip-pools/{name}", document)
    assert status == 201, (status, body)
    return dict(body)


def pooled(name: str, pool: str, host: str = "hv03") -> dict[str, Any]:
    payload = linux(name, host)
    payload.pop("network", None)
    payload["guest"] = copy.deepcopy(payload["guest"])
    payload["guest"]["ipv4"] = {"pool": pool}
    return payload


@pytest.fixture
def table(stack: Stack, azurite: Azurite) -> Any:
    """Reads of the stack's pool table straight from Azurite: ``rows(pool)`` → allocation rows by address."""
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    store = PoolStore(service, stack.repo.hosts_table.removesuffix("Hosts"))

    def rows(pool: str) -> dict[str, dict[str, Any]]:
        client = service.get_table_client(store.table_name)
        found = client.query_entities("PartitionKey eq @p", parameters={"p": pool})
        return {str(r["RowKey"]): dict(r) for r in found if r["RowKey"] != POOL_ROW}

    return rows


def test_a_create_from_a_pool_applies_the_allocated_address_and_a_delete_releases_it(stack: Stack, table: Any) -> None:
    put_pool(stack, "e2e-apply", pool_document("10.20.1", 50, 59, reserved=["10.20.1.50"]))
    submission = create(stack, pooled("pool-e2e01", "e2e-apply"))
    job_id = submission.job["id"]
    held = table("e2e-apply")
    assert list(held) == ["10.20.1.51"] and held["10.20.1.51"]["job_id"] == job_id
    outcome = finished(stack, job_id)
    job = outcome["job"]
    assert job["status"] == "Succeeded", job
    assert (job["request"]["network"], job["request"]["vlan_id"]) == ("External", 120)
    vm_id = job["result"]["vm_id"]
    applied = stack.lab.host("hv03").model.vms[vm_id].guest.agent.applied  # type: ignore[union-attr]
    assert applied.ipv4 is not None
    assert (applied.ipv4.address, applied.ipv4.prefix_length, applied.ipv4.gateway) == ("10.20.1.51", "24", "10.20.1.1")
    assert applied.ipv4.dns_servers[0] == "10.20.1.2"
    assert applied.ipv4.dns_suffix == "corp.example"
    assert table("e2e-apply")["10.20.1.51"]["vm_id"] == vm_id
    status, _, listing = stack.request("GET", "/api/v1/ip-pools")
    assert status == 200 and listing["continuation"] is None
    assert [p["usage"] for p in listing["items"] if p["name"] == "e2e-apply"] == [
        {"total": 9, "allocated": 1, "free": 8}
    ]
    assert "allocations" not in listing["items"][0]
    status, _, pool = stack.request("GET", "/api/v1/ip-pools/e2e-apply")
    assert status == 200
    assert (pool["total"], pool["allocated"], pool["free"]) == (9, 1, 8)
    assert pool["allocations"] == [
        {
            "address": "10.20.1.51",
            "vm_id": vm_id,
            "vm_name": "pool-e2e01",
            "job_id": job_id,
            "since": held["10.20.1.51"]["since"],
        }
    ]
    narrower = pool_document("10.20.1", 52, 59)
    status, _, problem = stack.request("PUT", "/api/v1/ip-pools/e2e-apply", narrower)
    assert status == 409 and "10.20.1.51" in problem["detail"], problem
    wider = pool_document("10.20.1", 50, 69, reserved=["10.20.1.50"])
    status, _, replaced = stack.request("PUT", "/api/v1/ip-pools/e2e-apply", wider)
    assert status == 200 and (replaced["total"], replaced["allocated"]) == (19, 1), replaced
    status, _, problem = stack.request("DELETE", "/api/v1/ip-pools/e2e-apply")
    assert status == 409, problem
    assert finished(stack, delete(stack, vm_id).job["id"])["job"]["status"] == "Succeeded"
    assert table("e2e-apply") == {}
    status, _, _ = stack.request("DELETE", "/api/v1/ip-pools/e2e-apply")
    assert status == 204
    status, _, _ = stack.request("GET", "/api/v1/ip-pools/e2e-apply")
    assert status == 404
    status, _, audit = stack.request("GET", "/api/v1/audit?limit=200")
    assert status == 200
    outcomes = [(r["action"], r["outcome"]) for r in reversed(audit["items"]) if r["target"].get("pool") == "e2e-apply"]
    assert outcomes == [
        ("put_ip_pool", 201),
        ("put_ip_pool", 409),
        ("put_ip_pool", 200),
        ("delete_ip_pool", 409),
        ("delete_ip_pool", 204),
    ]


def test_pool_edits_name_every_problem_at_once(stack: Stack) -> None:
    put_pool(stack, "e2e-first", pool_document("10.20.6", 10, 50))
    bad = pool_document("10.20.6", 40, 30, reserved=["10.20.7.1"], dns_servers=["nope"])
    bad["ranges"].append({"start": "10.20.6.45", "end": "10.20.6.60"})
    status, _, problem = stack.request("PUT", "/api/v1/ip-pools/Bad_Name", bad)
    assert status == 422, problem
    assert problem["type"] == "urn:aetherv:problem:invalid-request"
    assert {(e["field"], e["code"]) for e in problem["errors"]} == {
        ("pool", "invalid_name"),
        ("dns_servers[0]", "value_error"),
        ("ranges[0]", "range_reversed"),
        ("ranges[1]", "pool_overlap"),
        ("reserved[0]", "invalid"),
    }
    status, _, _ = stack.request("GET", "/api/v1/ip-pools/Bad_Name")
    assert status == 404


def test_a_failed_create_releases_its_address(stack: Stack, table: Any) -> None:
    put_pool(stack, "e2e-fail", pool_document("10.20.2", 10, 19))
    control = stack.lab.control.url
    stack.request_to(
        control, "PUT", "/hvsim/hosts/hv02/guest-behaviour", {"fail_module": "mod_net", "poll_interval": 0.1}
    )
    try:
        submission = create(stack, pooled("poolbad-e2e01", "e2e-fail", host="hv02"))
        assert list(table("e2e-fail")) == ["10.20.2.10"]
        job = finished(stack, submission.job["id"])["job"]
    finally:
        stack.request_to(control, "PUT", "/hvsim/hosts/hv02/guest-behaviour", {"poll_interval": 0.1})
    assert job["status"] == "Failed"
    assert job["cleanup"]["status"] == "Succeeded"
    assert "released 10.20.2.10 to IP pool e2e-fail" in job["cleanup"]["actions"]
    assert table("e2e-fail") == {}


def test_an_exhausted_pool_is_a_conflict_before_any_job_and_a_mismatch_is_refused(stack: Stack, table: Any) -> None:
    put_pool(stack, "e2e-tiny", pool_document("10.20.3", 7, 7))
    first = create(stack, pooled("tiny-e2e01", "e2e-tiny"))
    status, _, problem = stack.request("POST", "/api/v1/vms", pooled("tiny-e2e02", "e2e-tiny"))
    assert status == 409, problem
    assert "no free address" in problem["detail"]
    assert not [j for j in stack.jobs.list(page_size=200).items if j.name == "tiny-e2e02"]
    mismatch = {**pooled("tiny-e2e03", "e2e-tiny"), "network": "Internal", "vlan_id": 7}
    status, _, problem = stack.request("POST", "/api/v1/vms", mismatch)
    assert status == 422, problem
    assert {e["field"] for e in problem["errors"]} == {"network", "vlan_id"}
    status, _, problem = stack.request("POST", "/api/v1/vms", pooled("tiny-e2e04", "no-such-pool"))
    assert status == 422 and problem["errors"][0]["field"] == "guest.ipv4.pool"
    assert list(table("e2e-tiny")) == ["10.20.3.7"]
    job = finished(stack, first.job["id"])["job"]
    assert job["status"] == "Succeeded"
    assert finished(stack, delete(stack, job["result"]["vm_id"]).job["id"])["job"]["status"] == "Succeeded"


def test_thirty_concurrent_creates_hold_thirty_distinct_addresses(stack: Stack, table: Any) -> None:
    put_pool(stack, "e2e-many", pool_document("10.20.4", 100, 149))
    tag = uuid.uuid4().hex[:4]

    def submit(index: int) -> dict[str, Any]:
        status, _, body = stack.request("POST", "/api/v1/vms", pooled(f"many{tag}-{index}", "e2e-many", host="hv01"))
        assert status == 202, (status, body)
        return dict(body)

    with ThreadPoolExecutor(30) as threads:
        jobs = list(threads.map(submit, range(30)))
    job_ids = {job["id"] for job in jobs}
    assert len(job_ids) == 30
    rows = table("e2e-many")  # the jobs wait for the host's clone slots: each still holds its address
    held_by_job = {row["job_id"]: address for address, row in rows.items()}
    assert set(held_by_job) == job_ids
    assert len(set(held_by_job.values())) == 30
    for job_id in job_ids:  # stop them early: a canceled create releases its address
        status, _, body = stack.request("POST", f"/api/v1/jobs/{job_id}/cancel")
        assert status in (202, 409), (status, body)
    for job_id in job_ids:
        job = finished(stack, job_id, timeout=300)["job"]
        assert job["status"] in ("Canceled", "Succeeded"), job
        if job["status"] == "Succeeded":  # finished before its cancel arrived: delete it like a user would
            assert finished(stack, delete(stack, job["result"]["vm_id"]).job["id"])["job"]["status"] == "Succeeded"
        else:
            assert f"released {held_by_job[job_id]} to IP pool e2e-many" in job["cleanup"]["actions"]
    assert table("e2e-many") == {}


def test_a_repeated_create_allocates_nothing_more(stack: Stack, table: Any) -> None:
    put_pool(stack, "e2e-repeat", pool_document("10.20.5", 20, 20))  # one address only
    payload = pooled("rpt-e2e01", "e2e-repeat")
    key = {"Idempotency-Key": f"rpt-{uuid.uuid4().hex}"}
    status, _, first = stack.request("POST", "/api/v1/vms", payload, key)
    assert status == 202, first
    status, _, again = stack.request("POST", "/api/v1/vms", payload, key)  # the same key: the same job
    assert status == 202 and again["id"] == first["id"], again
    status, _, same = stack.request("POST", "/api/v1/vms", payload)  # the same create while it runs: the same job
    assert status == 202 and same["id"] == first["id"], same
    assert {row["job_id"] for row in table("e2e-repeat").values()} == {first["id"]}
    job = finished(stack, first["id"])["job"]
    assert job["status"] == "Succeeded", job
    status, _, after = stack.request("POST", "/api/v1/vms", payload, key)  # still the same job once it has ended
    assert status == 202 and after["id"] == first["id"], after
    assert list(table("e2e-repeat")) == ["10.20.5.20"]
    assert finished(stack, delete(stack, job["result"]["vm_id"]).job["id"])["job"]["status"] == "Succeeded"
    assert table("e2e-repeat") == {}
