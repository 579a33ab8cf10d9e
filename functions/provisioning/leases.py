"""What the lease workflow and its activities pass each other (see ``functions/workflows/lease.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from functions.models.json import JsonObject

__all__ = ["LEASE_CHANGED", "LeaseArm", "LeaseCheck", "LeaseInput", "LeaseStep"]

LEASE_CHANGED = "lease_changed"
"""The external event that tells a waiting lease workflow its lease changed (it re-reads it)."""


@dataclass(frozen=True)
class LeaseInput:
    """The lease workflow's input: the VM, the warning ahead of expiry, the longest single wait (seconds)."""

    vm_id: str
    warning_seconds: float
    check_seconds: float

    def to_json(self) -> JsonObject:
        """The input document."""
        return {"vm_id": self.vm_id, "warning_seconds": self.warning_seconds, "check_seconds": self.check_seconds}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LeaseInput:
        """Parse the input document."""
        return cls(str(data["vm_id"]), float(data["warning_seconds"]), float(data["check_seconds"]))


@dataclass(frozen=True)
class LeaseStep:
    """A lease activity's payload: the VM and the lease version the workflow read (0: not read yet)."""

    vm_id: str
    version: int = 0

    def to_json(self) -> JsonObject:
        """The payload document."""
        return {"vm_id": self.vm_id, "version": self.version}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LeaseStep:
        """Parse the payload document."""
        return cls(str(data["vm_id"]), int(data.get("version") or 0))


@dataclass(frozen=True)
class LeaseCheck:
    """The lease as read: whether it is active, its version, expiry, warning time, and what was done."""

    active: bool
    version: int = 0
    expires_at: str | None = None
    warn_at: str | None = None
    warned: bool = False
    delete_job_id: str | None = None

    def to_json(self) -> JsonObject:
        """The result document."""
        return {
            "active": self.active,
            "version": self.version,
            "expires_at": self.expires_at,
            "warn_at": self.warn_at,
            "warned": self.warned,
            "delete_job_id": self.delete_job_id,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LeaseCheck:
        """Parse the result document."""
        return cls(
            active=bool(data["active"]),
            version=int(data.get("version") or 0),
            expires_at=data.get("expires_at"),
            warn_at=data.get("warn_at"),
            warned=bool(data.get("warned")),
            delete_job_id=data.get("delete_job_id"),
        )


@dataclass(frozen=True)
class LeaseArm:
    """What a create with a lease hands the arming activity: the new VM, its host, the expiry, the requester."""

    vm_id: str
    host: str
    expires_at: str
    requested_by: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> JsonObject:
        """The payload document."""
        return {
            "vm_id": self.vm_id,
            "host": self.host,
            "expires_at": self.expires_at,
            "requested_by": dict(self.requested_by),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LeaseArm:
        """Parse the payload document."""
        return cls(str(data["vm_id"]), str(data["host"]), str(data["expires_at"]), dict(data.get("requested_by") or {}))
