"""``make run`` stops completely and in dependency order however it is stopped, and ``make stop`` stops it too.

Each test starts the real ``make run`` (Azurite, a one-host simulated lab, the app on the devhost) in its own session
with private ports and data, stops it the way a terminal, a script, a CI runner or a process supervisor does, and then
checks the processes themselves: every recorded pid gone, every process of the tree below make seen before the stop
gone (the guests' agents run in sessions of their own), nothing of the stack found in ``/proc`` by its marker or data
directory, every port free, the pid file removed. The stop order is watched from outside (a thread samples which
children are still alive) and read from the stack's own report, and the output must not hold a traceback (the app
stops before the storage it talks to).
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from tests.run.conftest import READY, ExitWatch, Run, alive, parent, port_is_free

LINUX_VM = {
    "name": "stop01",
    "image": "Ubuntu 24.04 LTS",
    "cpu_cores": 1,
    "memory_gb": 1,
    "network": "External",
    "guest": {"admin_username": "opsadmin", "admin_password": "correct horse battery staple"},
}


def term_group(run: Run) -> None:
    """``kill -TERM -- -<pgid>`` (make also forwards a TERM to its child: ``tools.run`` gets two)."""
    assert run.make is not None
    os.killpg(run.make.pid, signal.SIGTERM)


def term_make(run: Run) -> None:
    """A TERM to make alone: make forwards it to its child and waits for it."""
    assert run.make is not None
    os.kill(run.make.pid, signal.SIGTERM)


def int_twice(run: Run) -> None:
    """Ctrl-C twice in quick succession."""
    assert run.make is not None
    os.killpg(run.make.pid, signal.SIGINT)
    time.sleep(0.1)
    os.killpg(run.make.pid, signal.SIGINT)


def hup_group(run: Run) -> None:
    """The terminal went away."""
    assert run.make is not None
    os.killpg(run.make.pid, signal.SIGHUP)


def term_group_during_stop(run: Run) -> None:
    """A TERM to the group, and another one once the app is being stopped (up to four TERMs reach ``tools.run``)."""
    assert run.make is not None
    os.killpg(run.make.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while "stopping devhost" not in run.output():
        assert time.monotonic() < deadline, run.output()
        time.sleep(0.005)
    os.killpg(run.make.pid, signal.SIGTERM)


STORAGE_DOWN = re.compile(
    r"refused|ECONNREFUSED|ServiceRequestError|Failed to establish a new connection|Max retries exceeded", re.I
)


def assert_stopped_in_order(output: str, *, idle: bool = True) -> None:
    """The app stopped (and was waited for) before the lab, the lab before storage; the app never lost its storage.

    The output holds no traceback (the devhost lets running functions finish before it stops), and no function sees
    storage refuse connections (the stop order).
    """
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
    assert not STORAGE_DOWN.search(output), output[-4000:]
    if idle:
        assert "Traceback" not in output, output[-4000:]
    assert "killing its process group" not in tail, "a part needed KILL: " + tail


@pytest.mark.parametrize(
    "stop",
    [term_group, term_make, int_twice, hup_group, term_group_during_stop],
    ids=["TERM-to-group", "TERM-to-make", "INT-twice", "HUP-to-group", "TERM-again-during-stop"],
)
def test_every_way_of_stopping_leaves_nothing_behind(new_run: Callable[..., Run], stop: Callable[[Run], None]) -> None:
    run = new_run()
    run.start()
    recorded: dict[str, Any] = run.recorded()
    assert [child["name"] for child in recorded["children"]] == ["azurite", "hvsim", "devhost"]
    assert run.make is not None
    assert parent(recorded["runner"]["pid"]) == run.make.pid, (
        "tools.run must be make's own child, so that make's forwarded TERM reaches it"
    )
    tree = run.tree()
    assert set(tree) >= {recorded["runner"]["pid"], *(c["pid"] for c in recorded["children"])}
    assert set(run.processes()) >= {recorded["runner"]["pid"], *(c["pid"] for c in recorded["children"])}
    exits = ExitWatch(recorded["children"])
    stop(run)
    seconds = run.wait_make(timeout=90)
    print(f"\n{stop.__name__}: make run exited {seconds:.1f} s after the signal")
    run.assert_all_gone(recorded, tree)
    assert exits.order() == ["devhost", "hvsim", "azurite"], "the app, then the lab, then storage must go"
    if stop is term_group_during_stop:  # the late TERM reached the stop under way, was noted, and did not cut it short
        assert re.search(r"already stopping, in order — \d+ stop signals so far", run.output()), run.output()[-3000:]
    assert_stopped_in_order(run.output())
    assert seconds < 30


def test_make_stop_stops_a_running_stack_through_its_make_run(new_run: Callable[..., Run]) -> None:
    run = new_run()
    run.start()
    recorded = run.recorded()
    tree = run.tree()
    exits = ExitWatch(recorded["children"])
    began = time.monotonic()
    result = run.make_command("stop")
    print(f"\nmake stop: {time.monotonic() - began:.1f} s")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"process {recorded['runner']['pid']}" in result.stdout
    assert "the stack is stopped" in result.stdout
    run.wait_make(timeout=10)
    run.assert_all_gone(recorded, tree)
    assert exits.order() == ["devhost", "hvsim", "azurite"]
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
    term_group(run)
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
    exits = ExitWatch(recorded["children"])
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
    assert exits.order() == ["hvsim", "devhost", "azurite"]


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
    exits = ExitWatch(recorded["children"])
    int_twice(run)
    seconds = run.wait_make(timeout=90)
    print(f"\nCtrl-C twice during a create: make run exited {seconds:.1f} s after the signal")
    run.assert_all_gone(recorded, tree)
    assert exits.order() == ["devhost", "hvsim", "azurite"]
    assert_stopped_in_order(run.output())  # running functions finish before the devhost stops: no traceback


def test_closing_the_terminal_make_leads_stops_the_stack(new_run: Callable[..., Run]) -> None:
    """Only a session's leader gets the terminal's SIGHUP, and make does not pass it on: the hang-up itself counts."""
    run = new_run()
    close_terminal = run.start_in_terminal()
    recorded = run.recorded()
    tree = run.tree()
    exits = ExitWatch(recorded["children"])
    close_terminal()
    seconds = run.wait_make(timeout=90)
    print(f"\nterminal closed: make run exited {seconds:.1f} s later")
    run.assert_all_gone(recorded, tree)
    assert exits.order() == ["devhost", "hvsim", "azurite"]
