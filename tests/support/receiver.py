"""A local webhook receiver for the event tests: records every request, answers as the test says, stops and starts.

Each delivery attempt is kept (headers, body, the status answered). ``mode`` decides the answer: ``ok`` (204),
``fail`` (500), ``hold`` (no answer until :meth:`Receiver.release`, as a stuck receiver). :meth:`stop` closes the
listening socket (connections are refused, as with a dead receiver); :meth:`start` listens again on the same port.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Delivery", "Receiver"]


@dataclass(frozen=True)
class Delivery:
    """One request the receiver got."""

    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def event(self) -> dict[str, Any]:
        """The CloudEvent the body holds."""
        document: dict[str, Any] = json.loads(self.body)
        return document


class Receiver:
    """A threaded HTTP receiver on 127.0.0.1 (see the module docstring)."""

    def __init__(self, port: int = 0) -> None:
        self.mode = "ok"
        self.deliveries: list[Delivery] = []
        self.held = 0  # requests ``hold`` has kept waiting so far
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self.port = port
        self.start()

    @property
    def url(self) -> str:
        """Where to send events."""
        return f"http://127.0.0.1:{self.port}/hooks/aetherv"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                mode = receiver.mode
                if mode == "hold":
                    with receiver._lock:
                        receiver.held += 1
                    receiver._released.wait(60)
                status = 500 if mode == "fail" else 204
                with receiver._lock:
                    receiver.deliveries.append(Delivery(dict(self.headers.items()), body, status))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler

    def start(self) -> None:
        """Listen (again) on the receiver's port."""
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop listening: connections are refused until :meth:`start`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def release(self) -> None:
        """Answer the requests ``hold`` kept waiting."""
        self._released.set()

    def received(self, where: Callable[[Delivery], bool] = lambda _: True) -> list[Delivery]:
        """The deliveries so far that ``where`` accepts."""
        with self._lock:
            return [d for d in self.deliveries if where(d)]

    def wait_for(self, where: Callable[[Delivery], bool], timeout: float = 60, count: int = 1) -> list[Delivery]:
        """Wait until ``count`` deliveries ``where`` accepts have arrived; returns them."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.received(where)
            if len(found) >= count:
                return found
            assert time.monotonic() < deadline, f"{count} matching deliveries did not arrive: {len(found)} did"
            time.sleep(0.1)
