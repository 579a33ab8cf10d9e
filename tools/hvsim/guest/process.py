"""The project's real Linux agent as a simulated guest: a bash process in a sandbox, its KVP pools bridged.

A :class:`LinuxAgentGuest` is a :class:`~tools.hvsim.models.GuestAgent` that runs
``agents/linux/aetherv-guest-agent`` unchanged. It plays the guest's ``hv_kvp_daemon``:

- **boot**: nothing runs until ``behaviour.boot_delay`` seconds after the guest started booting; then the
  sandbox (:class:`~tools.hvsim.guest.sandbox.LinuxSandbox`) gets the guest pool the disk holds (the items an
  earlier boot left, plus a golden image's stale items with ``stale_guest_pool``) and the agent starts;
- **host → guest**: on every tick the host pool is written to ``.kvp_pool_0`` when it changed;
- **guest → host**: on every tick ``.kvp_pool_1`` is read back into the guest pool the host sees;
- **reboot**: a recorded ``reboot`` call becomes :attr:`reboot_requested`; the host model cycles the VM.

The process runs in real time (``AETHERV_AGENT_POLL_SECONDS`` = ``behaviour.poll_interval``), in its own process
group under a small bash watchdog that kills the group (and deletes the sandbox) when the simulator's end of its
stdin pipe closes, so no agent outlives the simulator even when the simulator is killed. :meth:`stop` (VM off)
kills the group and keeps the sandbox; :meth:`close` (VM removed, lab stopped, or the guest object collected)
also deletes the sandbox.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Mapping, MutableMapping
from pathlib import Path
from typing import Any, Final

from tools.hvsim.guest.aetherv import agent_mark
from tools.hvsim.guest.agent import STALE_NONCE
from tools.hvsim.guest.config import (
    AGENT_MARK,
    GUEST_ERROR,
    GUEST_STATE,
    PUBLIC_KEY,
    AppliedConfig,
    GuestBehaviour,
)
from tools.hvsim.guest.keys import export_public_key, pooled_key
from tools.hvsim.guest.readback import read_applied
from tools.hvsim.guest.sandbox import LinuxSandbox

log = logging.getLogger(__name__)

__all__ = ["AGENT_SCRIPT", "LinuxAgentGuest", "network_for_image", "process_group_members"]

AGENT_SCRIPT: Final = Path(__file__).resolve().parents[3] / "agents" / "linux" / "aetherv-guest-agent"
"""The real agent, run unchanged."""

# Runs the agent (its stdin /dev/null) and watches the simulator's pipe on its own stdin: EOF means the
# simulator is gone (even killed), so the agent is killed, its sandbox ($2) deleted and the rest of the process
# group killed. The wrapper exits with the agent's status; it stops the watcher when the agent ends by itself, and a
# watcher that is already cleaning up ignores that (else the agent's death, which the watcher caused, would let the
# wrapper cut the sandbox's removal short); a removal that raced a last write of the agent's children is tried again.
# (A background job's stdin is /dev/null unless redirected, hence the copy on descriptor 3.)
_WATCHDOG: Final = """
exec 3<&0
"$BASH" "$1" </dev/null 3<&- &
agent=$!
{
  read -r _ <&3; trap '' TERM; kill -KILL "$agent"
  rm -rf -- "$2" 2>/dev/null || { sleep 0.1; rm -rf -- "$2"; }
  kill -KILL 0
} &
watcher=$!
exec 3<&-
wait "$agent"
status=$?
kill "$watcher" 2>/dev/null
exit "$status"
"""
_RHEL_FAMILY: Final = ("rocky", "red hat", "rhel", "centos", "alma", "fedora", "oracle")


class _Resources:
    """What a guest holds outside Python: the agent process and the sandbox (released by a finalizer too)."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.sandbox: LinuxSandbox | None = None

    def stop(self) -> None:
        process = self.process
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # the group: the agent, its watchdog and their children
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        # A killed process is gone only once the kernel has torn it down: wait for the whole group (a child forked
        # just as the signal went out gets it again), so "stopped" means no process of the group is left.
        deadline = time.monotonic() + 5
        while (members := process_group_members(process.pid)) and time.monotonic() < deadline:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            time.sleep(0.01)
        if members:
            log.warning("agent process group %d still has %d member(s) after SIGKILL", process.pid, len(members))
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()

    def release(self) -> None:
        self.stop()
        if self.sandbox is not None:
            self.sandbox.remove()


def network_for_image(os_name: str) -> str:
    """The network stack of a Linux image: NetworkManager for the RHEL family, netplan otherwise."""
    lowered = os_name.lower()
    return "networkmanager" if any(name in lowered for name in _RHEL_FAMILY) else "netplan"


