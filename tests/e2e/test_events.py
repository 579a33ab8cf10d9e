"""Events end to end: CloudEvents signed per Standard Webhooks reach a local receiver, retries, dead letters.

The stack runs with a webhook pointing at a receiver in the test process (tests/support/receiver.py) and a short
retry horizon, so a receiver that stays down has its events dead-lettered within seconds. Signatures are checked
with the ``standardwebhooks`` library, as a receiver would; what the lab's hosts did is checked on hvsim.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from standardwebhooks import Webhook

from tests.e2e.conftest import own_stack
from tests.e2e.test_leases import created, moment
from tests.e2e.test_vm_workflows import create, delete, linux, power
from tests.support.receiver import Delivery, Receiver
from tools.azurite import Azurite
from tools.stack import Stack

SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()
HORIZON = 20
PREFIX = "io.aetherv."
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """The webhook receiver."""
    receiver = Receiver()
    yield receiver
    receiver.release()
    receiver.stop()


@pytest.fixture(scope="module")
def eventful(azurite: Azurite, receiver: Receiver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of its own whose events go to :func:`receiver`."""
    env = {
        "AETHERV_WEBHOOK_URLS": receiver.url,
        "AETHERV_WEBHOOK_SECRET": SECRET,
        "AETHERV_EVENT_RETRY_HORIZON": str(HORIZON),
    }
    with own_stack(azurite, tmp_path_factory.mktemp("events"), "LAB\\events", hosts=2, **env) as stack:
        yield stack


def verified(delivery: Delivery) -> dict[str, Any]:
    """The delivery's event, once its signature verified with the library (raises otherwise)."""
    document: dict[str, Any] = Webhook(SECRET).verify(delivery.body, delivery.headers)
    assert delivery.headers["webhook-id"] == document["id"]
    return document


def of(kind: str, subject: str) -> Any:
    """A filter: deliveries of event type ``kind`` about ``subject``."""
    return lambda d: d.event["type"] == PREFIX + kind and d.event["subject"] == subject


def finish(stack: Stack, job_id: str) -> dict[str, Any]:
    stack.wait(job_id, 120)
    job = stack.jobs.get(job_id)
    assert job is not None
    return job.to_json()


def test_a_create_a_failure_and_a_delete_arrive_signed_and_secret_free(eventful: Stack, receiver: Receiver) -> None:
    receiver.mode = "ok"
    payload = linux("evt-vm01", host="hv01")
    password = payload["guest"]["admin_password"]
    job_id = create(eventful, payload).job["id"]
    job = finish(eventful, job_id)
    assert job["status"] == "Succeeded", job
    vm_id = job["target"]["vm_id"]

    created = receiver.wait_for(of("job.created", f"/jobs/{job_id}"))[0]
    succeeded = receiver.wait_for(of("job.succeeded", f"/jobs/{job_id}"))[0]
    vm_created = receiver.wait_for(of("vm.created", f"/vms/{vm_id}"))[0]
    for delivery in (created, succeeded, vm_created):
        event = verified(delivery)
        assert event["specversion"] == "1.0" and event["source"] == "/aetherv"
        assert delivery.headers["content-type"].startswith("application/cloudevents+json")
    assert verified(succeeded)["data"]["job"]["status"] == "Succeeded"
    assert verified(vm_created)["data"] == {"vm_id": vm_id, "name": "evt-vm01", "host": "hv01", "job_id": job_id}

    # a create the host refuses: job.failed, with the error and the cleanup
    faults = eventful.lab.host("hv02").server.faults
    faults.update({"script_errors": {"create_vm": {"category": "ScriptFailed", "message": "refused by the host"}}})
    try:
        failed_id = create(eventful, linux("evt-vm02", host="hv02")).job["id"]
        assert finish(eventful, failed_id)["status"] == "Failed"
    finally:
        faults.update({"script_errors": {}})
    failed = verified(receiver.wait_for(of("job.failed", f"/jobs/{failed_id}"))[0])
    assert failed["data"]["job"]["error"]["message"]
    assert "evt-vm02" not in {vm.name for vm in eventful.lab.host("hv02").model.vms.values()}

    # a stop the inventory sees: vm.state_changed; then the delete: vm.deleted
    stop_id = power(eventful, vm_id, "stop").job["id"]
    assert finish(eventful, stop_id)["status"] == "Succeeded"
    changed = verified(receiver.wait_for(of("vm.state_changed", f"/vms/{vm_id}"))[-1])
    assert changed["data"]["state"] == "Off" and changed["data"]["previous_state"] == "Running"
    delete_id = delete(eventful, vm_id).job["id"]
    assert finish(eventful, delete_id)["status"] == "Succeeded"
    gone = verified(receiver.wait_for(of("vm.deleted", f"/vms/{vm_id}"))[0])
    assert gone["data"]["job_id"] == delete_id

    for delivery in receiver.received():
        assert password.encode() not in delivery.body  # the guest's password never leaves in an event


def test_a_host_that_drops_and_comes_back_is_announced(eventful: Stack, receiver: Receiver) -> None:
    receiver.mode = "ok"
    faults = eventful.lab.host("hv02").server.faults
    faults.update({"refuse_connections": True})
    try:
        status, _, job = eventful.request("POST", "/api/v1/inventory/refresh")
        assert status == 202, job
        finish(eventful, job["id"])
        down = verified(receiver.wait_for(of("host.disconnected", "/hosts/hv02"))[-1])
    finally:
        faults.update({"refuse_connections": False})
    status, _, job = eventful.request("POST", "/api/v1/inventory/refresh")
    finish(eventful, job["id"])
    back = verified(receiver.wait_for(of("host.reconnected", "/hosts/hv02"))[-1])
    assert back["data"]["disconnected_since"] == down["data"]["disconnected_since"]


