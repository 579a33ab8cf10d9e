"""Record real task-hub histories of every workflow on the local stack, for ``test_upgrade_replay.py``.

Run from the repository root at the commit whose histories you want (``PYTHONPATH=. .venv/bin/python
tests/workflows/recorded/record.py``): it starts Azurite, a three-host lab and the app on the devhost, runs an
inventory refresh, three creates (Linux with static IP and Ansible, clustered Windows joining a domain, a blank
disk), a create whose guest fails (compensated), a shutdown, a start and a delete through the API, and writes each
instance's input, output, custom status and history (as the devhost stored it) to this folder. With the argument
``background`` it records only a create whose disk is copied in the background (``rec-bg01``, workflow version 4,
the lab copying at 1 GB/s so that the copy is polled), leaving the other files as they are. Guest secrets are
sealed in the inputs; nothing here is secret.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tools.azurite import start_azurite
from tools.hvsim.guest import GuestBehaviour
from tools.hvsim.lab import Lab
from tools.hvsim.models import TransitionTimes, default_guest_factory
from tools.stack import Stack, running_stack

OUT = Path(__file__).parent
FAST = GuestBehaviour(boot_delay=0.2, poll_interval=0.1)
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops@example"
LINUX = {
    "name": "rec-lnx01",
    "image": "Ubuntu 24.04 LTS",
    "cpu_cores": 2,
    "memory_gb": 4,
    "disk_gb": 64,
    "network": "External",
    "guest": {
        "admin_username": "opsadmin",
        "admin_password": "correct horse battery staple",
        "ipv4": {"address": "10.0.0.50", "prefix_length": 24, "gateway": "10.0.0.1", "dns_servers": ["10.0.0.2"]},
        "ansible": {"ssh_user": "ansible", "ssh_public_key": KEY},
    },
}
WINDOWS = {
    "name": "rec-win01",
    "host": "hv01",
    "image": "Windows Server 2022 Datacenter",
    "cpu_cores": 2,
    "memory_gb": 4,
    "disk_gb": 127,
    "network": "External",
    "vlan_id": 120,
    "clustered": True,
    "guest": {
        "admin_username": "opsadmin",
        "admin_password": "Change-Me-2026!",
        "domain_join": {
            "domain": "corp.example",
            "username": "joiner",
            "password": "Join-Me-2026!",
            "ou": "OU=Servers,DC=corp,DC=example",
        },
    },
}
BLANK = {"name": "rec-blank01", "host": "hv03", "cpu_cores": 1, "memory_gb": 2, "disk_gb": 20, "os_family": "linux"}
BACKGROUND = {**LINUX, "name": "rec-bg01", "host": "hv03"}


def guests(os_family: str, iso_version: str, behaviour: Any, clock: Any) -> Any:
    return default_guest_factory(os_family, iso_version, behaviour or FAST, clock)


def submit(stack: Stack, method: str, path: str, body: Any = None) -> tuple[str, Any]:
    status, _, job = stack.request(method, path, body)
    assert status == 202, job
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status, _, view = stack.request("GET", f"/api/v1/jobs/{job['id']}")
        if status != 202:
            return str(job["id"]), view
        time.sleep(0.3)
    raise AssertionError(f"job {job['id']} did not finish")


def main() -> None:
    commit = subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], text=True).strip()
    times = TransitionTimes(start=0.2, stop=0.2, save=0.1, reboot=0.2)
    with (
        start_azurite() as azurite,
        tempfile.TemporaryDirectory() as work,
        Lab.start(hosts=3, vms_per_host=2, times=times, guest_factory=guests, ticker_interval=0.05) as lab,
        running_stack(azurite, Path(work), lab, AETHERV_INVENTORY_SCHEDULE="0 0 0 1 1 *") as stack,
    ):
        jobs = [submit(stack, "POST", "/api/v1/inventory/refresh")[0]]
        job_id, view = submit(stack, "POST", "/api/v1/vms", LINUX)
        jobs.append(job_id)
        vm_id = view["result"]["vm_id"]
        jobs.append(submit(stack, "POST", "/api/v1/vms", WINDOWS)[0])
        jobs.append(submit(stack, "POST", "/api/v1/vms", BLANK)[0])
        control = lab.control.url
        stack.request_to(control, "PUT", "/hvsim/hosts/hv03/guest-behaviour", {"fail_module": "mod_net"})
        jobs.append(submit(stack, "POST", "/api/v1/vms", {**LINUX, "name": "rec-fail01", "host": "hv03"})[0])
        stack.request_to(control, "PUT", "/hvsim/hosts/hv03/guest-behaviour", {})
        jobs.append(submit(stack, "POST", f"/api/v1/vms/{vm_id}/shutdown", {"timeout_seconds": 30, "force": True})[0])
        jobs.append(submit(stack, "POST", f"/api/v1/vms/{vm_id}/start")[0])
        jobs.append(submit(stack, "DELETE", f"/api/v1/vms/{vm_id}")[0])
        stack.stop()
        save(stack, jobs, commit)


def record_background() -> None:
    """Only a create whose disk is copied in the background (workflow version 4), polled while the copy runs."""
    commit = subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], text=True).strip()
    times = TransitionTimes(start=0.2, stop=0.2, save=0.1, reboot=0.2)
    options: dict[str, Any] = {"times": times, "guest_factory": guests, "ticker_interval": 0.05}
    with (
        start_azurite() as azurite,
        tempfile.TemporaryDirectory() as work,
        Lab.start(hosts=3, vms_per_host=2, copy_mb_per_second=1024, **options) as lab,
        running_stack(azurite, Path(work), lab, AETHERV_INVENTORY_SCHEDULE="0 0 0 1 1 *") as stack,
    ):
        jobs = [submit(stack, "POST", "/api/v1/vms", BACKGROUND)[0]]
        stack.stop()
        save(stack, jobs, commit)


def save(stack: Stack, jobs: list[str], commit: str) -> None:
    """Write each instance's input, output, custom status and history (as the devhost stored it) to this folder."""
    db = sqlite3.connect(next(Path(stack.store_dir).glob("*.sqlite3")))
    for job_id in jobs:
        name, raw_input, output, custom, status = db.execute(
            "SELECT name, input, output, custom_status, status FROM instances WHERE instance_id = ?", (job_id,)
        ).fetchone()
        history = [
            json.loads(e)
            for (e,) in db.execute("SELECT event FROM history WHERE instance_id = ? ORDER BY idx", (job_id,))
        ]
        document = {
            "recorded_at_commit": commit,
            "instance_id": job_id,
            "orchestrator": name,
            "input": json.loads(raw_input) if raw_input else None,
            "output": json.loads(output) if output else None,
            "custom_status": json.loads(custom) if custom else None,
            "runtime_status": status,
            "history": history,
        }
        (OUT / f"{job_id}.json").write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
        print(job_id, name, status, len(history))


if __name__ == "__main__":
    record_background() if sys.argv[1:] == ["background"] else main()
