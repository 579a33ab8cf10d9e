"""``python -m tools.fakeentra``: serve a fake Entra tenant on loopback and print tokens for each role.

Point the app at it with the printed settings (``AETHERV_AUTH_MODE=entra``,
``AETHERV_ENTRA_AUTHORITY=http://127.0.0.1:<port>``, tenant and client id), then call the API with
``Authorization: Bearer <token>``. The signing key lives only in this process: tokens stop validating once it exits.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from tools.fakeentra.authority import DEFAULT_CLIENT_ID, DEFAULT_TENANT_ID, FakeEntra, Kind, Version


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.fakeentra", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8079, help="port to listen on; 0 picks a free one")
    parser.add_argument("--tenant", default=DEFAULT_TENANT_ID, help="tenant id (GUID)")
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID, help="the API app's client id (GUID)")
    parser.add_argument("--app-id-uri", default=None, help="the API's Application ID URI (default api://<client id>)")
    parser.add_argument("--expires-in", type=int, default=8 * 3600, help="token lifetime in seconds (default 8 h)")
    parser.add_argument("--role-reader", default="Aether.Reader")
    parser.add_argument("--role-operator", default="Aether.Operator")
    parser.add_argument("--role-admin", default="Aether.Admin")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    return parser


def _tokens(fake: FakeEntra, args: argparse.Namespace) -> list[dict[str, Any]]:
    plan: list[tuple[str, str, Kind, Version]] = [
        ("reader", args.role_reader, "user", "2.0"),
        ("operator", args.role_operator, "user", "2.0"),
        ("admin", args.role_admin, "user", "2.0"),
        ("operator", args.role_operator, "app", "2.0"),
        ("operator", args.role_operator, "managed_identity", "1.0"),
        ("none", "", "user", "2.0"),
    ]
    tokens = []
    for level, role, kind, version in plan:
        token = fake.mint([role] if role else [], kind=kind, version=version, expires_in=args.expires_in)
        tokens.append({"level": level, "role": role or None, "kind": kind, "version": version, "token": token})
    return tokens


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until interrupted."""
    args = _parser().parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    fake = FakeEntra(args.tenant, args.client_id, app_id_uri=args.app_id_uri)
    fake.start(args.host, args.port)
    settings = fake.env()
    tokens = _tokens(fake, args)
    if args.json:
        print(json.dumps({"authority": fake.authority, "settings": settings, "tokens": tokens}), flush=True)
    else:
        print(f"Fake Entra tenant {fake.tenant_id} at {fake.authority} (Ctrl-C to stop)\n")
        print("App settings:")
        for name, value in settings.items():
            print(f"  {name}={value}")
        print(f"\nTokens (valid {args.expires_in} s, signed by key {fake.active_kid}):")
        for item in tokens:
            label = f"{item['level']:<8} {item['kind']:<16} v{item['version']}"
            print(f"  {label}  {item['token']}")
        print('\nExample: curl -H "Authorization: Bearer <token>" http://127.0.0.1:7071/api/v1/...', flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
