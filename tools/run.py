"""``make run``: start the local stack and stop all of it, in order, however it is stopped; ``make stop``.

1. Azurite (from ``node_modules``, data under ``$RUN_DATA_DIR/.azurite/``) on ports 10000-10002.
2. A simulated Hyper-V lab (``tools/hvsim``) sized by ``LAB_HOSTS``, ``LAB_VMS`` and ``LAB_LATENCY_MS`` (defaults 3, 5,
   0) — unless real hosts are configured (``AETHERV_HOSTS`` in the environment or in ``local.settings.json``).
3. The app on http://127.0.0.1:``PORT`` (default 7071): the local devhost (task hub under
   ``$RUN_DATA_DIR/.devhost/``), or ``func start`` when Azure Functions Core Tools are installed and
   ``AETHERV_USE_FUNC=1``.

Before starting anything it checks that the ports are free and that no stack recorded in its pid file
(``$RUN_DATA_DIR/.devhost/stack.json``) still runs, and fails at once naming the process in the way (id, command line)
and how to stop it. ``PORT``, ``AZURITE_BLOB_PORT``, ``AZURITE_QUEUE_PORT`` and ``AZURITE_TABLE_PORT`` choose the ports;
``RUN_DATA_DIR`` (default: the checkout) where the data and the pid file live.

SIGINT (Ctrl-C), SIGTERM, SIGHUP and a hang-up of the terminal stop the stack: the app first (waiting for it), then
the lab, then Azurite. The stop is never interrupted: further signals are only acknowledged. ``python -m tools.run
stop`` (``make stop``) stops the stack recorded in the pid file — through its ``make run`` process when that still
runs, else process group by process group — and never looks for processes by name.

Settings come from the environment and ``local.settings.json`` (created from the sample on first run). Local runs use
``AETHERV_AUTH_MODE=none`` unless the environment sets ``AETHERV_AUTH_MODE``.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tools import procinfo
from tools.azurite import ROOT, Azurite
from tools.runstack import GRACE, KILL_WAIT, Child, StackFile, Stopper, stop_in_order

LOCAL_SETTINGS = ROOT / "local.settings.json"
SAMPLE = ROOT / "local.settings.sample.json"
PORT_SETTINGS = (
    ("PORT", 7071, "the app"),
    ("AZURITE_BLOB_PORT", 10000, "Azurite blob"),
    ("AZURITE_QUEUE_PORT", 10001, "Azurite queue"),
    ("AZURITE_TABLE_PORT", 10002, "Azurite table"),
)
HEALTH_TIMEOUT = 120.0


class StartError(Exception):
    """The stack cannot start; the message says why and what to do."""


# -- output -------------------------------------------------------------------------------------------------------


def say(text: str, *, error: bool = False) -> None:
    """Print a line; when the terminal is gone (hang-up, closed pipe), go quiet instead of failing the stop."""
    try:
        print(text, file=sys.stderr if error else sys.stdout, flush=True)
    except OSError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        for fd in (1, 2):  # later writes and the final flush at exit land in /dev/null
            with contextlib.suppress(OSError):
                os.dup2(devnull, fd)
        os.close(devnull)


# -- configuration ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """Where the stack listens and keeps its data (from the environment)."""

    port: int
    azurite_ports: tuple[int, int, int]
    data_dir: Path

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Config:
        """Read ``PORT``, ``AZURITE_*_PORT`` and ``RUN_DATA_DIR``; every bad value is named at once."""
        problems: list[str] = []
        ports: list[int] = []
        for name, default, _ in PORT_SETTINGS:
            raw = environ.get(name, "").strip() or str(default)
            if not raw.isdigit() or not 0 < int(raw) < 65536:
                problems.append(f"{name}={raw!r} is not a TCP port (1-65535)")
            ports.append(int(raw) if raw.isdigit() else default)
        if len(set(ports)) != len(ports):
            problems.append("PORT, AZURITE_BLOB_PORT, AZURITE_QUEUE_PORT and AZURITE_TABLE_PORT must all differ")
        if problems:
            raise StartError("; ".join(problems))
        data_dir = Path(environ.get("RUN_DATA_DIR", "").strip() or ROOT).resolve()
        return cls(ports[0], (ports[1], ports[2], ports[3]), data_dir)

    @property
    def ports(self) -> dict[int, str]:
        """Every port the stack listens on, with what it is for and the variable that sets it."""
        values = (self.port, *self.azurite_ports)
        return {port: f"{purpose}, {name}" for port, (name, _, purpose) in zip(values, PORT_SETTINGS, strict=True)}

    @property
    def by_name(self) -> dict[str, int]:
        """The ports by the variable that sets them."""
        values = (self.port, *self.azurite_ports)
        return {name: port for (name, _, _), port in zip(PORT_SETTINGS, values, strict=True)}

    @property
    def stack_file(self) -> Path:
        """The pid file of the running stack."""
        return self.data_dir / ".devhost" / "stack.json"


def local_values() -> dict[str, str]:
    """``local.settings.json`` values, creating the file from the sample on first run."""
    if not LOCAL_SETTINGS.exists():
        shutil.copyfile(SAMPLE, LOCAL_SETTINGS)
        say(f"created {LOCAL_SETTINGS.name} from the sample")
    values: dict[str, str] = json.loads(LOCAL_SETTINGS.read_text(encoding="utf-8")).get("Values", {})
    return values


# -- the check before starting ------------------------------------------------------------------------------------


def preflight(config: Config) -> list[str]:
    """What stands in the way of starting: a recorded stack that still runs, ports taken (with their processes)."""
    problems: list[str] = []
    ours: dict[int, str] = {}
    recorded = StackFile.load(config.stack_file)
    if recorded is not None:
        for child in recorded.alive():
            for pid in {child.pid, *procinfo.group_members(child.pid)}:
                ours[pid] = child.name
        if not recorded.runner.exited():
            problems.append(
                f"a stack of this checkout is already running: `make run` is process {recorded.runner.pid} "
                f"(pid file {config.stack_file}). Stop it with `make stop` or Ctrl-C in its terminal."
            )
        elif ours:
            problems.append(
                "processes left over from an earlier `make run` of this checkout still run: "
                + ", ".join(f"{name} (pid {pid})" for pid, name in sorted(ours.items()))
                + ". Stop them with `make stop`."
            )
    taken = procinfo.taken_ports(config.ports)
    by_owners: dict[tuple[int, ...], list[procinfo.Taken]] = {}
    for port in taken:
        by_owners.setdefault(port.owners, []).append(port)
    for owners, ports in by_owners.items():
        names = ", ".join(f"{p.port} ({p.purpose})" for p in ports)
        head = f"port {names} is" if len(ports) == 1 else f"ports {names} are"
        reason = ports[0].reason
        if not owners:
            problems.append(
                f"{head} {reason}, by a process this user cannot inspect (`sudo ss -ltnp` names it)"
                if reason == "in use"
                else f"{head} not usable: {reason}"
            )
            continue
        lines = [f"{head} in use by {procinfo.describe(owner)}" for owner in owners[:1]]
        lines += [f"    and by {procinfo.describe(owner)}" for owner in owners[1:]]
        mine = [ours[owner] for owner in owners if owner in ours]
        if mine:
            lines.append(f"  That is the {mine[0]} of the stack this checkout started earlier: `make stop` stops it.")
        else:
            pids = " ".join(str(owner) for owner in owners)
            lines.append(f"  Stop it (`kill {pids}`) if it is yours and no longer needed, or choose other ports.")
        problems.append("\n".join(lines))
    if any(owner not in ours for port in taken for owner in port.owners) or any(not p.owners for p in taken):
        problems.append(
            "To run a second stack beside it, choose free ports and a data directory of its own, e.g. PORT=7081 "
            "AZURITE_BLOB_PORT=10010 AZURITE_QUEUE_PORT=10011 AZURITE_TABLE_PORT=10012 RUN_DATA_DIR=/tmp/aetherv-2 "
            "make run"
        )
    return problems


# -- starting -----------------------------------------------------------------------------------------------------


class Runner:
    """The stack being started or running: its children in start order and its pid file."""

    def __init__(self, config: Config, stopper: Stopper) -> None:
        self.config = config
        self.stopper = stopper
        found = procinfo.facts(os.getpid())
        me = Child("make run", "runner", os.getpid(), found.start if found else None)
        self.file = StackFile(config.stack_file, me, config.by_name)
        self.children: list[Child] = []

    def spawn(self, name: str, role: str, args: list[str], env: dict[str, str], **kwargs: Any) -> Child:
        """Start a child in its own process group and record it in the pid file at once."""
        child = Child.spawn(name, role, args, ROOT, env, **kwargs)
        self.children.append(child)
        self.file.children = self.children
        self.file.save()
        return child

    def exited(self) -> Child | None:
        """A child that exited on its own, if any."""
        return next((child for child in self.children if child.exited()), None)

    def interrupted(self) -> bool:
        """Whether to abandon the start: a stop was requested or a child died."""
        return self.stopper.requested or self.exited() is not None

    def start_azurite(self) -> str:
        """Start Azurite on the configured ports and return the connection string that reaches it."""
        binary = ROOT / "node_modules" / ".bin" / "azurite"
        if not binary.exists():
            raise StartError("Azurite is not installed: run `npm ci` (make does this for you)")
        if shutil.which("node") is None:
            raise StartError("Node.js is required for Azurite")
        blob, queue, table = self.config.azurite_ports
        location = self.config.data_dir / ".azurite"
        location.mkdir(parents=True, exist_ok=True)
        args = [str(binary), "--silent", "--skipApiVersionCheck", "--disableTelemetry", "--loose"]
        args += ["--blobPort", str(blob), "--queuePort", str(queue), "--tablePort", str(table)]
        args += ["--location", str(location)]
        child = self.spawn("azurite", "storage", args, dict(os.environ), stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        waiting = [blob, queue, table]
        while waiting and not self.interrupted():
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", waiting[0]), timeout=0.5):
                waiting.pop(0)
                continue
            if time.monotonic() > deadline:
                raise StartError(f"Azurite (pid {child.pid}) did not listen on port {waiting[0]} within 30 s")
            self.stopper.wait(0.1)
        if child.exited():
            raise StartError(f"Azurite exited before it listened (status {child.process and child.process.returncode})")
        say(f"Azurite: blob :{blob}, queue :{queue}, table :{table} (data in {location})")
        assert child.process is not None
        return Azurite(child.process, blob, queue, table).connection_string

    def start_lab(self, env: dict[str, str]) -> dict[str, str]:
        """Start the simulated lab and return the settings that point the app at it."""
        hosts = os.environ.get("LAB_HOSTS", "3")
        vms = os.environ.get("LAB_VMS", "5")
        latency = os.environ.get("LAB_LATENCY_MS", "0")
        args = [sys.executable, "-m", "tools.hvsim", "--hosts", hosts, "--vms-per-host", vms]
        args += ["--latency-ms", latency, "--json"]
        child = self.spawn("hvsim", "lab", args, env, stdout=subprocess.PIPE)
        assert child.process is not None
        assert child.process.stdout is not None
        lab = self._read_lab(child.process.stdout.fileno())
        if lab is None:
            return {}
        threading.Thread(target=_drain, args=(child.process.stdout.fileno(),), daemon=True).start()
        names, addresses = [], []
        for host in lab:
            endpoint = urlsplit(host["endpoint"])
            names.append(f"{host['name']}:{endpoint.port}")
            addresses.append(f"{host['name']}={endpoint.hostname}")
        say(f"hvsim: {len(lab)} simulated Hyper-V host(s), {vms} VMs each, {latency} ms latency")
        say(f"hvsim control plane: {lab[0]['control']}")
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

    def _read_lab(self, fd: int) -> list[dict[str, Any]] | None:
        """The lab's one JSON document (indented over several lines); ``None`` when the start was abandoned."""
        text = b""
        while not self.stopper.requested:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise StartError("the simulated lab did not start (see its output above)")
            text += chunk
            with contextlib.suppress(ValueError):
                lab: list[dict[str, Any]] = json.loads(text)
                return lab
        return None

    def start_app(self, env: dict[str, str]) -> Child:
        """Start the app: ``func start`` when chosen and installed, else the devhost."""
        port = str(self.config.port)
        if os.environ.get("AETHERV_USE_FUNC") == "1" and shutil.which("func"):
            return self.spawn("func", "app", ["func", "start", "--port", port], env)
        store = self.config.data_dir / ".devhost"
        args = [sys.executable, "-m", "tools.devhost", "--port", port, "--store", str(store)]
        return self.spawn("devhost", "app", args, env)

    def wait_healthy(self, url: str) -> bool:
        """Wait until ``url`` answers 200; ``False`` when a child died, a stop came or it took too long."""
        deadline = time.monotonic() + HEALTH_TIMEOUT
        while time.monotonic() < deadline and not self.interrupted():
            with (
                contextlib.suppress(OSError, http.client.HTTPException),
                urllib.request.urlopen(url, timeout=2) as response,  # noqa: S310 - loopback
            ):
                if response.status == 200:
                    return True
            self.stopper.wait(0.5)
        return False

    def stop(self) -> None:
        """Stop every child in dependency order; signals arriving meanwhile are acknowledged, never obeyed twice."""
        seen = len(self.stopper.received)
        waiting = sum(GRACE.get(child.role, 10.0) + KILL_WAIT for child in self.children)

        def tick() -> None:
            nonlocal seen
            if len(self.stopper.received) > seen:
                names = ", ".join(self.stopper.received[seen:])
                seen = len(self.stopper.received)
                count = len(self.stopper.received)
                say(f"  ({names}: already stopping, in order — {count} stop signals so far; at most {waiting:.0f} s)")

        if self.children:
            say("stopping: the app, then the lab, then storage")
        stop_in_order(self.children, say, tick)
        self.file.remove()