def refresh_job(stack: Stack) -> str:
    """Start an inventory sync someone asked for (its job's events are announced); its job id."""
    status, _, job = stack.request("POST", "/api/v1/inventory/refresh")
    assert status == 202, job
    return str(job["id"])


def test_a_failing_receiver_gets_the_same_event_id_on_every_retry(eventful: Stack, receiver: Receiver) -> None:
    receiver.mode = "fail"
    job_id = refresh_job(eventful)
    finish(eventful, job_id)
    attempts = receiver.wait_for(of("job.created", f"/jobs/{job_id}"), count=2, timeout=30)
    receiver.mode = "ok"
    delivered = receiver.wait_for(lambda d: of("job.created", f"/jobs/{job_id}")(d) and d.answered == 204)[0]
    attempts = receiver.received(of("job.created", f"/jobs/{job_id}"))
    assert len({a.headers["webhook-id"] for a in attempts}) == 1  # one event, however often it was tried
    assert len({a.body for a in attempts}) == 1
    stamps = [int(a.headers["webhook-timestamp"]) for a in attempts]
    assert stamps == sorted(stamps) and stamps[-1] > stamps[0]  # a backoff: later attempts, each signed anew
    for attempt in attempts:
        verified(attempt)
    assert verified(delivered)["id"] == attempts[0].headers["webhook-id"]


def test_a_receiver_that_stays_down_dead_letters_and_a_retry_delivers(eventful: Stack, receiver: Receiver) -> None:
    receiver.stop()
    try:
        job_id = refresh_job(eventful)
        finish(eventful, job_id)
        deadline = time.monotonic() + 60
        while True:
            status, _, page = eventful.request("GET", "/api/v1/events/failed")
            assert status == 200, page
            mine = [item for item in page["items"] if item["subject"] == f"/jobs/{job_id}"]
            if {item["type"] for item in mine} >= {PREFIX + "job.created", PREFIX + "job.succeeded"}:
                break
            assert time.monotonic() < deadline, page
            time.sleep(0.5)
    finally:
        receiver.start()
    for item in mine:
        assert item["attempts"] >= 2 and item["last_error"]
        assert item["sinks"] == ["webhook 127.0.0.1"]  # the receiver by its host only: a URL may carry a token
        assert item["event"]["id"] == item["id"]
    before = len(receiver.received(lambda d: d.event["subject"] == f"/jobs/{job_id}"))
    assert before == 0
    for item in mine:
        status, _, answer = eventful.request("POST", f"/api/v1/events/failed/{item['id']}/retry")
        assert status == 202, answer
    for item in mine:
        arrived = receiver.wait_for(lambda d, event_id=item["id"]: d.headers["webhook-id"] == event_id)[0]
        assert verified(arrived)["id"] == item["id"]
    status, _, page = eventful.request("GET", "/api/v1/events/failed")
    assert not [item for item in page["items"] if item["subject"] == f"/jobs/{job_id}"]
    status, _, problem = eventful.request("POST", "/api/v1/events/failed/00000000-0000-0000-0000-000000000000/retry")
    assert status == 404, problem


def test_a_stuck_receiver_never_holds_a_job_back(eventful: Stack, receiver: Receiver) -> None:
    receiver.mode = "hold"
    try:
        job_id = refresh_job(eventful)
        deadline = time.monotonic() + 30
        while receiver.held == 0:  # the pump's first request (the job's creation) is held open
            assert time.monotonic() < deadline, "no event reached the receiver"
            time.sleep(0.1)
        job = finish(eventful, job_id)
        assert job["status"] == "Succeeded"
        assert not receiver.received(of("job.succeeded", f"/jobs/{job_id}"))  # still held: the job did not wait
    finally:
        receiver.mode = "ok"
        receiver.release()
    receiver.wait_for(of("job.succeeded", f"/jobs/{job_id}"), timeout=60)


def test_a_lease_that_nears_its_end_is_announced_then_its_delete(eventful: Stack, receiver: Receiver) -> None:
    receiver.mode = "ok"
    vm_id = created(eventful, "evt-lease01", "hv02", lease={"expires_at": moment(20)})
    expiring = verified(receiver.wait_for(of("vm.lease_expiring", f"/vms/{vm_id}"), timeout=60)[0])
    assert expiring["data"]["name"] == "evt-lease01" and expiring["data"]["host"] == "hv02"
    assert expiring["data"]["expires_at"] == eventful.request("GET", f"/api/v1/vms/{vm_id}")[2]["lease"]["expires_at"]
    deleted = verified(receiver.wait_for(of("vm.deleted", f"/vms/{vm_id}"), timeout=90)[0])
    job = eventful.jobs.get(deleted["data"]["job_id"])
    assert job is not None and job.requested_by.id == "system:lease"
    assert vm_id not in eventful.lab.host("hv02").model.vms
    assert len(receiver.received(of("vm.lease_expiring", f"/vms/{vm_id}"))) == 1  # one warning, once delivered
