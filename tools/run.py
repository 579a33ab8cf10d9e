"""``make run``: start the local stack and stop all of it on Ctrl-C.

1. Azurite (from ``node_modules``, data under ``.azurite/``) on its usual ports 10000-10002.
2. A simulated Hyper-V lab (``tools/hvsim``) sized by ``LAB_HOSTS``, ``LAB_VMS`` and ``LAB_LATENCY_MS`` (defaults 3, 5,
   0) — unless real hosts are configured (``AETHERV_HOSTS`` in the environment or in ``local.settings.json``).
3. The app on http://127.0.0.1:``PORT`` (default 7071): the local devhost, or ``func start`` when Azure Functions Core
   Tools are installed and ``AETHERV_USE_FUNC=1``.

Settings come from the environment and ``local.settings.json`` (created from the sample on first run). Local runs use
``AETHERV_AUTH_MODE=none`` unless the environment sets ``AETHERV_AUTH_MODE``. Every child runs in its own process
group and is stopped (TERM, then KILL) when this command ends, whatever the reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from tools.azurite import ROOT, start_azurite

LOCAL_SETTINGS = ROOT / "local.settings.json"
SAMPLE = ROOT / "local.settings.sample.json"


class Stack:
    """The processes started so far, stopped in reverse order."""

    def __init__(self) -> None:
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, args: list[str], env: dict[str, str], **kwargs: Any) -> subprocess.Popen[bytes]:
        """Start a child in its own process group and remember it."""
        process = subprocess.Popen(args, cwd=ROOT, env=env, start_new_session=True, **kwargs)
        self.processes.append((name, process))
        return process

    def poll(self) -> str | None:
        """The name of a child that exited, if any."""
        for name, process in self.processes:
            if process.poll() is not None:
                return name
        return None

    def stop(self) -> None:
        """Stop every child: TERM, wait, then KILL what is left."""
        for _, process in reversed(self.processes):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _, process in reversed(self.processes):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def local_values() -> dict[str, str]:
    """``local.settings.json`` values, creating the file from the sample on first run."""
    if not LOCAL_SETTINGS.exists():
        shutil.copyfile(SAMPLE, LOCAL_SETTINGS)
        print(f"created {LOCAL_SETTINGS.name} from the sample")
    values: dict[str, str] = json.loads(LOCAL_SETTINGS.read_text(encoding="utf-8")).get("Values", {})
    return values


def start_lab(stack: Stack, env: dict[str, str]) -> dict[str, str]:
    """Start the simulated lab and return the settings that point the app at it."""
    hosts = os.environ.get("LAB_HOSTS", "3")
    vms = os.environ.get("LAB_VMS", "5")
    latency = os.environ.get("LAB_LATENCY_MS", "0")
    args = [sys.executable, "-m", "tools.hvsim", "--hosts", hosts, "--vms-per-host", vms]
    args += ["--latency-ms", latency, "--json"]
    process = stack.start("hvsim", args, env, stdout=subprocess.PIPE)
    assert process.stdout is not None
    text = ""
    while True:  # the lab prints one JSON document (indented over several lines), then serves
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the simulated lab did not start (see its output above)")
        text += line.decode()
        try:
            lab: list[dict[str, Any]] = json.loads(text)
            break
        except ValueError:
            continue
    names, addresses = [], []
    for host in lab:
        endpoint = urlsplit(host["endpoint"])
        names.append(f"{host['name']}:{endpoint.port}")
        addresses.append(f"{host['name']}={endpoint.hostname}")
    print(f"hvsim: {len(lab)} simulated Hyper-V host(s), {vms} VMs each, {latency} ms latency")
    print(f"hvsim control plane: {lab[0]['control']}")
    return {
        "AETHERV_HOSTS": ",".join(names),
        "AETHERV_HOST_ADDRESSES": ",".join(addresses),
        "AETHERV_WINRM_USERNAME": lab[0]["username"],
        "AETHERV_WINRM_PASSWORD": lab[0]["password"],
        "AETHERV_WINRM_CA_BUNDLE": lab[0]["ca_cert"],
        "AETHERV_WINRM_SCHEME": "https",
        "AETHERV_WINRM_TRANSPORT": "ntlm",
        "AETHERV_WINRM_VERIFY_TLS": "true",
    }


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> bool:
    """Wait until ``url`` answers 200 (or the process dies)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
            if response.status == 200:
                return True
        time.sleep(0.5)
    return False


@contextlib.contextmanager
def running() -> Iterator[Stack]:
    """A stack that is stopped when the block ends, including on signals."""
    stack = Stack()

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield stack
    finally:
        stack.stop()


def main() -> int:
    """Run the stack until interrupted."""
    values = local_values()
    port = os.environ.get("PORT", "7071")
    env = {**os.environ}
    for name, value in values.items():
        env.setdefault(name, value)
    real_hosts = env.get("AETHERV_HOSTS", "").strip()
    with running() as stack:
        try:
            azurite = start_azurite(ROOT / ".azurite", ports=(10000, 10001, 10002))
            stack.processes.append(("azurite", azurite.process))
            print("Azurite: blob :10000, queue :10001, table :10002 (data in .azurite/)")
            if real_hosts:
                print(f"Using the configured Hyper-V hosts: {real_hosts}")
            else:
                env.update(start_lab(stack, env))
            if env.get("AETHERV_AUTH_MODE", "none") == "none":
                print("WARNING: local mode - AETHERV_AUTH_MODE=none: the API accepts unauthenticated calls on loopback")
            if os.environ.get("AETHERV_USE_FUNC") == "1" and shutil.which("func"):
                app = stack.start("func", ["func", "start", "--port", port], env)
            else:
                app = stack.start("devhost", [sys.executable, "-m", "tools.devhost", "--port", port], env)
            base = f"http://127.0.0.1:{port}"
            if not wait_healthy(f"{base}/api/healthz", app):
                print("the app did not become healthy; see its output above", file=sys.stderr)
                return 1
            print(f"\nAether-V is running: {base}/api/healthz  (Ctrl-C stops everything)\n")
            while (exited := stack.poll()) is None:
                time.sleep(0.5)
            print(f"{exited} exited; stopping", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\nstopping")
            return 0


if __name__ == "__main__":
    sys.exit(main())