def _drain(fd: int) -> None:
    """Copy what the lab prints after its JSON document to our output, so its pipe never fills up."""
    with contextlib.suppress(OSError):
        while chunk := os.read(fd, 65536):
            with contextlib.suppress(OSError):
                os.write(1, chunk)


def app_environment(runner: Runner) -> dict[str, str]:
    """The children's environment: ours, then ``local.settings.json``, then Azurite's and the lab's settings."""
    env = dict(os.environ)
    for name, value in local_values().items():
        env.setdefault(name, value)
    real_hosts = env.get("AETHERV_HOSTS", "").strip()
    connection = runner.start_azurite()
    if env.get("AzureWebJobsStorage", "").strip() in ("", "UseDevelopmentStorage=true"):
        env["AzureWebJobsStorage"] = connection  # the same account, on the ports this stack uses
    if runner.interrupted():
        return env
    if real_hosts:
        say(f"Using the configured Hyper-V hosts: {real_hosts}")
    else:
        env.update(runner.start_lab(env))
    return env


def start(runner: Runner) -> bool:
    """Start storage, the lab and the app; ``True`` once the app is healthy."""
    if runner.interrupted():
        return False
    env = app_environment(runner)
    if runner.interrupted():
        return False
    if env.get("AETHERV_AUTH_MODE", "none") == "none":
        say("WARNING: local mode - AETHERV_AUTH_MODE=none: the API accepts unauthenticated calls on loopback")
    runner.start_app(env)
    base = f"http://127.0.0.1:{runner.config.port}"
    if runner.wait_healthy(f"{base}/api/healthz"):
        say(f"\nAether-V is running: {base}/api/healthz  (Ctrl-C or `make stop` stops everything)\n")
        return True
    if not runner.interrupted():
        say(f"the app did not become healthy within {HEALTH_TIMEOUT:.0f} s; see its output above", error=True)
    return False


