"""``python -m tools.hvsim``: run a simulated Hyper-V lab on loopback until interrupted.

Prints each host's endpoint and credentials, or with ``--json`` exactly one JSON document (a list of hosts with
``name``, ``endpoint``, ``address``, ``port``, ``username``, ``password``, ``ca_cert`` and ``control``), then serves
until Ctrl-C or SIGTERM and stops cleanly (every guest agent process with it).

Guests boot for ``--guest-boot-seconds`` (default 3) after their VM reaches Running before their KVP daemon and
agent run; Linux guests run the project's real agent (``agents/linux/aetherv-guest-agent``) polling every
``--guest-poll-seconds`` unless ``--simulated-linux-guests``; ``--guest-agent upstream`` makes every guest behave
like the Aether-V 2.4 agents instead.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from types import FrameType

from tools.hvsim.guest import GuestBehaviour
from tools.hvsim.lab import Lab
from tools.hvsim.models import TransitionTimes


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.hvsim", description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=3, help="number of simulated hosts (default 3)")
    parser.add_argument("--vms-per-host", type=int, default=5, help="seeded VMs per host (default 5)")
    parser.add_argument("--latency-ms", type=float, default=0, help="added latency per WinRM round trip")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated lab (default 0)")
    parser.add_argument("--control-port", type=int, default=0, help="control-plane port (default: any free)")
    parser.add_argument("--password", default=None, help="password of the lab account (default: random)")
    parser.add_argument(
        "--boot-seconds", type=float, default=2.0, help="seconds a VM spends Starting/Stopping (default 2)"
    )
    parser.add_argument(
        "--guest-boot-seconds", type=float, default=3.0, help="seconds a guest boots before its agent runs (default 3)"
    )
    parser.add_argument(
        "--guest-poll-seconds", type=float, default=1.0, help="how often guest agents poll the host (default 1)"
    )
    parser.add_argument(
        "--guest-agent",
        choices=("aetherv", "upstream"),
        default="aetherv",
        help="the guests' agent generation: this project's (default) or upstream Aether-V 2.4",
    )
    parser.add_argument(
        "--simulated-linux-guests",
        action="store_true",
        help="play Linux agents in Python instead of running agents/linux/aetherv-guest-agent",
    )
    parser.add_argument(
        "--copy-mb-per-second",
        type=float,
        default=1024.0,
        help="how fast hosts copy golden images, MB/s (default 1024; 0 copies at once)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the lab; returns the exit code."""
    args = _parser().parse_args(argv)
    if args.hosts < 1 or args.vms_per_host < 0:
        print("--hosts must be at least 1 and --vms-per-host not negative", file=sys.stderr)
        return 2
    if args.copy_mb_per_second < 0:
        print("--copy-mb-per-second must not be negative", file=sys.stderr)
        return 2
    if args.guest_boot_seconds < 0 or args.guest_poll_seconds <= 0:
        print("--guest-boot-seconds must not be negative and --guest-poll-seconds must be positive", file=sys.stderr)
        return 2
    guests = GuestBehaviour(
        agent=args.guest_agent,
        real_linux_agent=not args.simulated_linux_guests,
        boot_delay=args.guest_boot_seconds,
        poll_interval=args.guest_poll_seconds,
    )
    seconds = args.boot_seconds
    times = TransitionTimes(start=seconds, stop=seconds, save=seconds / 2, reboot=seconds)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with Lab.start(
        hosts=args.hosts,
        vms_per_host=args.vms_per_host,
        latency_ms=args.latency_ms,
        seed=args.seed,
        times=times,
        password=args.password,
        control_port=args.control_port,
        guest_behaviour=guests,
        copy_mb_per_second=args.copy_mb_per_second or None,
    ) as lab:
        if args.json:
            print(json.dumps(lab.to_json(), indent=2), flush=True)
        else:
            print(f"hvsim lab: {len(lab.hosts)} host(s), control plane {lab.control.url}")
            print(f"  CA certificate   {lab.ca.ca_pem_path}")
            print(f"  account          {lab.username} / {lab.password}")
            for host in lab.hosts:
                print(f"  {host.name:<6} {host.endpoint}")
            print(f"  AETHERV_HOSTS={lab.aetherv_hosts}")
            print("Ctrl-C stops the lab.", flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
