"""What a create carries of the approval policy, and the decision an Admin sends to the waiting workflow.

:class:`ApprovalRule` travels in the create's input: ``required_by`` when the service already knows the create needs
an approval (its host, its host's cluster or its IP pool requires one), else the hosts and clusters that do, for a
create placed automatically (judged on the host placement picks), and how long the workflow waits. The workflow
waits for the external event :data:`APPROVAL_EVENT` carrying an :class:`ApprovalDecision`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from functions.models.json import JsonObject

__all__ = ["APPROVAL_EVENT", "ApprovalDecision", "ApprovalRule", "Decision"]

APPROVAL_EVENT = "approval"
"""The external event an Admin's decision is sent to the waiting create as."""

Decision = Literal["approved", "rejected"]


@dataclass(frozen=True)
class ApprovalRule:
    """The approval policy a create carries (see the module docstring)."""

    timeout_seconds: float
    required_by: str | None = None
    hosts: tuple[str, ...] = ()
    clusters: tuple[str, ...] = ()

    def judge(self, host: str | None, cluster: str | None) -> str | None:
        """Why the create needs an approval on ``host`` (of ``cluster``), or None."""
        if self.required_by is not None:
            return self.required_by
        if host is not None and ("*" in self.hosts or host.lower() in self.hosts):
            return f"host {host} requires approval"
        if cluster is not None and cluster.lower() in self.clusters:
            return f"cluster {cluster} requires approval"
        return None

    def to_json(self) -> JsonObject:
        """The rule as the create's input holds it."""
        return {
            "timeout_seconds": self.timeout_seconds,
            "required_by": self.required_by,
            "hosts": list(self.hosts),
            "clusters": list(self.clusters),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ApprovalRule:
        """Parse the rule."""
        return cls(
            timeout_seconds=float(data["timeout_seconds"]),
            required_by=data.get("required_by"),
            hosts=tuple(str(h).lower() for h in data.get("hosts") or ()),
            clusters=tuple(str(c).lower() for c in data.get("clusters") or ()),
        )


@dataclass(frozen=True)
class ApprovalDecision:
    """An Admin's decision as the event carries it: which, by whom (a requester document), when and why."""

    decision: Decision
    by: JsonObject
    at: str
    reason: str | None = None

    def to_json(self) -> JsonObject:
        """The event's data."""
        return {"decision": self.decision, "by": dict(self.by), "at": self.at, "reason": self.reason}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ApprovalDecision:
        """Parse the event's data (anything but ``approved`` is a rejection: never run on a doubtful decision)."""
        decision: Decision = "approved" if data.get("decision") == "approved" else "rejected"
        reason = data.get("reason")
        return cls(
            decision, dict(data.get("by") or {}), str(data.get("at") or ""), None if reason is None else str(reason)
        )