def run(config: Config) -> int:
    """Start the stack, run it until a signal or a child's exit, then stop it in order."""
    stopper = Stopper()
    stopper.install()  # from here on a signal only asks to stop; nothing is interrupted half-way
    problems = preflight(config)
    if problems:
        say("make run cannot start:\n" + "\n".join(f"- {problem}" for problem in problems), error=True)
        return 1
    runner = Runner(config, stopper)
    try:
        runner.file.save()
    except OSError as exc:
        say(f"make run cannot start: cannot write its pid file {config.stack_file}: {exc}", error=True)
        return 1
    code = 1
    try:
        if start(runner):
            while not runner.interrupted():
                stopper.wait(0.5)
        exited = runner.exited()
        if stopper.requested:
            say(f"\n{stopper.received[0]} received")
            code = 0
        elif exited is not None:
            status = exited.process.returncode if exited.process else None
            say(f"{exited.name} exited (status {status}); stopping the rest", error=True)
    except StartError as exc:
        say(f"make run cannot start: {exc}", error=True)
    finally:
        runner.stop()
    say("stopped")
    return code


# -- make stop ----------------------------------------------------------------------------------------------------


def stop(config: Config) -> int:
    """Stop the stack recorded in the pid file (through its ``make run`` when that still runs)."""
    recorded = StackFile.load(config.stack_file)
    if recorded is None:
        say(f"no stack of this checkout is running (no pid file {config.stack_file})")
        return 0
    runner = recorded.runner
    if not runner.exited():
        say(f"stopping the stack of `make run` (process {runner.pid}); it stops the app, the lab, then storage")
        with contextlib.suppress(ProcessLookupError):
            os.kill(runner.pid, signal.SIGTERM)
        deadline = time.monotonic() + sum(GRACE.values()) + 3 * KILL_WAIT + 5
        while not runner.exited() and time.monotonic() < deadline:
            time.sleep(0.1)
        if not runner.exited():
            say(f"`make run` (process {runner.pid}) did not finish; stopping its children directly", error=True)
    left = [child for child in recorded.children if child.group()]
    if left:
        say("stopping what is left of the stack: " + ", ".join(f"{c.name} (pid {c.pid})" for c in left))
        stop_in_order(left, say)
    survivors = [child for child in recorded.children if child.group()]
    if survivors:
        say("still running: " + ", ".join(f"{c.name} (pid {c.pid})" for c in survivors), error=True)
        return 1
    recorded.remove()
    say("the stack is stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m tools.run`` starts the stack; ``python -m tools.run stop`` stops the recorded one."""
    args = sys.argv[1:] if argv is None else argv
    if args not in ([], ["stop"]):
        say("usage: python -m tools.run [stop]", error=True)
        return 2
    try:
        config = Config.from_env(os.environ)
    except StartError as exc:
        say(f"make {'stop' if args else 'run'}: {exc}", error=True)
        return 2
    return stop(config) if args else run(config)


if __name__ == "__main__":
    sys.exit(main())
