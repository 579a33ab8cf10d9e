"""Starts and stops the Azurite storage emulator from ``node_modules`` (used by ``make run`` and the tests)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "devstoreaccount1"
# Azurite's documented development key (public, identical in every installation).
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def free_port() -> int:
    """A TCP port on loopback that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, deadline: float) -> bool:
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
        time.sleep(0.1)
    return False


@dataclass
class Azurite:
    """A running Azurite process and the connection string that reaches it."""

    process: subprocess.Popen[bytes]
    blob_port: int
    queue_port: int
    table_port: int

    @property
    def connection_string(self) -> str:
        """Full connection string for all three services."""
        base = "http://127.0.0.1"
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={base}:{self.blob_port}/{ACCOUNT};QueueEndpoint={base}:{self.queue_port}/{ACCOUNT};"
            f"TableEndpoint={base}:{self.table_port}/{ACCOUNT};"
        )

    def stop(self) -> None:
        """Terminate the emulator and wait for it."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def __enter__(self) -> Azurite:
        return self

    def __exit__(self, *exc: object | TracebackType | None) -> None:
        self.stop()


def start_azurite(
    location: Path | None = None, *, ports: tuple[int, int, int] | None = None, debug_log: Path | None = None
) -> Azurite:
    """Start Azurite (in memory when ``location`` is None) and wait until all three services accept connections.

    ``debug_log`` makes Azurite log every request there (the benchmarks count Table requests with it).
    """
    binary = ROOT / "node_modules" / ".bin" / "azurite"
    if not binary.exists():
        raise RuntimeError("Azurite is not installed: run `npm ci` (make does this for you)")
    blob, queue, table = ports or (free_port(), free_port(), free_port())
    args = [str(binary), "--silent", "--skipApiVersionCheck", "--disableTelemetry", "--loose"]
    args += ["--blobPort", str(blob), "--queuePort", str(queue), "--tablePort", str(table)]
    if debug_log is not None:
        args += ["--debug", str(debug_log)]
    if location is None:
        args.append("--inMemoryPersistence")
    else:
        location.mkdir(parents=True, exist_ok=True)
        args += ["--location", str(location)]
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("Node.js is required for Azurite")
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True)
        azurite = Azurite(process, blob, queue, table)
        deadline = time.monotonic() + 30
        if not all(_wait_for_port(port, deadline) for port in (blob, queue, table)):
            azurite.stop()
            errors.seek(0)
            raise RuntimeError(f"Azurite did not start: {errors.read().decode(errors='replace').strip()[:500]}")
    return azurite
