"""``make run``: start the local stack — Azurite, then the app — and stop everything on Ctrl-C.

Settings come from the environment and ``local.settings.json`` (created from the sample on first run). Local
runs use ``AETHERV_AUTH_MODE=none`` unless the environment sets ``AETHERV_AUTH_MODE``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading

from tools.azurite import ROOT, start_azurite

LOCAL_SETTINGS = ROOT / "local.settings.json"
SAMPLE = ROOT / "local.settings.sample.json"


def _ensure_local_settings() -> dict[str, str]:
    if not LOCAL_SETTINGS.exists():
        shutil.copyfile(SAMPLE, LOCAL_SETTINGS)
        print(f"created {LOCAL_SETTINGS.name} from the sample")
    values: dict[str, str] = json.loads(LOCAL_SETTINGS.read_text(encoding="utf-8")).get("Values", {})
    return values


def main() -> int:
    """Run the stack until interrupted."""
    values = _ensure_local_settings()
    if os.environ.get("AETHERV_AUTH_MODE", values.get("AETHERV_AUTH_MODE")) == "none":
        print("WARNING: local mode - AETHERV_AUTH_MODE=none, the API accepts unauthenticated calls (loopback only)")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    azurite = start_azurite(ROOT / ".azurite", ports=(10000, 10001, 10002))
    try:
        print("Azurite: blob http://127.0.0.1:10000, queue http://127.0.0.1:10001, table http://127.0.0.1:10002")
        print("The local Functions host (tools/devhost) and the simulated Hyper-V lab (tools/hvsim) are not")
        print("available yet; Azurite runs until you press Ctrl-C.")
        try:
            while not stop.wait(0.5):
                if azurite.process.poll() is not None:
                    print("Azurite exited", file=sys.stderr)
                    return 1
        except KeyboardInterrupt:
            pass
    finally:
        azurite.stop()
        print("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
