"""Per-host fault injection, latency and counters of a simulated host (Python API; JSON via the control plane).

:class:`HostFaults` fields (all off by default; :meth:`HostFaults.update` takes the same names as JSON):

- ``refuse_connections``: the listening socket is closed (clients get *connection refused*) until cleared.
- ``reset_connections``: connections are accepted and immediately reset.
- ``latency_ms``: added before every HTTP round trip is answered.
- ``reject_auth``: valid credentials are rejected (HTTP 401).
- ``script_errors``: ``{operation: {"category": ..., "message": ...}}`` — the operation fails with that error
  instead of running its handler.
- ``failures_after``: ``{operation: {"category": ..., "message": ...}}`` — the operation's handler runs (its
  changes stay on the host) and then the operation fails with that error: a script that fails after ``New-VM``.
- ``slow_operations``: ``{operation: milliseconds}`` — the operation's handler starts that much later.

:class:`HostCounters` counts HTTP round trips, NTLM handshakes, auth failures, shells opened/deleted, commands,
Receive calls and operation-timeout faults, faults in total, requests refused as larger than ``MaxEnvelopeSizekb``,
operations by name, and request/response body bytes.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

__all__ = ["HostCounters", "HostFaults", "ScriptFault"]


@dataclass(frozen=True)
class ScriptFault:
    """An injected script error for one operation."""

    category: str
    message: str


def _script_faults(key: str, value: Any) -> dict[str, ScriptFault]:
    errors = value or {}
    if not isinstance(errors, dict):
        raise ValueError(f"{key} must map operation names to {{category, message}}")
    parsed = {
        str(op): ScriptFault(str(spec["category"]), str(spec.get("message", "")))
        for op, spec in errors.items()
        if isinstance(spec, dict) and "category" in spec
    }
    if len(parsed) != len(errors):
        raise ValueError(f"each entry of {key} needs a category")
    return parsed


class HostFaults:
    """Thread-safe fault settings of one host; ``on_change`` is called after every change (the server listens)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.on_change: list[Any] = []
        self._reset_fields()

    def _reset_fields(self) -> None:
        self.refuse_connections = False
        self.reset_connections = False
        self.latency_ms: float = 0
        self.reject_auth = False
        self.script_errors: dict[str, ScriptFault] = {}
        self.failures_after: dict[str, ScriptFault] = {}
        self.slow_operations: dict[str, int] = {}

    def _changed(self) -> None:
        for callback in list(self.on_change):
            callback(self)

    def set_script_error(self, operation: str, category: str, message: str) -> None:
        """Make ``operation`` fail with ``category``/``message`` (as ``Fail-AetherV`` would)."""
        with self._lock:
            self.script_errors = {**self.script_errors, operation: ScriptFault(category, message)}
        self._changed()

    def set_slow_operation(self, operation: str, delay_ms: int) -> None:
        """Delay ``operation`` by ``delay_ms`` before its handler runs."""
        with self._lock:
            self.slow_operations = {**self.slow_operations, operation: int(delay_ms)}
        self._changed()

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial JSON-style update (unknown keys raise ``ValueError``, nothing is applied then)."""
        known = {"refuse_connections", "reset_connections", "latency_ms", "reject_auth", "script_errors"}
        known |= {"slow_operations", "failures_after"}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}")
        parsed: dict[str, Any] = {}
        for key in ("refuse_connections", "reset_connections", "reject_auth"):
            if key in changes:
                if not isinstance(changes[key], bool):
                    raise ValueError(f"{key} must be true or false")
                parsed[key] = changes[key]
        if "latency_ms" in changes:
            value = changes["latency_ms"]
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ValueError("latency_ms must be a non-negative number")
            parsed["latency_ms"] = value
        for key in ("script_errors", "failures_after"):
            if key in changes:
                parsed[key] = _script_faults(key, changes[key])
        if "slow_operations" in changes:
            slow = changes["slow_operations"] or {}
            if not isinstance(slow, dict) or not all(isinstance(v, int | float) and v >= 0 for v in slow.values()):
                raise ValueError("slow_operations must map operation names to milliseconds")
            parsed["slow_operations"] = {str(op): int(ms) for op, ms in slow.items()}
        with self._lock:
            for key, value in parsed.items():
                setattr(self, key, value)
        self._changed()

    def clear(self) -> None:
        """Turn every fault off."""
        with self._lock:
            self._reset_fields()
        self._changed()

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON."""
        with self._lock:
            return {
                "refuse_connections": self.refuse_connections,
                "reset_connections": self.reset_connections,
                "latency_ms": self.latency_ms,
                "reject_auth": self.reject_auth,
                "script_errors": {
                    op: {"category": fault.category, "message": fault.message}
                    for op, fault in self.script_errors.items()
                },
                "failures_after": {
                    op: {"category": fault.category, "message": fault.message}
                    for op, fault in self.failures_after.items()
                },
                "slow_operations": dict(self.slow_operations),
            }


class HostCounters:
    """Thread-safe protocol counters of one host."""

    FIELDS = (
        "http_round_trips",
        "ntlm_handshakes",
        "auth_failures",
        "shells_opened",
        "shells_deleted",
        "commands",
        "sends",
        "receives",
        "operation_timeouts",
        "faults",
        "requests_too_large",
        "bytes_in",
        "bytes_out",
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: Counter[str] = Counter()
        self._operations: Counter[str] = Counter()

    def add(self, name: str, amount: int = 1) -> None:
        """Increase counter ``name`` (one of :attr:`FIELDS`)."""
        with self._lock:
            self._values[name] += amount

    def add_operation(self, operation: str) -> None:
        """Count one received operation."""
        with self._lock:
            self._operations[operation] += 1

    def __getitem__(self, name: str) -> int:
        with self._lock:
            return self._values[name]

    def snapshot(self) -> dict[str, Any]:
        """All counters as JSON: every field (0 when unused) plus ``operations`` by name."""
        with self._lock:
            data: dict[str, Any] = {name: self._values[name] for name in self.FIELDS}
            data["operations"] = dict(self._operations)
            return data

    def reset(self) -> None:
        """Zero every counter."""
        with self._lock:
            self._values.clear()
            self._operations.clear()
