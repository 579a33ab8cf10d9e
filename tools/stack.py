"""A running local stack — the app on a devhost subprocess, the Azurite and Hyper-V lab it uses — with HTTP helpers.

Used by the end-to-end tests and the benchmarks: :class:`Stack` starts (and restarts, or ``kill -9``s) the devhost
exactly as ``make run`` does and talks to it over HTTP; :func:`stack_env` builds the app settings that point it at
an Azurite and a :class:`~tools.hvsim.lab.Lab`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import sqlite3
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

from azure.data.tables import TableServiceClient
from requests.structures import CaseInsensitiveDict

from functions.inventory.repository import InventoryRepository
from functions.jobs.records import JobStore
from functions.settings import Secret
from tools.azurite import ROOT, Azurite, free_port
from tools.hvsim.lab import Lab

__all__ = ["Stack", "durable_client", "running_stack", "stack_env"]


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
        if not self.base_url.startswith("http://127.0.0.1:"):
            raise ValueError("the stack only talks to loopback http")
        request = urllib.request.Request(self.base_url + path, data=data, method=method)  # noqa: S310
        request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                head = CaseInsensitiveDict(dict(response.headers.items()))
                raw, status = response.read(), response.status
        except urllib.error.HTTPError as error:
            raw, status, head = error.read(), error.code, CaseInsensitiveDict(dict(error.headers.items()))
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

    def history(self, instance_id: str) -> list[dict[str, Any]]:
        """The instance's history as the devhost stored it (read from its task hub store, not through the API)."""
        stores = sorted(self.store_dir.glob("*.sqlite3"))
        assert stores, f"no task hub store in {self.store_dir}"
        with contextlib.closing(sqlite3.connect(f"file:{stores[0]}?mode=ro", uri=True, timeout=10)) as db:
            rows = db.execute("SELECT event FROM history WHERE instance_id = ? ORDER BY idx", (instance_id,))
            return [json.loads(event) for (event,) in rows]

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


def stack_env(
    azurite: Azurite, lab: Lab | None, prefix: str, seal_key: Secret, hub: str, **overrides: str
) -> dict[str, str]:
    """The app settings of a local stack: fast guest and host-operation timing, and the lab's hosts and credentials."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "FUNCTIONS_WORKER_RUNTIME": "python",
        # The deployment sizes the worker's one thread pool (infra/app/api.bicep): the local stack runs with the same.
        "PYTHON_THREADPOOL_THREAD_COUNT": "24",
        "AzureWebJobsStorage": azurite.connection_string,
        "AETHERV_TASK_HUB": hub,
        "AETHERV_TABLE_PREFIX": prefix,
        "AETHERV_AUTH_MODE": "none",
        "AETHERV_SEAL_KEY": seal_key.reveal(),
        "AETHERV_WINRM_CONNECT_TIMEOUT": "3",
        "AETHERV_WINRM_OPERATION_TIMEOUT": "10",
        "AETHERV_WINRM_READ_TIMEOUT": "15",
        "AETHERV_INVENTORY_SCHEDULE": "*/20 * * * * *",
        "AETHERV_GUEST_KEY_TIMEOUT": "30",
        "AETHERV_GUEST_APPLY_TIMEOUT": "60",
        "AETHERV_GUEST_POLL_INTERVAL": "0.2",
        "AETHERV_GUEST_PUBLISH_DELAY": "0.5",
        "AETHERV_HOST_OPERATION_POLL_INTERVAL": "0.2",
        # Leases in seconds: the warning 7.2 s before expiry, a lease workflow re-reads its lease every 3.6 s.
        "AETHERV_LEASE_WARNING_HOURS": "0.002",
        "AETHERV_LEASE_CHECK_HOURS": "0.001",
    }
    if lab is not None:
        env |= {
            "AETHERV_HOSTS": lab.aetherv_hosts,
            "AETHERV_HOST_ADDRESSES": ",".join(f"{name}={address}" for name, address in lab.addresses.items()),
            "AETHERV_WINRM_USERNAME": lab.username,
            "AETHERV_WINRM_PASSWORD": lab.password,
            "AETHERV_WINRM_CA_BUNDLE": str(lab.ca.ca_pem_path),
        }
    return env | overrides


@contextlib.contextmanager
def running_stack(azurite: Azurite, work: Path, lab: Lab | None = None, **settings: str) -> Iterator[Stack]:
    """Start the app on a devhost subprocess with fresh tables and task hub; stopped when the block ends.

    ``settings`` override app settings (e.g. ``AETHERV_AUTH_MODE``); the lab, when given, provides the hosts.
    """
    prefix = "s" + uuid.uuid4().hex[:10]
    seal_key = Secret(base64.b64encode(os.urandom(32)).decode())
    env = stack_env(azurite, lab, prefix, seal_key, "Hub" + uuid.uuid4().hex[:8], **settings)
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    stack = Stack(
        base_url=f"http://127.0.0.1:{free_port()}",
        lab=lab,  # type: ignore[arg-type]
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
