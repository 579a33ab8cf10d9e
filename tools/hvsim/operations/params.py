"""The scripts' shared helpers, for every operation: parameter coercion, VM lookup, sizes, the job marker.

Parameters arrive as the decoded ``$Params`` JSON object; these helpers coerce them the way PowerShell does when a
script casts them (``[string]$x``, ``[guid]$x``, a scalar where a list is expected) and fail with the category the
script's ``Fail-AetherV`` uses.
"""

from __future__ import annotations

import uuid
from typing import Any

from tools.hvsim.exceptions import InvalidParameters
from tools.hvsim.models import GB, FakeHost, FakeVm, join_path

__all__ = ["MARKER", "best_root", "gb", "list_param", "parse_guid", "read_marker", "text", "vm_param"]

MARKER = ".aetherv-job"
"""The file in a VM folder that names the job which made it (``prepare_disk`` writes it)."""


def gb(value: float) -> float:
    """Bytes as GB with two decimals (the scripts' ``[math]::Round($x / 1GB, 2)``)."""
    return round(value / GB, 2)


def parse_guid(value: Any) -> str:
    """``[guid]$Params.vm_id``: the canonical lower-case GUID, or :class:`InvalidParameters`."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise InvalidParameters(f"vm_id '{'' if value is None else value}' is not a GUID") from None


def vm_param(host: FakeHost, value: Any) -> FakeVm:
    """The VM whose id is ``value`` (``InvalidParameters`` for a bad GUID, ``VmNotFound`` for an unknown one)."""
    return host.vm(parse_guid(value))


def text(value: Any) -> str:
    """PowerShell's ``[string]$x`` (``$null`` → empty)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def list_param(value: Any) -> list[str] | None:
    """``[string[]]$x``: None stays None, a scalar becomes a one-item list."""
    if value is None:
        return None
    return [text(item) for item in (value if isinstance(value, list) else [value])]


def read_marker(host: FakeHost, folder: str) -> str | None:
    """The job id in ``folder``'s marker file, or None without one."""
    file = host.fs.get(join_path(folder, MARKER))
    return None if file is None else (file.text or "").strip()


def best_root(host: FakeHost, roots: list[str]) -> tuple[str | None, int]:
    """The storage root with the most free space, and its free bytes (``(None, -1)`` without roots)."""
    best: str | None = None
    best_free = -1
    for root in roots:
        free = host.free_bytes(root)
        if free > best_free:
            best, best_free = root, free
    return best, best_free
