"""VM leases: the lease a create or ``PUT /api/v1/vms/{vm_id}/lease`` asks for, and the lease a VM holds.

A request names the expiry as a moment (``expires_at``, RFC 3339) or as whole hours from now (``hours``); a
``PUT`` with ``{"expires_at": null}`` clears the lease. :func:`resolve_expiry` turns a request into the moment, and
names every problem (a moment in the past, one beyond ``AETHERV_LEASE_MAX_HOURS``) with its field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, model_validator

from functions.models.json import JsonObject
from functions.models.problems import Problem

__all__ = ["Lease", "LeaseRequest", "format_moment", "parse_moment", "resolve_expiry"]


class LeaseRequest(BaseModel):
    """The lease asked for: ``expires_at`` (a moment with its offset; ``null`` clears) or ``hours`` from now."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, frozen=True)

    expires_at: AwareDatetime | None = Field(
        default=None,
        description="When the VM is deleted (RFC 3339 with an offset, e.g. 2027-01-31T00:00:00Z); null clears the "
        "lease (PUT only).",
        examples=["2027-01-31T00:00:00Z"],
    )
    hours: StrictInt | None = Field(default=None, ge=1, description="Hours from now until the VM is deleted.")

    @model_validator(mode="after")
    def _one_of(self) -> LeaseRequest:
        given = self.model_fields_set & {"expires_at", "hours"}
        if len(given) != 1:
            raise ValueError("give exactly one of expires_at or hours")
        if "hours" in given and self.hours is None:
            raise ValueError("hours must be a whole number of hours (clear a lease with expires_at: null)")
        return self

    @property
    def clears(self) -> bool:
        """Whether this request clears the lease (``{"expires_at": null}``)."""
        return "expires_at" in self.model_fields_set and self.expires_at is None


def format_moment(moment: datetime) -> str:
    """A moment as the lease stores and shows it: UTC, seconds, ``Z`` (sorts as text in time order)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_moment(text: str) -> datetime:
    """The moment :func:`format_moment` wrote (or any ISO 8601 moment with an offset)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def resolve_expiry(
    request: LeaseRequest, *, now: datetime, max_hours: int, field: str = ""
) -> tuple[datetime | None, list[Problem]]:
    """The expiry ``request`` asks for (``None``: cleared) and the problems with it, each naming its field.

    ``field`` prefixes the field names (``lease.`` in a create request).
    """
    if request.clears:
        return None, []
    bound = now + timedelta(hours=max_hours)
    if request.hours is not None:
        if request.hours > max_hours:
            return None, [Problem(f"{field}hours", f"must be at most {max_hours} (AETHERV_LEASE_MAX_HOURS)")]
        return now + timedelta(hours=request.hours), []
    assert request.expires_at is not None
    expires = request.expires_at.astimezone(UTC).replace(microsecond=0)
    if expires <= now:
        return None, [Problem(f"{field}expires_at", "must be in the future")]
    if expires > bound:
        return None, [
            Problem(
                f"{field}expires_at",
                f"must be at most {max_hours} hours from now (AETHERV_LEASE_MAX_HOURS), before {format_moment(bound)}",
            )
        ]
    return expires, []


@dataclass(frozen=True)
class Lease:
    """The lease a VM holds: when it expires, for whom, who set it last, and what the lease workflow did."""

    vm_id: str
    expires_at: str
    requested_by: Mapping[str, Any]
    """The VM's requester (the create job's ``requested_by``): the Operator who may extend or clear it."""
    set_by: Mapping[str, Any]
    set_at: str
    version: int = 1
    """Raised by every change: the workflow warns and deletes only for the version it read."""
    warned_at: str | None = None
    expired_at: str | None = None
    delete_job_id: str | None = None
    delete_attempts: int = 0

    def changed(self, expires_at: str, set_by: Mapping[str, Any], set_at: str) -> Lease:
        """This lease with a new expiry (a new version, not yet warned or expired)."""
        return replace(
            self,
            expires_at=expires_at,
            set_by=dict(set_by),
            set_at=set_at,
            version=self.version + 1,
            warned_at=None,
            expired_at=None,
            delete_job_id=None,
            delete_attempts=0,
        )

    def to_json(self) -> JsonObject:
        """The stored and shown document."""
        return {
            "vm_id": self.vm_id,
            "expires_at": self.expires_at,
            "requested_by": dict(self.requested_by),
            "set_by": dict(self.set_by),
            "set_at": self.set_at,
            "version": self.version,
            "warned_at": self.warned_at,
            "expired_at": self.expired_at,
            "delete_job_id": self.delete_job_id,
            "delete_attempts": self.delete_attempts,
        }

    def view(self) -> JsonObject:
        """What the VM document shows (``lease``)."""
        document = self.to_json()
        document.pop("vm_id")
        return document

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Lease:
        """Parse :meth:`to_json`'s document."""
        return cls(
            vm_id=str(data["vm_id"]),
            expires_at=str(data["expires_at"]),
            requested_by=dict(data.get("requested_by") or {}),
            set_by=dict(data.get("set_by") or {}),
            set_at=str(data.get("set_at") or ""),
            version=int(data.get("version") or 1),
            warned_at=data.get("warned_at"),
            expired_at=data.get("expired_at"),
            delete_job_id=data.get("delete_job_id"),
            delete_attempts=int(data.get("delete_attempts") or 0),
        )