def process_group_members(pgid: int) -> list[int]:
    """The live processes of process group ``pgid`` (read from ``/proc``; zombies excluded)."""
    members: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": state ppid pgrp …
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


class LinuxAgentGuest:
    """The real Linux agent of one simulated VM, for one boot with the provisioning ISO (module docstring)."""

    os_family = "linux"
    flavour = "aetherv"
    ejected_cd = False

    def __init__(
        self,
        iso_version: str,
        *,
        behaviour: GuestBehaviour | None = None,
        clock: Callable[[], float] = time.monotonic,
        agent_script: Path = AGENT_SCRIPT,
        base_dir: Path | None = None,
    ) -> None:
        self.iso_version = iso_version
        self.behaviour = behaviour if behaviour is not None else GuestBehaviour()
        self.network = self.behaviour.linux_network if self.behaviour.linux_network != "auto" else "netplan"
        self._clock = clock
        self._agent_script = agent_script
        self._base_dir = base_dir
        self._lock = threading.RLock()
        self._start_at = clock() + self.behaviour.boot_delay
        self._resources = _Resources()
        # Runs at close(), when the guest is garbage collected, or at interpreter exit, whichever comes first.
        self._finalizer = weakref.finalize(self, self._resources.release)
        self._host_written: dict[str, str] | None = None
        self._reboots_seen = 0
        self._applied: tuple[tuple[int, str | None, bool], AppliedConfig] | None = None
        self._closed = False
        self._phase = "booting"
        self.state: str | None = None
        """The provisioning state in the guest pool (the agent's last write)."""
        self.error_summary: str | None = None
        self.reboot_requested = False
        self.reboots = 0

    def __repr__(self) -> str:
        pid = None if self.process is None else self.process.pid
        return f"LinuxAgentGuest(phase={self.phase!r}, state={self.state!r}, pid={pid})"

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        """The agent process (its watchdog wrapper; the pid is the process group), once started."""
        return self._resources.process

    @property
    def sandbox(self) -> LinuxSandbox | None:
        """The guest's sandbox, once booted."""
        return self._resources.sandbox

    # -- what the guest OS tells the agent ----------------------------------------------------------------------

    @property
    def boot_delay(self) -> float:
        """Seconds from the start of the boot until the KVP daemon and the agent run."""
        return self.behaviour.boot_delay

    def configure_os(self, os_name: str) -> None:
        """The image the guest booted (picks the network stack when ``linux_network`` is ``auto``)."""
        if self.behaviour.linux_network == "auto":
            self.network = network_for_image(os_name)

    # -- state -----------------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the agent process runs."""
        return self.process is not None and self.process.poll() is None

    @property
    def phase(self) -> str:
        """``booting``, ``running``, ``applied``, ``failed`` or ``stopped`` (never started, or killed).

        As of the last tick: the guest pool that tick read already holds everything the agent wrote before
        the phase it reports, so a finished phase never hides a last write.
        """
        return self._phase

    def _observe_phase(self, sandbox: LinuxSandbox) -> str:
        if self.running:
            return "running"
        recorded = (sandbox.read_text("/var/lib/aetherv/phase") or "").strip()
        return {"done": "applied", "failed": "failed"}.get(recorded, "stopped")

    @property
    def applied(self) -> AppliedConfig | None:
        """What the sandbox shows the agent applied (None before it started); cached per recorded call."""
        sandbox = self.sandbox
        if sandbox is None:
            return None
        running = self.running
        key = (sandbox.call_count(), self.state, running)
        if self._applied is None or self._applied[0] != key:
            completed = self.state == "provisioningapplied" and not running
            self._applied = (key, read_applied(sandbox, completed=completed))
        return self._applied[1]

    # -- driving ------------------------------------------------------------------------------------------------

    def tick(self, host_pool: Mapping[str, str], guest_pool: MutableMapping[str, str]) -> None:
        """Bridge the pools once (and start the agent when the guest has booted)."""
        with self._lock:
            if self._closed or self._clock() < self._start_at:
                return
            if self.sandbox is None:
                self._boot(host_pool, guest_pool)
            sandbox = self.sandbox
            assert sandbox is not None
            if self._host_written != dict(host_pool):
                self._host_written = dict(host_pool)
                sandbox.write_pool(sandbox.host_pool_file, self._host_written)
            # What the agent did first (its phase, its reboot call), then the pool: every pool write the agent
            # made before it finished or called reboot is in what is read next.
            process = self.process
            if process is not None and process.poll() is not None and process.stdin is not None:
                with contextlib.suppress(OSError):
                    process.stdin.close()  # it exited (and is reaped): the watchdog's pipe is no longer needed
            phase = self._observe_phase(sandbox)
            reboots = sandbox.call_count("reboot")
            items = sandbox.read_pool(sandbox.guest_pool_file)
            if items != dict(guest_pool):
                guest_pool.clear()
                guest_pool.update(items)
            self.state = items.get(GUEST_STATE)
            self.error_summary = items.get(GUEST_ERROR) or None
            self._phase = phase
            if reboots > self._reboots_seen:
                self._reboots_seen = reboots
                self.reboot_requested = True

    def rebooted(self) -> None:
        """The reboot the agent asked for is done (its unit is disabled: it does not run again)."""
        with self._lock:
            if self.reboot_requested:
                self.reboot_requested = False
                self.reboots += 1

    def _boot(self, host_pool: Mapping[str, str], guest_pool: MutableMapping[str, str]) -> None:
        base = Path(tempfile.mkdtemp(prefix="hvsim-guest-", dir=self._base_dir))
        sandbox = LinuxSandbox(base, iso_version=self.iso_version, network=self.network)
        self._resources.sandbox = sandbox
        sandbox.set_kvp_daemon(running=not self.behaviour.missing_kvp_daemon)
        for command in self.behaviour.failing_commands:
            sandbox.fail_command(command)
        disk = dict(guest_pool)  # what .kvp_pool_1 on the guest's disk holds
        if self.behaviour.stale_guest_pool:
            disk.update(self._stale_items())
        sandbox.write_pool(sandbox.guest_pool_file, disk)
        self._host_written = dict(host_pool)
        sandbox.write_pool(sandbox.host_pool_file, self._host_written)
        if not self.behaviour.silent:
            self._start(sandbox)

    def _stale_items(self) -> dict[str, str]:
        old_key = export_public_key(pooled_key(1_000_003).public_key(), "linux")
        return {
            PUBLIC_KEY: old_key,
            AGENT_MARK: agent_mark("linux", old_key, STALE_NONCE, network=self.network),
            GUEST_STATE: self.behaviour.stale_guest_state,
            GUEST_ERROR: self.behaviour.stale_guest_error,
        }

    def _start(self, sandbox: LinuxSandbox) -> None:
        wait = max(self.behaviour.linux_host_signal_timeout, self.behaviour.linux_data_timeout)
        env = {
            "PATH": f"{sandbox.bin}:/usr/local/bin:/usr/bin:/bin",
            "AETHERV_GUEST_ROOT": str(sandbox.root),
            "HVSIM_STUB_DIR": str(sandbox.stub_dir),
            "AETHERV_AGENT_POLL_SECONDS": _seconds(self.behaviour.poll_interval),
            "AETHERV_AGENT_WAIT_SECONDS": _seconds(wait),
            "AETHERV_AGENT_CHECKSUM_RETRY_SECONDS": _seconds(self.behaviour.linux_checksum_retry_delay),
            "HOME": str(sandbox.base),
            "TMPDIR": str(sandbox.base),
        }
        with (sandbox.base / "agent.stderr").open("wb") as stderr:
            self._resources.process = subprocess.Popen(
                ["bash", "-c", _WATCHDOG, "aetherv-guest-agent", str(self._agent_script), str(sandbox.base)],
                env=env,
                cwd=sandbox.base,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )

    # -- power ------------------------------------------------------------------------------------------------

    def stop(self) -> None:
        """The guest lost power: kill the agent and everything it started; the sandbox (its disk) stays."""
        with self._lock:
            self._resources.stop()

    def freeze(self) -> None:
        """The VM was paused: stop the agent's process group where it is."""
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """The VM was resumed: let the agent's process group continue."""
        self._signal(signal.SIGCONT)

    def _signal(self, signum: int) -> None:
        with self._lock:
            if self.running and self.process is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.process.pid, signum)

    def close(self) -> None:
        """The VM is gone: stop the agent and delete the sandbox (idempotent)."""
        with self._lock:
            self._closed = True
            self._finalizer()

    # -- inspection ------------------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """The guest's own state for the control plane: agent, sandbox files, stub calls, what was applied."""
        with self._lock:
            process = self.process
            sandbox = self.sandbox
            document: dict[str, Any] = {
                "agent": "aetherv-guest-agent",
                "runtime": "process",
                "phase": self.phase,
                "state": self.state,
                "error_summary": self.error_summary,
                "pid": None if process is None else process.pid,
                "running": self.running,
                "exit_code": None if process is None else process.returncode,
                "reboots": self.reboots,
                "network": self.network,
                "sandbox": None if sandbox is None else str(sandbox.base),
                "applied": None if self.applied is None else self.applied.to_json(),
            }
            if sandbox is not None:
                document["calls"] = [call.to_json() for call in sandbox.calls()]
                document["files"] = sandbox.files()
            return document


def _seconds(value: float) -> str:
    return f"{max(value, 0.0):.6f}".rstrip("0").rstrip(".") or "0"
