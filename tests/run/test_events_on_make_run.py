"""``make run`` with a webhook receiver: a create, a failed create and a delete arrive as signed CloudEvents.

The receiver is the one the event tests use (tests/support/receiver.py), listening on loopback; the stack is a real
``make run`` configured only through its environment, as a user would (``AETHERV_WEBHOOK_URLS``,
``AETHERV_WEBHOOK_SECRET``). Signatures are checked with the ``standardwebhooks`` library.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from standardwebhooks import Webhook

from tests.run.conftest import Run
from tests.run.test_stop import LINUX_VM
from tests.support.receiver import Receiver


def call(base: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def finish(base: str, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    while True:
        status, document = call(base, "GET", f"/api/v1/jobs/{job_id}")
        if status != 202:
            return document.get("job", document)
        assert time.monotonic() < deadline, document
        time.sleep(0.5)


def test_events_of_a_create_a_failure_and_a_delete_arrive_signed(new_run: Callable[..., Run]) -> None:
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    receiver = Receiver()
    try:
        run = new_run(AETHERV_WEBHOOK_URLS=receiver.url, AETHERV_WEBHOOK_SECRET=secret)
        run.start()
        base = f"http://127.0.0.1:{run.ports['PORT']}"
        status, job = call(base, "POST", "/api/v1/vms", {**LINUX_VM, "name": "events01"})
        assert status == 202, job
        created = finish(base, job["id"])
        assert created["status"] == "Succeeded", created
        vm_id = created["result"]["vm_id"]
        # the lab's host refuses the next create (hvsim's control plane, which make run prints)
        control = re.search(r"hvsim control plane: (\S+)", run.output())
        assert control, run.output()
        fault = {"script_errors": {"create_vm": {"category": "ScriptFailed", "message": "refused by the host"}}}
        assert call(control.group(1).rstrip("/"), "PATCH", "/hvsim/hosts/hv01/faults", fault)[0] == 200
        status, bad = call(base, "POST", "/api/v1/vms", {**LINUX_VM, "name": "events02"})
        assert status == 202, bad
        assert finish(base, bad["id"])["status"] == "Failed"
        status, gone = call(base, "DELETE", f"/api/v1/vms/{vm_id}")
        assert status == 202, gone
        assert finish(base, gone["id"])["status"] == "Succeeded"

        wanted = {
            ("io.aetherv.job.created", f"/jobs/{job['id']}"),
            ("io.aetherv.job.succeeded", f"/jobs/{job['id']}"),
            ("io.aetherv.vm.created", f"/vms/{vm_id}"),
            ("io.aetherv.job.failed", f"/jobs/{bad['id']}"),
            ("io.aetherv.job.succeeded", f"/jobs/{gone['id']}"),
            ("io.aetherv.vm.deleted", f"/vms/{vm_id}"),
        }
        deadline = time.monotonic() + 60
        while True:
            verified = [Webhook(secret).verify(d.body, d.headers) for d in receiver.received()]
            seen = {(event["type"], event["subject"]) for event in verified}
            if wanted <= seen:
                break
            assert time.monotonic() < deadline, sorted(wanted - seen)
            time.sleep(0.5)
        assert all(d.headers["webhook-id"] == d.event["id"] for d in receiver.received())
        assert "correct horse battery staple" not in repr([d.body for d in receiver.received()])
    finally:
        receiver.stop()
