"""Command line: ``python -m tools.devhost [--app PATH] [--port N] [--store DIR | --memory] [--lenient RULE]``."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from .discovery import DiscoveryError
from .host import DevHost
from .rules import LENIENT_SETTING, RELAXABLE, RuleError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.devhost",
        description=(
            "Run a v2-model Azure Functions Python app (HTTP, timer and Durable Functions triggers) "
            "locally without Azure Functions Core Tools. App settings come from the environment and "
            "from local.settings.json 'Values' in the app directory (the environment wins)."
        ),
    )
    parser.add_argument(
        "--app", default=".", metavar="PATH", help="directory with function_app.py and host.json (default: .)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", "7071")),
        help="port to listen on; 0 picks a free one (default: $PORT or 7071)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--store",
        metavar="DIR",
        help="directory for the task hub SQLite files, one per hub name (default: <app>/.devhost)",
    )
    where.add_argument(
        "--memory", action="store_true", help="keep the task hub in memory (lost when the devhost stops)"
    )
    parser.add_argument(
        "--lenient",
        action="append",
        metavar="RULE[,RULE]",
        help=(
            "relax an Azure rule the devhost enforces by default, while the app is being fixed "
            f"(also the app setting {LENIENT_SETTING}); rules: {', '.join(sorted(RELAXABLE))}, or all"
        ),
    )
    parser.add_argument("--log-level", default="INFO", help="logging level (default: INFO)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the devhost until SIGINT/SIGTERM."""
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        host = DevHost(
            args.app, store=args.store, memory=args.memory, host=args.host, port=args.port, lenient=args.lenient
        )
    except (DiscoveryError, RuleError) as exc:
        print(f"devhost: {exc}", file=sys.stderr)
        return 2
    sock = host.bind()
    for line in host.describe():
        print(line, flush=True)
    print(f"Listening on {host.base_url} (Ctrl+C to stop)", flush=True)
    import asyncio

    asyncio.run(host.serve(sock))
    print("devhost stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
