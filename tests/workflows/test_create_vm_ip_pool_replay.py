"""The create workflow with an IP pool address, replayed with the real SDK: the VM id recorded on the allocation
once the VM exists, the address released when the job fails, is canceled or never touched the host, and kept with
a VM kept for diagnosis. A create without a pool runs exactly the steps it ran before (no pool activity)."""

from __future__ import annotations

from typing import Any

from functions.provisioning.workflow_data import CreateInput, PoolAddress
from functions.workflows.create_vm import create_vm
from tests.support.replay import Replay
from tests.unit.test_vm_request import LINUX
from tests.workflows.test_create_vm_replay import VM_ID, Fail, drive, happy_results, job_patches, spec, work

POOLED = {
    **LINUX,
    "network": "External",
    "vlan_id": 120,
    "guest": {
        **LINUX["guest"],
        "ipv4": {"address": "10.0.120.50", "prefix_length": 24, "gateway": "10.0.120.1", "dns_servers": ["10.0.0.2"]},
    },
}
ADDRESS = {"job_id": "job-1", "pool": "prod-120", "address": "10.0.120.50"}


def pooled(**changes: Any) -> dict[str, Any]:
    document = spec({**POOLED, **changes})
    document["version"] = 2
    document["ip_pool"] = ADDRESS
    return document


def results() -> dict[str, Any]:
    answers = happy_results()
    answers["vm_refresh_and_describe"] = {**answers["vm_refresh_and_describe"], "ip_addresses": ["10.0.120.50"]}
    answers["ip_pool_bind_vm"] = True
    answers["ip_pool_release"] = True
    answers["vm_cleanup"] = {"summary": "removed 1 VM(s) carrying the job's mark"}
    return answers


def inputs(replay: Replay, name: str) -> list[dict[str, Any]]:
    return [t.input for t in replay.scheduled if t.name == name]


def test_the_vm_id_is_recorded_on_the_allocation_right_after_the_vm_is_made() -> None:
    replay = Replay(create_vm, pooled())
    calls = work(drive(replay, results()))
    assert calls[calls.index("vm_create") + 1] == "ip_pool_bind_vm"
    assert inputs(replay, "ip_pool_bind_vm") == [{**ADDRESS, "vm_id": VM_ID}]
    assert "ip_pool_release" not in calls
    assert job_patches(replay)[-1]["status"] == "Succeeded"


def test_a_failed_create_releases_its_address_after_the_cleanup() -> None:
    replay = Replay(create_vm, pooled())
    answers = results()
    answers["vm_finish_guest"] = Fail("eject failed")
    calls = work(drive(replay, answers))
    assert calls[-3:] == ["vm_cleanup", "vm_refresh_and_describe", "ip_pool_release"]
    assert inputs(replay, "ip_pool_release") == [ADDRESS]
    final = job_patches(replay)[-1]
    assert final["status"] == "Failed"
    assert final["cleanup"]["actions"][-1] == "released 10.0.120.50 to IP pool prod-120"


def test_a_create_that_fails_before_touching_the_host_still_releases() -> None:
    replay = Replay(create_vm, pooled())
    answers = results()
    answers["vm_place"] = Fail("no host has the image", category="PlacementFailed")
    calls = work(drive(replay, answers))
    assert calls == ["vm_place", "ip_pool_release"]
    cleanup = job_patches(replay)[-1]["cleanup"]
    assert cleanup["status"] == "Nothing to clean up"
    assert cleanup["actions"] == ["released 10.0.120.50 to IP pool prod-120"]


def test_a_canceled_create_releases_its_address() -> None:
    replay = Replay(create_vm, pooled())
    answers = results()
    answers["vm_guest_status"] = {"state": None, "error_summary": None, "public_key_present": False}
    drive(replay, answers, until=lambda r: sum(1 for t in r.scheduled if t.name == "vm_guest_status") >= 2)
    replay.raise_event("cancel", {"by": "alice"})
    calls = work(drive(replay, answers))
    assert calls[-1] == "ip_pool_release"
    assert job_patches(replay)[-1]["status"] == "Canceled"


def test_a_release_that_fails_is_reported_not_raised() -> None:
    replay = Replay(create_vm, pooled())
    answers = results()
    answers["vm_create"] = Fail("disk full", category="ScriptFailed")
    answers["ip_pool_release"] = Fail("table gone", category="StorageError")
    drive(replay, answers)
    final = job_patches(replay)[-1]
    assert final["status"] == "Failed"
    assert final["cleanup"]["actions"][-1] == "could not release 10.0.120.50 to IP pool prod-120 (StorageError)"


def test_a_vm_kept_for_diagnosis_keeps_its_address() -> None:
    replay = Replay(create_vm, pooled(keep_on_failure=True))
    answers = results()
    answers["vm_finish_guest"] = Fail("eject failed")
    calls = work(drive(replay, answers))
    assert "ip_pool_release" not in calls
    assert job_patches(replay)[-1]["cleanup"]["status"] == "Skipped"


def test_a_create_without_a_pool_calls_no_pool_activity() -> None:
    document = spec(POOLED)
    document["version"] = 2
    replay = Replay(create_vm, document)
    answers = results()
    answers["vm_finish_guest"] = Fail("eject failed")
    calls = work(drive(replay, answers))
    assert not [c for c in calls if c.startswith("ip_pool")]


def test_the_input_document_carries_the_pool_address_only_when_there_is_one() -> None:
    pooled_input = CreateInput.from_json(pooled())
    assert pooled_input.ip_pool == PoolAddress("job-1", "prod-120", "10.0.120.50")
    assert pooled_input.to_json()["ip_pool"] == ADDRESS
    plain = spec(POOLED)  # a document of an earlier build: no ip_pool key
    assert CreateInput.from_json(plain).ip_pool is None
    assert "ip_pool" not in CreateInput.from_json(plain).to_json()
