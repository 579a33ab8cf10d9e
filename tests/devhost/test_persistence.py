"""Crash recovery: kill -9 the devhost mid-orchestration, restart it on the same SQLite store."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from .conftest import APPS, request, wait_for

ROOT = Path(__file__).resolve().parents[2]


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(10)
    if process.stdout is not None:
        process.stdout.close()


def spawn(store: Path, work_log: Path, stderr: Path) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "DEVHOST_WORK_LOG": str(work_log), "PYTHONPATH": str(ROOT)}
    with stderr.open("a") as errors:
        return _spawn(store, env, errors, stderr)


def _spawn(store: Path, env: dict[str, str], errors: IO[str], stderr: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tools.devhost",
            "--app",
            str(APPS / "persist"),
            "--store",
            str(store),
            "--port",
            "0",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    lines = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        match = re.search(r"Listening on (http://\S+)", line)
        if match:
            return process, match.group(1)
        if not line and process.poll() is not None:
            break
    stop(process)
    raise AssertionError(f"devhost did not start: {lines} {stderr.read_text()}")


def test_kill_9_then_restart_resumes_the_orchestration(tmp_path: Path) -> None:
    store = tmp_path / "store"
    work_log = tmp_path / "work.log"
    work_log.touch()
    stderr = tmp_path / "stderr.log"
    process, url = spawn(store, work_log, stderr)
    try:
        reply = request("POST", f"{url}/api/start/crash-1", json.dumps(4))
        assert reply.status == 202
        # Kill while activity 1 is running (started, not finished) and timers have been used.
        deadline = time.monotonic() + 20
        while "start 1\n" not in work_log.read_text():
            assert time.monotonic() < deadline, work_log.read_text()
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        stop(process)
    assert "end 1\n" not in work_log.read_text()
    assert (store / "PersistHub.sqlite3").exists()

    process, url = spawn(store, work_log, stderr)
    try:
        status = wait_for(f"{url}/runtime/webhooks/durabletask/instances/crash-1", timeout=30)
        assert status["runtimeStatus"] == "Completed", status
        assert status["output"] == {"results": [0, 10, 20, 30], "parallel": [1000, 1010, 1020]}
        lines = work_log.read_text().splitlines()
        assert lines.count("start 1") == 2  # at-least-once: the interrupted activity ran again
        assert lines.count("end 1") == 1
        assert lines.count("start 0") == 1  # completed work is not repeated
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
        assert process.stdout is not None
        assert "devhost stopped" in process.stdout.read()
    finally:
        stop(process)
