"""The whole local stack for end-to-end tests: Azurite, a simulated Hyper-V lab and the app on the devhost.

The lab runs in the test process (so tests can inject faults and read counters); the app runs in a devhost
subprocess, exactly as ``make run`` starts it, with fast guest-handshake timing. Tests talk to the app over HTTP
and read the tables directly to check what the workflows wrote.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from azure.data.tables import TableServiceClient
from requests.structures import CaseInsensitiveDict

from functions.inventory.repository import InventoryRepository
from functions.jobs.store import JobStore
from functions.settings import Secret
from tests.conftest import ROOT
from tools.azurite import Azurite, free_port
from tools.hvsim.guest import GuestBehaviour
from tools.hvsim.lab import Lab
from tools.hvsim.models import TransitionTimes, default_guest_factory

FAST_GUEST = GuestBehaviour(boot_delay=0.2, poll_interval=0.1)


def fast_guests(os_family: str, iso_version: str, behaviour: Any, clock: Any) -> Any:
    """The lab's simulated guests, polling every 0.1 s instead of 5 s."""
    return default_guest_factory(os_family, iso_version, behaviour or FAST_GUEST, clock)


@dataclass
class Stack:
    """A running stack and helpers to drive it."""

    base_url: str
    lab: Lab
    env: dict[str, str]
    repo: InventoryRepository
    jobs: JobStore
    seal_key: Secret
    store_dir: Path
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    started: list[str] = field(default_factory=list)

    # -- HTTP ------------------------------------------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        """(status, headers, parsed JSON or text) of one HTTP call to the app."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                raw, status, head = response.read(), response.status, CaseInsensitiveDict(response.headers)
        except urllib.error.HTTPError as error:
            raw, status, head = error.read(), error.code, CaseInsensitiveDict(error.headers)
        try:
            return status, head, json.loads(raw) if raw else None
        except ValueError:
            return status, head, raw.decode(errors="replace")

    def request_to(self, base: str, method: str, path: str, body: Any = None) -> Any:
        """One HTTP call to another local server (the lab's control plane)."""
        saved = self.base_url
        self.base_url = base.rstrip("/")
        try:
            return self.request(method, path, body)
        finally:
            self.base_url = saved

    def start(self, orchestrator: str, instance_id: str, payload: Any) -> None:
        """Start an orchestration through the management API."""
        status, _, body = self.request(
            "POST", f"/runtime/webhooks/durabletask/orchestrators/{orchestrator}/{instance_id}", payload
        )
        assert status == 202, body
        self.started.append(instance_id)

    def status(self, instance_id: str) -> dict[str, Any]:
        """The Durable status of an instance."""
        _, _, body = self.request("GET", f"/runtime/webhooks/durabletask/instances/{instance_id}?showInput=false")
        return body if isinstance(body, dict) else {}

    def wait(self, instance_id: str, timeout: float = 90, *, until: Any = None) -> dict[str, Any]:
        """Poll until the instance finished (or ``until(status)`` holds)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status(instance_id)
            if until is not None and until(status):
                return status
            if status.get("runtimeStatus") in ("Completed", "Failed", "Terminated", "Canceled"):
                return status
            time.sleep(0.2)
        raise AssertionError(f"{instance_id} did not finish: {self.status(instance_id)}")

    # -- the devhost process ---------------------------------------------------------------------------------------

    def launch(self) -> None:
        """Start (or restart) the devhost on the same store and port."""
        assert self.log_path is not None
        port = self.base_url.rsplit(":", 1)[1]
        args = [sys.executable, "-m", "tools.devhost", "--port", port, "--store", str(self.store_dir)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, urllib.error.URLError):
                status, _, _ = self.request("GET", "/api/healthz")
                if status == 200:
                    return
            assert self.process.poll() is None, self.log_path.read_text(errors="replace")[-3000:]
            time.sleep(0.2)
        raise AssertionError("the devhost did not start")

    def kill(self) -> None:
        """``kill -9`` the devhost."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """Stop the devhost cleanly."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def stack_env(azurite: Azurite, lab: Lab, prefix: str, seal_key: Secret, hub: str) -> dict[str, str]:
    """The app settings of a test stack."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "AzureWebJobsStorage": azurite.connection_string,
        "AETHERV_TASK_HUB": hub,
        "AETHERV_TABLE_PREFIX": prefix,
        "AETHERV_AUTH_MODE": "none",
        "AETHERV_SEAL_KEY": seal_key.reveal(),
        "AETHERV_HOSTS": lab.aetherv_hosts,
        "AETHERV_HOST_ADDRESSES": ",".join(f"{name}={address}" for name, address in lab.addresses.items()),
        "AETHERV_WINRM_USERNAME": lab.username,
        "AETHERV_WINRM_PASSWORD": lab.password,
        "AETHERV_WINRM_CA_BUNDLE": str(lab.ca.ca_pem_path),
        "AETHERV_WINRM_CONNECT_TIMEOUT": "3",
        "AETHERV_WINRM_OPERATION_TIMEOUT": "10",
        "AETHERV_WINRM_READ_TIMEOUT": "15",
        "AETHERV_INVENTORY_SCHEDULE": "*/20 * * * * *",
        "AETHERV_GUEST_KEY_TIMEOUT": "30",
        "AETHERV_GUEST_APPLY_TIMEOUT": "60",
        "AETHERV_GUEST_POLL_INTERVAL": "0.2",
        "AETHERV_GUEST_PUBLISH_DELAY": "0.5",
    }


@pytest.fixture(scope="session")
def stack(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The session's stack (one lab, one devhost); tests must not assume a pristine lab."""
    times = TransitionTimes(start=0.2, stop=0.2, save=0.1, reboot=0.2)
    lab_options = {"times": times, "guest_factory": fast_guests, "ticker_interval": 0.05, "username": "LAB\\e2e"}
    with Lab.start(hosts=3, vms_per_host=3, **lab_options) as lab:
        prefix = "e" + uuid.uuid4().hex[:10]
        seal_key = Secret(base64.b64encode(os.urandom(32)).decode())
        env = stack_env(azurite, lab, prefix, seal_key, "E2E" + uuid.uuid4().hex[:8])
        service = TableServiceClient.from_connection_string(azurite.connection_string)
        work = tmp_path_factory.mktemp("stack")
        stack = Stack(
            base_url=f"http://127.0.0.1:{free_port()}",
            lab=lab,
            env=env,
            repo=InventoryRepository(service, prefix),
            jobs=JobStore(service, prefix),
            seal_key=seal_key,
            store_dir=work / "taskhub",
            log_path=work / "devhost.log",
        )
        stack.launch()
        try:
            yield stack
        finally:
            stack.stop()


def durable_client(stack: Stack) -> Any:
    """A real SDK client talking to the stack's devhost (as a client function would get it)."""
    import azure.durable_functions as df

    from tools.devhost.bindings import client_binding_json

    return df.DurableOrchestrationClient(client_binding_json(stack.base_url, stack.env["AETHERV_TASK_HUB"]))


@pytest.fixture
def synced(stack: Stack) -> Stack:
    """The stack once its start-up inventory sync has stored every host."""
    deadline = time.monotonic() + 60
    while len(stack.repo.list_hosts()) < len(stack.lab.hosts):
        assert time.monotonic() < deadline, "the start-up sync did not store every host"
        time.sleep(0.2)
    return stack
