"""HTTP messages between the devhost's ASGI front door and the parts that answer requests.

A :class:`Request` is buffered before anything sees it; a :class:`Response` is what a part
returns. :class:`ManagementHandler` is the one thing the front door needs from the Durable
management API, so :mod:`tools.devhost.asgi` and :mod:`tools.devhost.management` both depend on
this module and never on each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qsl


@dataclass
class Request:
    """A buffered HTTP request."""

    method: str
    path: str
    query_string: str
    headers: list[tuple[str, str]]
    body: bytes
    url: str
    raw_path: str

    def query(self) -> dict[str, str]:
        """Query parameters; repeated keys are joined with commas, as the host does."""
        values: dict[str, str] = {}
        for key, value in parse_qsl(self.query_string, keep_blank_values=True):
            values[key] = f"{values[key]},{value}" if key in values else value
        return values

    def header(self, name: str) -> str | None:
        """First value of a header (case-insensitive)."""
        lower = name.lower()
        for key, value in self.headers:
            if key == lower:
                return value
        return None


@dataclass
class Response:
    """An HTTP response to send."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] | None = None


class ManagementHandler(Protocol):
    """Answers requests under the Durable management API's base paths."""

    async def handle(self, request: Request, subpath: str) -> Response:
        """Answer one request; ``subpath`` is relative to the API base."""
