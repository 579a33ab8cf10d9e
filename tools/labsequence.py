"""Labs of different sizes one after another on the same ``.azurite`` data, as someone trying the project would.

    python -m tools.labsequence                  # 50 x 40, then 3 x 5, then 200 x 100
    python -m tools.labsequence 12x4 3x5 30x10   # any sizes: HOSTSxVMS

Each step runs ``make run``'s stack (``python -m tools.run``) with ``LAB_HOSTS``/``LAB_VMS``, waits for the start-up
sync, starts a refresh through ``POST /api/v1/inventory/refresh`` and waits for it, then compares the tables (through
the API) with the lab (through hvsim's control plane): the same hosts, and on each host the same VMs. It then stops
the stack with ``python -m tools.run stop``. Prints one line per step; exits 1 when a step did not end correct.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from tools.azurite import ROOT

DEFAULT_SIZES = ("50x40", "3x5", "200x100")


def _get(url: str, method: str = "GET", timeout: float = 60) -> tuple[int, Any]:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def _wait_job(base: str, job_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = _get(f"{base}/api/v1/jobs/{job_id}")
        if status != 202:
            return dict(body.get("job", body))
        time.sleep(1)
    raise TimeoutError(f"job {job_id} did not end in {timeout:.0f} s")


def _tables(base: str) -> dict[str, set[str]]:
    hosts: dict[str, set[str]] = {}
    status, body = _get(f"{base}/api/v1/hosts?limit=500")
    assert status == 200, body
    for host in body["items"]:
        hosts[host["name"]] = set()
    continuation: str | None = None
    while True:
        query = "limit=500" + (f"&continuation={urllib.parse.quote(continuation)}" if continuation else "")
        status, page = _get(f"{base}/api/v1/vms?{query}")
        assert status == 200, page
        for vm in page["items"]:
            hosts.setdefault(vm["host"], set()).add(vm["id"].lower())
        continuation = page.get("continuation")
        if not continuation:
            return hosts


def _lab(control: str) -> dict[str, set[str]]:
    status, hosts = _get(f"{control}/hvsim/hosts")
    assert status == 200, hosts
    lab: dict[str, set[str]] = {}
    for host in hosts:
        status, vms = _get(f"{control}/hvsim/hosts/{host['name']}/vms")
        assert status == 200, vms
        lab[str(host["name"])] = {str(vm["id"]).lower() for vm in vms}
    return lab


def step(size: str, port: int) -> bool:
    """Run one lab size; whether the tables ended equal to the lab."""
    hosts, vms = size.lower().split("x")
    env = {**os.environ, "LAB_HOSTS": hosts, "LAB_VMS": vms, "PORT": str(port)}
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "tools.run"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    control = None
    assert process.stdout is not None
    try:
        for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip()
            found = re.search(r"hvsim control plane: (\S+)", line)
            control = found.group(1) if found else control
            if "Aether-V is running" in line or process.poll() is not None:
                break
        stdout = process.stdout
        threading.Thread(target=lambda: [None for _ in stdout], daemon=True).start()  # keep the pipe drained
        base = f"http://127.0.0.1:{port}"
        timeout = 120 + int(hosts) * int(vms) / 20
        status, running = _get(f"{base}/api/v1/inventory/refresh", "POST")  # the start-up sync, or a new one
        assert status == 202, running
        _wait_job(base, str(running["id"]), timeout)
        status, job = _get(f"{base}/api/v1/inventory/refresh", "POST")  # one that surely starts after it
        assert status == 202, job
        refreshed = _wait_job(base, str(job["id"]), timeout)
        assert control is not None, "no control plane URL in the output"
        tables = _tables(base)
        lab = _lab(control)
        correct = refreshed["status"] == "Succeeded" and tables == lab
        stored = sum(len(ids) for ids in tables.values())
        print(
            f"{size}: refresh {refreshed['status']}, {len(tables)} hosts / {stored} VMs in the tables, "
            f"lab {len(lab)} hosts / {sum(len(ids) for ids in lab.values())} VMs, "
            f"{'correct' if correct else 'WRONG'} ({time.monotonic() - started:.0f} s)",
            flush=True,
        )
        return correct
    finally:
        subprocess.run([sys.executable, "-m", "tools.run", "stop"], cwd=ROOT, env=env, check=False)
        process.wait(60)


def main(argv: list[str]) -> int:
    sizes = argv or list(DEFAULT_SIZES)
    port = int(os.environ.get("PORT", "7071"))
    results = [step(size, port) for size in sizes]
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
