"""``make run`` refuses at once to start on a taken port, naming the process; ``make stop`` stops a stack left over.

A port is taken by a real listening process (a small Python server in its own session); the start must fail within
seconds, say which port and variable, the process id and command line, and how to stop it — and start nothing. A
stack left over (its ``make run`` killed with SIGKILL, so its children run on) is recognised as this checkout's, and
``make stop`` stops it by the process ids it recorded.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from tests.run.conftest import Run, alive, port_is_free

SQUATTER = "import socket, sys, time; s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(); "
SQUATTER += "print('listening', flush=True); time.sleep(300)"


@pytest.mark.parametrize("taken", ["AZURITE_TABLE_PORT", "PORT"])
def test_a_taken_port_fails_the_start_at_once_naming_the_process(new_run: Callable[..., Run], taken: str) -> None:
    run = new_run()
    port = run.ports[taken]
    squatter = subprocess.Popen(
        [sys.executable, "-c", SQUATTER, str(port), "port-squatter"],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    run.extra.append(squatter)
    assert squatter.stdout is not None
    assert squatter.stdout.readline() == b"listening\n"
    began = time.monotonic()
    result = run.make_command("run", timeout=30)
    seconds = time.monotonic() - began
    print(f"\n{taken} taken: make run failed after {seconds:.1f} s")
    message = result.stderr
    assert result.returncode != 0
    assert seconds < 10
    assert f"port {port} ({'the app' if taken == 'PORT' else 'Azurite table'}, {taken}) is in use" in message, message
    assert f"process {squatter.pid}: " in message
    assert "port-squatter" in message  # its command line
    assert f"`kill {squatter.pid}`" in message
    assert "RUN_DATA_DIR=" in message  # how to run beside it instead
    assert run.processes() == {}, "nothing of the stack may have started"
    assert not run.stack_file.exists()
    assert squatter.poll() is None, "the process in the way is left alone"


def test_a_stack_left_over_is_named_and_make_stop_stops_it(new_run: Callable[..., Run]) -> None:
    run = new_run()
    run.start()
    recorded = run.recorded()
    children = recorded["children"]
    tree = run.tree()
    os.kill(recorded["runner"]["pid"], signal.SIGKILL)  # `make run` dies without stopping anything
    run.wait_make(timeout=10)
    assert all(alive(child["pid"], child["start"]) for child in children), "the children should have outlived it"

    began = time.monotonic()
    second = run.make_command("run", timeout=30)
    seconds = time.monotonic() - began
    print(f"\nleft-over stack: make run failed after {seconds:.1f} s")
    message = second.stderr
    assert second.returncode != 0
    assert seconds < 10
    assert "left over from an earlier `make run` of this checkout" in message, message
    for child in children:
        assert f"{child['name']} (pid {child['pid']})" in message
    ports = run.ports
    azurite = next(child["pid"] for child in children if child["name"] == "azurite")
    assert f"{ports['AZURITE_BLOB_PORT']} (Azurite blob, AZURITE_BLOB_PORT)" in message
    assert f"in use by process {azurite}: " in message
    assert "`make stop` stops it" in message
    assert "`kill " not in message, "its own stack is stopped with make stop, not kill"

    began = time.monotonic()
    stopped = run.make_command("stop")
    print(f"make stop of the left-over stack: {time.monotonic() - began:.1f} s")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert stopped.stdout.index("stopping devhost") < stopped.stdout.index("stopping hvsim")
    assert stopped.stdout.index("stopping hvsim") < stopped.stdout.index("stopping azurite")
    run.assert_all_gone(recorded, tree)
    assert all(port_is_free(port) for port in ports.values())
