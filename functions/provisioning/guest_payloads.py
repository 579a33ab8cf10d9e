"""The guest-protocol steps' payloads and results: start and announce, guest polls, publish, finish.

Part of the orchestrator–activity contract described in :mod:`functions.provisioning.payloads`: shapes stored in
orchestration history, explicit ``to_json``/``from_json``, later fields defaulted so earlier documents still load.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from functions.models.json import JsonObject
from functions.provisioning.payloads import VmTarget
from functions.provisioning.payloads import target_fields as _target
from functions.provisioning.workflow_data import Timing

__all__ = [
    "GuestCheck",
    "GuestFinished",
    "GuestStatusResult",
    "GuestWaitInput",
    "GuestWaitOutput",
    "PublishPayload",
    "PublishResult",
    "StartPayload",
    "StartResult",
]


@dataclass(frozen=True, kw_only=True)
class StartPayload(VmTarget):
    """Start the VM; ``announce`` the provisioning handshake too."""

    announce: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StartPayload:
        """Parse a payload."""
        return cls(**_target(data), announce=bool(data.get("announce")))


@dataclass(frozen=True)
class StartResult:
    """Whether this call started the VM, the protocol version it announced, and any key already there.

    ``pre_start_key`` is the fingerprint of a public key in the guest pool before the start: never this run's key.
    """

    started: bool
    version: str | None = None
    pre_start_key: str | None = None

    def to_json(self) -> JsonObject:
        """``{"started"}`` plus ``version`` when announced and ``pre_start_key`` when there was one."""
        document: JsonObject = {"started": self.started}
        if self.version is not None:
            document["version"] = self.version
        if self.pre_start_key is not None:
            document["pre_start_key"] = self.pre_start_key
        return document

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StartResult:
        """Parse a result."""
        return cls(
            started=bool(data.get("started")), version=data.get("version"), pre_start_key=data.get("pre_start_key")
        )


@dataclass(frozen=True, kw_only=True)
class GuestCheck(VmTarget):
    """What a guest poll needs to judge the guest's key and agent (workflow version 3 on).

    ``pre_start_key`` and ``version`` come from the start step; ``state_seen_before`` is true when the previous
    poll already showed ``waitingforaeskey``; ``hostname`` and ``ipv4`` are what the guest's own integration
    services should report once it applied them (for agents that never report completion). ``last_state`` is the
    guest state the previous poll saw: a poll that sees another one logs the change in the job's log.
    """

    os_family: str = "linux"
    version: str | None = None
    pre_start_key: str | None = None
    state_seen_before: bool = False
    hostname: str | None = None
    ipv4: str | None = None
    last_state: str | None = None

    def to_json(self) -> JsonObject:
        """The payload; without ``version`` (earlier instances) just the target."""
        document = super().to_json()
        return document if self.version is not None else {key: document[key] for key in ("job_id", "host", "vm_id")}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GuestCheck:
        """Parse a payload (a plain target, as earlier instances send, checks nothing more)."""
        return cls(
            **_target(data),
            os_family=str(data.get("os_family") or "linux"),
            version=data.get("version"),
            pre_start_key=data.get("pre_start_key"),
            state_seen_before=bool(data.get("state_seen_before")),
            hostname=data.get("hostname"),
            ipv4=data.get("ipv4"),
            last_state=data.get("last_state"),
        )


@dataclass(frozen=True)
class GuestStatusResult:
    """The guest's provisioning state and error summary, and whether its key is published.

    With a :class:`GuestCheck` payload also: ``key`` (``absent``, ``echoed``, ``new`` or ``stale``: is the key
    this run's), ``agent`` (the agent's generation: ``current``, ``upstream``, ``hlvmm`` or ``unknown`` while a
    poll more is needed), ``agent_name`` (``aetherv-linux/2.5.0`` from its capability mark) and ``confirmed``
    (the guest's integration services report the requested host name and address).
    """

    state: str | None
    error_summary: str | None = None
    public_key_present: bool = False
    key: str | None = None
    agent: str | None = None
    agent_name: str | None = None
    confirmed: bool | None = None

    @property
    def key_usable(self) -> bool:
        """This run's guest published this key (an older agent's new key counts; a pre-start key never does)."""
        return self.key in (None, "echoed", "new") and self.public_key_present

    def to_json(self) -> JsonObject:
        """``{"state", "error_summary", "public_key_present"}`` plus what a :class:`GuestCheck` found."""
        document: JsonObject = {
            "state": self.state,
            "error_summary": self.error_summary,
            "public_key_present": self.public_key_present,
        }
        extra = {"key": self.key, "agent": self.agent, "agent_name": self.agent_name, "confirmed": self.confirmed}
        document.update({name: value for name, value in extra.items() if value is not None})
        return document

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GuestStatusResult:
        """Parse a result."""
        return cls(
            state=data.get("state"),
            error_summary=data.get("error_summary"),
            public_key_present=bool(data.get("public_key_present")),
            key=data.get("key"),
            agent=data.get("agent"),
            agent_name=data.get("agent_name"),
            confirmed=data.get("confirmed"),
        )


@dataclass(frozen=True, kw_only=True)
class PublishPayload(VmTarget):
    """Publish the sealed guest data, encrypted to the guest's key.

    ``check_agent`` (workflow version 3 on): first make sure the key is this run's (``pre_start_key``) and that the
    guest's agent applies every value exactly, else refuse before anything is written.
    """

    sealed_guest: str | None = None
    os_family: str = "linux"
    check_agent: bool = False
    version: str | None = None
    pre_start_key: str | None = None

    def to_json(self) -> JsonObject:
        """The payload (the agent check's fields only when it is asked for)."""
        document = super().to_json()
        if not self.check_agent:
            for name in ("check_agent", "version", "pre_start_key"):
                document.pop(name)
        return document

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PublishPayload:
        """Parse a payload."""
        return cls(
            **_target(data),
            sealed_guest=data.get("sealed_guest"),
            os_family=str(data["os_family"]),
            check_agent=bool(data.get("check_agent")),
            version=data.get("version"),
            pre_start_key=data.get("pre_start_key"),
        )


@dataclass(frozen=True)
class PublishResult:
    """How many host KVP items were written, and the agent they were written for (when it was checked).

    ``warnings``: what the job cannot confirm with that agent.
    """

    items: int
    agent: str | None = None
    warnings: tuple[str, ...] = ()

    def to_json(self) -> JsonObject:
        """``{"items"}`` plus ``agent`` and ``warnings`` when there are any."""
        document: JsonObject = {"items": self.items}
        if self.agent is not None:
            document["agent"] = self.agent
        if self.warnings:
            document["warnings"] = list(self.warnings)
        return document

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PublishResult:
        """Parse a result."""
        return cls(items=int(data["items"]), agent=data.get("agent"), warnings=tuple(data.get("warnings") or ()))


@dataclass(frozen=True)
class GuestFinished:
    """How many provisioning DVD drives were removed when the guest's provisioning ended."""

    removed_drives: int

    def to_json(self) -> JsonObject:
        """``{"removed_drives"}``."""
        return {"removed_drives": self.removed_drives}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GuestFinished:
        """Parse a result."""
        return cls(removed_drives=int(data["removed_drives"]))


@dataclass(frozen=True)
class GuestWaitInput:
    """The guest-wait sub-orchestration's input (create workflow version 3 on), carried across ``continue_as_new``.

    ``step`` names the wait (``wait_for_key``, ``wait_for_apply``); ``check`` is the poll's payload (its
    ``state_seen_before`` kept up to date); ``wanted`` the states that end the wait; ``deadline`` an ISO time;
    ``interval`` the current poll interval (it backs off while nothing changes); ``published_at`` (the apply wait)
    when the data was published, for agents that never report; ``guest_state`` the last state seen;
    ``generation`` how often the wait continued as new.
    """

    step: str
    check: GuestCheck
    wanted: tuple[str, ...]
    what: str
    deadline: str
    timing: Timing
    interval: float
    published_at: str | None = None
    guest_state: str | None = None
    generation: int = 0

    def to_json(self) -> JsonObject:
        """The input document."""
        return {
            "step": self.step,
            "check": self.check.to_json(),
            "wanted": list(self.wanted),
            "what": self.what,
            "deadline": self.deadline,
            "timing": self.timing.to_json(),
            "interval": self.interval,
            "published_at": self.published_at,
            "guest_state": self.guest_state,
            "generation": self.generation,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GuestWaitInput:
        """Parse the input document."""
        return cls(
            step=str(data["step"]),
            check=GuestCheck.from_json(data["check"]),
            wanted=tuple(str(state) for state in data["wanted"]),
            what=str(data["what"]),
            deadline=str(data["deadline"]),
            timing=Timing.from_json(data.get("timing")),
            interval=float(data["interval"]),
            published_at=data.get("published_at"),
            guest_state=data.get("guest_state"),
            generation=int(data.get("generation", 0)),
        )


@dataclass(frozen=True)
class GuestWaitOutput:
    """How a guest wait ended: the last poll, and a warning when the integration services stood in for the agent."""

    status: GuestStatusResult
    warning: str | None = None

    def to_json(self) -> JsonObject:
        """``{"status", "warning"}``."""
        return {"status": self.status.to_json(), "warning": self.warning}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GuestWaitOutput:
        """Parse the output."""
        return cls(status=GuestStatusResult.from_json(data["status"]), warning=data.get("warning"))
