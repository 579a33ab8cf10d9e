"""``make run`` stops completely and in dependency order however it is stopped, and ``make stop`` stops it too.

Each test starts the real ``make run`` (Azurite, a one-host simulated lab, the app on the devhost) in its own session
with private ports and data, stops it the way a terminal, a script, a CI runner or a process supervisor does, and then
checks the processes themselves: every recorded pid gone, nothing of the stack found in ``/proc``, every port free,
the pid file removed. The stop order is read from the stack's own report, and the app's output must not hold a
traceback (the app stops before the storage it talks to).
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.run.conftest import READY, Run, alive, port_is_free

LINUX_VM = {
    "name": "stop01",
    "image": "Ubuntu 24.04 LTS",
    "cpu_cores": 1,
    "memory_gb": 1,
    "network": "External",
    "guest": {"admin_username": "opsadmin", "admin_password": "correct horse battery staple"},
}


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def term_group(make_pid: int) -> None:
    """``kill -TERM -- -<pgid>`` (make also forwards a TERM to its child: ``tools.run`` gets two)."""
    os.killpg(make_pid, signal.SIGTERM)


def term_make(make_pid: int) -> None:
    """A TERM to make alone: make forwards it to its child and waits for it."""
    os.kill(make_pid, signal.SIGTERM)


def int_twice(make_pid: int) -> None:
    """Ctrl-C twice in quick succession."""
    os.killpg(make_pid, signal.SIGINT)
    time.sleep(0.1)
    os.killpg(make_pid, signal.SIGINT)


def hup_group(make_pid: int) -> None:
    """The terminal went away."""
    os.killpg(make_pid, signal.SIGHUP)


def term_group_during_stop(make_pid: int) -> None:
    """A TERM to the group, and another one while the stack is stopping (four TERMs reach ``tools.run``)."""
    os.killpg(make_pid, signal.SIGTERM)
    time.sleep(0.3)
    os.killpg(make_pid, signal.SIGTERM)


def assert_stopped_in_order(output: str) -> None:
    """The app stopped (and was waited for) before the lab, the lab before storage; no traceback anywhere."""
    tail = output[output.index("stopping: the app, then the lab, then storage") :]
    positions = [
        tail.index("stopping devhost"),
        tail.index("devhost stopped ("),
        tail.index("stopping hvsim"),
        tail.index("hvsim stopped ("),
        tail.index("stopping azurite"),
        tail.index("azurite stopped ("),
    ]
    assert positions == sorted(positions), tail
    assert "Traceback" not in output, output[-4000:]
    assert "refused" not in output.lower(), output[-4000:]
    assert "killing its process group" not in tail, "a part needed KILL: " + tail


@pytest.mark.parametrize(
    "stop",
    [term_group, term_make, int_twice, hup_group, term_group_during_stop],
    ids=["TERM-to-group", "TERM-to-make", "INT-twice", "HUP-to-group", "TERM-again-during-stop"],
)
def test_every_way_of_stopping_leaves_nothing_behind(new_run: Callable[..., Run], stop: Callable[[int], None]) -> None:
    run = new_run()
    run.start()
    recorded: dict[str, Any] = run.recorded()
    assert [child["name"] for child in recorded["children"]] == ["azurite", "hvsim", "devhost"]
    assert run.make is not None
    assert parent_of(recorded["runner"]["pid"]) == run.make.pid, (
        "tools.run must be make's own child, so that make's forwarded TERM reaches it"
    )
    tree = run.tree()
    assert set(tree) >= {recorded["runner"]["pid"], *(c["pid"] for c in recorded["children"])}
    assert set(run.processes()) >= {recorded["runner"]["pid"], *(c["pid"] for c in recorded["children"])}
    stop(run.make.pid)
    seconds = run.wait_make(timeout=90)
    print(f"\n{stop.__name__}: make run exited {seconds:.1f} s after the signal")
    run.assert_all_gone(recorded, tree)
    assert_stopped_in_order(run.output())
    assert seconds < 30


def test_make_stop_stops_a_running_stack_through_its_make_run(new_run: Callable[..., Run]) -> None:
    run = new_run()
    run.start()
    recorded = run.recorded()
    tree = run.tree()
    began = time.monotonic()
    result = run.make_command("stop")
    print(f"\nmake stop: {time.monotonic() - began:.1f} s")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"process {recorded['runner']['pid']}" in result.stdout
    assert "the stack is stopped" in result.stdout
    run.wait_make(timeout=10)
    run.assert_all_gone(recorded, tree)
    assert_stopped_in_order(run.output())
    again = run.make_command("stop")
    assert again.returncode == 0
    assert "no stack of this checkout is running" in again.stdout


def test_a_stop_during_the_start_leaves_nothing_behind(new_run: Callable[..., Run]) -> None:
    run = new_run()
    run.start(wait_ready=False)
    assert run.make is not None
    deadline = time.monotonic() + 60
    while not (run.stack_file.exists() and run.recorded()["children"]):  # Azurite started, the rest still coming
        assert run.make.poll() is None, run.output()
        assert time.monotonic() < deadline, run.output()
        time.sleep(0.05)
    tree = run.tree()
    term_group(run.make.pid)
    seconds = run.wait_make(timeout=60)
    assert not [pid for pid, (start, _) in tree.items() if alive(pid, start)]
    print(f"\nTERM during the start: make run exited {seconds:.1f} s after the signal")
    assert run.processes() == {}, run.output()
    assert not run.stack_file.exists()
    assert all(port_is_free(port) for port in run.ports.values())
    assert "Traceback" not in run.output(), run.output()
    assert READY not in run.output()


def test_a_part_that_dies_stops_the_rest_in_order(new_run: Callable[..., Run]) -> None:
    run = new_run()
    run.start()
    recorded = run.recorded()
    assert run.make is not None
    lab = next(child for child in recorded["children"] if child["name"] == "hvsim")
    tree = run.tree()
    os.killpg(lab["pid"], signal.SIGKILL)
    seconds = run.wait_make(timeout=60)
    print(f"\nthe lab killed: make run exited {seconds:.1f} s later")
    assert run.make.returncode != 0
    output = run.output()
    assert "hvsim exited (status -9); stopping the rest" in output
    tail = output[output.index("stopping: the app, then the lab, then storage") :]
    assert tail.index("stopping devhost") < tail.index("hvsim (pid") < tail.index("stopping azurite"), tail
    assert "had already exited" in tail
    run.assert_all_gone(recorded, tree)


def test_ctrl_c_while_a_vm_is_being_created_stops_its_guest_agent_too(new_run: Callable[..., Run]) -> None:
    run = new_run()
    run.start()
    recorded = run.recorded()
    base = f"http://127.0.0.1:{run.ports['PORT']}"
    request = urllib.request.Request(f"{base}/api/v1/vms", data=json.dumps(LINUX_VM).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 202
    deadline = time.monotonic() + 60
    tree = run.tree()
    while not any("aetherv-guest-agent" in command for _, command in tree.values()):
        assert time.monotonic() < deadline, "the new guest's agent did not start"
        time.sleep(0.1)
        tree = run.tree()
    assert run.make is not None
    int_twice(run.make.pid)
    seconds = run.wait_make(timeout=90)
    print(f"\nCtrl-C twice during a create: make run exited {seconds:.1f} s after the signal")
    run.assert_all_gone(recorded, tree)
    assert_stopped_in_order(run.output())
