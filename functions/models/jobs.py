"""Job records: what a job is, its status, steps, error and who asked for it — typed, with their JSON shapes.

A job is one workflow run (create, delete, power, refresh). Its document is stored in Table Storage, patched by the
workflow as it runs and shown by the API; the JSON shapes here are that contract (the API's ``JobView``). Every type
has explicit ``to_json``/``from_json``, so the documents written by earlier builds still load.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from functions.models.json import JsonObject

__all__ = [
    "FINAL_STATUSES",
    "Approval",
    "Job",
    "JobError",
    "JobPatch",
    "JobStatus",
    "JobTarget",
    "Requester",
    "StepRecord",
    "StepStatus",
]


class JobStatus(StrEnum):
    """Where a job is: ``Pending`` → ``Running`` → ``Succeeded`` | ``Failed`` | ``Canceled``.

    A create that needs an approval waits in ``AwaitingApproval`` (after ``Pending``, or after its placement) until an
    Admin decides; then it runs, or ends ``Canceled``.
    """

    PENDING = "Pending"
    AWAITING_APPROVAL = "AwaitingApproval"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELED = "Canceled"

    @property
    def final(self) -> bool:
        """Whether the job has finished (a final status is never changed again)."""
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED})


class StepStatus(StrEnum):
    """The status of one step of a job."""

    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELED = "Canceled"


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class Requester:
    """Who asked for a job: the caller's object id, display name, identity type and client app id."""

    id: str | None = None
    name: str | None = None
    type: str | None = None
    app_id: str | None = None

    def to_json(self) -> JsonObject:
        """``{"id", "name", "type", "app_id"}`` (``{}`` for an anonymous caller)."""
        if self == Requester():
            return {}
        return {"id": self.id, "name": self.name, "type": self.type, "app_id": self.app_id}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Requester:
        """Parse a stored requester (missing fields are ``None``)."""
        data = data or {}
        return cls(
            id=_opt_str(data.get("id")),
            name=_opt_str(data.get("name")),
            type=_opt_str(data.get("type")),
            app_id=_opt_str(data.get("app_id")),
        )


@dataclass(frozen=True)
class Approval:
    """A job's approval: why it was required, until when, and the decision (``approved``, ``rejected``, ``expired``).

    ``decided_by`` is the Admin who decided (``None`` for an expiry); ``reason`` is theirs (or why it expired).
    """

    required: bool = True
    required_by: str | None = None
    deadline: str | None = None
    decision: str | None = None
    decided_by: Requester | None = None
    decided_at: str | None = None
    reason: str | None = None

    def to_json(self) -> JsonObject:
        """``{required, required_by, deadline, decision, decided_by, decided_at, reason}``."""
        return {
            "required": self.required,
            "required_by": self.required_by,
            "deadline": self.deadline,
            "decision": self.decision,
            "decided_by": self.decided_by.to_json() if self.decided_by is not None else None,
            "decided_at": self.decided_at,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Approval:
        """Parse a stored approval."""
        by = data.get("decided_by")
        return cls(
            required=bool(data.get("required", True)),
            required_by=_opt_str(data.get("required_by")),
            deadline=_opt_str(data.get("deadline")),
            decision=_opt_str(data.get("decision")),
            decided_by=Requester.from_json(by) if by else None,
            decided_at=_opt_str(data.get("decided_at")),
            reason=_opt_str(data.get("reason")),
        )


@dataclass(frozen=True)
class JobTarget:
    """What a job acts on: the host, the VM's name and id (once known) and, for power jobs, the action."""

    host: str | None = None
    name: str | None = None
    vm_id: str | None = None
    action: str | None = None

    def to_json(self) -> JsonObject:
        """``{"host", "name", "vm_id"}`` plus ``action`` for power jobs."""
        document: JsonObject = {"host": self.host, "name": self.name, "vm_id": self.vm_id}
        if self.action is not None:
            document["action"] = self.action
        return document

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> JobTarget:
        """Parse a stored target."""
        data = data or {}
        return cls(
            host=_opt_str(data.get("host")),
            name=_opt_str(data.get("name")),
            vm_id=_opt_str(data.get("vm_id")),
            action=_opt_str(data.get("action")),
        )


@dataclass(frozen=True)
class StepRecord:
    """One step of a job: its name, status and when it started and finished (ISO 8601, UTC).

    A step whose work runs on the host in the background also names that work: ``operation`` is ``{"id", "kind",
    "state", "percent", "bytes_done", "bytes_total"}`` of the host operation (its id finds it on the host).
    """

    name: str
    status: StepStatus
    started: str | None = None
    finished: str | None = None
    operation: JsonObject | None = None

    def to_json(self) -> JsonObject:
        """``{"name", "status", "started", "finished"}`` and ``operation`` when the step has one."""
        document: JsonObject = {
            "name": self.name,
            "status": str(self.status),
            "started": self.started,
            "finished": self.finished,
        }
        if self.operation is not None:
            document["operation"] = dict(self.operation)
        return document

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StepRecord:
        """Parse a stored step."""
        operation = data.get("operation")
        return cls(
            name=str(data["name"]),
            status=StepStatus(str(data["status"])),
            started=_opt_str(data.get("started")),
            finished=_opt_str(data.get("finished")),
            operation=dict(operation) if isinstance(operation, Mapping) else None,
        )


@dataclass(frozen=True)
class JobError:
    """Why a job failed: a category (``VmNotFound``, ``GuestTimeout`` …), a safe message, whether it was transient."""

    category: str
    message: str
    transient: bool = False

    def to_json(self) -> JsonObject:
        """``{"category", "message", "transient"}``."""
        return {"category": self.category, "message": self.message, "transient": self.transient}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobError:
        """Parse a stored error."""
        return cls(str(data.get("category", "Error")), str(data.get("message", "")), bool(data.get("transient")))


def _steps(value: Any) -> tuple[StepRecord, ...] | None:
    return None if value is None else tuple(StepRecord.from_json(step) for step in value)


@dataclass(frozen=True)
class JobPatch:
    """A change to a job document: only the fields that are set (not ``None``) are written.

    ``target_set``/``error_set`` … are implied by the field being present in the JSON (see :meth:`from_json`).
    """

    status: JobStatus | None = None
    current_step: str | None = None
    steps: tuple[StepRecord, ...] | None = None
    target: JobTarget | None = None
    started: str | None = None
    finished: str | None = None
    failed_step: str | None = None
    error: JobError | None = None
    cleanup: JsonObject | None = None
    result: JsonObject | None = None
    cancel_requested_by: Requester | None = None
    add_warnings: tuple[str, ...] | None = None
    """Warnings to append to the job's (a finished step that had to leave something undone)."""
    plan: tuple[str, ...] = ()
    """The names of the steps the workflow plans to run (sent once, when it starts; empty leaves the plan as is)."""
    approval: Approval | None = None
    fields: frozenset[str] = field(default=frozenset(), compare=False)
    """Fields set explicitly to ``None`` (``failed_step: null``); kept so such a patch round-trips."""

    def to_json(self) -> JsonObject:
        """The patch as the workflow sends it: only the fields it sets, in a stable order."""
        document: JsonObject = {}
        for name in _PATCH_ORDER:
            value = getattr(self, name)
            if (value is None and name not in self.fields) or (name == "plan" and not value):
                continue
            document[name] = _patch_value(value)
        return document

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobPatch:
        """Parse a patch (unknown fields are refused: a patch is written by this code only)."""
        unknown = set(data) - set(_PATCH_ORDER)
        if unknown:
            raise ValueError(f"unknown job fields in patch: {', '.join(sorted(unknown))}")
        error = data.get("error")
        target = data.get("target")
        by = data.get("cancel_requested_by")
        return cls(
            status=JobStatus(data["status"]) if data.get("status") is not None else None,
            current_step=_opt_str(data.get("current_step")),
            steps=_steps(data.get("steps")),
            target=JobTarget.from_json(target) if target is not None else None,
            started=_opt_str(data.get("started")),
            finished=_opt_str(data.get("finished")),
            failed_step=_opt_str(data.get("failed_step")),
            error=JobError.from_json(error) if error is not None else None,
            cleanup=dict(data["cleanup"]) if data.get("cleanup") is not None else None,
            result=dict(data["result"]) if data.get("result") is not None else None,
            cancel_requested_by=Requester.from_json(by) if by is not None else None,
            add_warnings=tuple(str(w) for w in data["add_warnings"]) if data.get("add_warnings") else None,
            plan=_plan(data.get("plan")),
            approval=Approval.from_json(data["approval"]) if data.get("approval") is not None else None,
            fields=frozenset(name for name, value in data.items() if value is None),
        )


_PATCH_ORDER = (
    "status",
    "current_step",
    "steps",
    "target",
    "started",
    "finished",
    "failed_step",
    "error",
    "cleanup",
    "result",
    "cancel_requested_by",
    "add_warnings",
    "plan",
    "approval",
)


def _plan(value: Any) -> tuple[str, ...]:
    return tuple(str(step) for step in value or ())


def _patch_value(value: Any) -> Any:
    if isinstance(value, tuple):
        return [item.to_json() if hasattr(item, "to_json") else item for item in value]
    if isinstance(value, Requester | JobTarget | JobError | Approval):
        return value.to_json()
    if isinstance(value, JobStatus):
        return str(value)
    return value


@dataclass(frozen=True)
class Job:
    """A job document (see the module docstring); ``request`` is the public request (secrets masked)."""

    id: str
    kind: str
    status: JobStatus
    created: str
    updated: str
    target: JobTarget = field(default_factory=JobTarget)
    steps: tuple[StepRecord, ...] = ()
    requested_by: Requester = field(default_factory=Requester)
    request: JsonObject | None = None
    idempotency_key: str | None = None
    warnings: tuple[str, ...] = ()
    current_step: str | None = None
    started: str | None = None
    finished: str | None = None
    failed_step: str | None = None
    error: JobError | None = None
    cleanup: JsonObject | None = None
    result: JsonObject | None = None
    cancel_requested_by: Requester | None = None
    plan: tuple[str, ...] = ()
    """The names of the steps the workflow plans to run, known when it starts (empty for earlier documents)."""
    approval: Approval | None = None
    """Set on a job that needed an approval (a create on a host, cluster or pool that requires one)."""

    @property
    def final(self) -> bool:
        """Whether the job has finished."""
        return self.status.final

    def with_patch(self, patch: JobPatch, updated: str) -> Job:
        """This job with ``patch`` applied (a final status is never reopened: such a patch changes nothing)."""
        if self.final and patch.status is not None and patch.status != self.status:
            return self
        changes: JsonObject = {"updated": updated}
        for name in _PATCH_ORDER:
            value = getattr(patch, name)
            if name == "add_warnings":
                if value:
                    changes["warnings"] = (*self.warnings, *(w for w in value if w not in self.warnings))
            elif name == "plan":
                if value:  # a patch without a plan keeps the job's
                    changes["plan"] = value
            elif value is not None or name in patch.fields:
                changes[name] = () if name == "steps" and value is None else value
        return replace(self, **changes)

    def to_json(self) -> JsonObject:
        """The stored document: the nested fields always (``null`` when unset), scalars only when set."""
        document: JsonObject = {
            "id": self.id,
            "kind": self.kind,
            "status": str(self.status),
            "created": self.created,
            "updated": self.updated,
            "target": self.target.to_json(),
            "steps": [step.to_json() for step in self.steps],
            "requested_by": self.requested_by.to_json(),
            "request": self.request,
            "warnings": list(self.warnings),
            "error": self.error.to_json() if self.error else None,
            "result": self.result,
            "cleanup": self.cleanup,
        }
        for name in ("idempotency_key", "current_step", "started", "finished", "failed_step"):
            if getattr(self, name) is not None:
                document[name] = getattr(self, name)
        if self.cancel_requested_by is not None:
            document["cancel_requested_by"] = self.cancel_requested_by.to_json()
        if self.plan:
            document["plan"] = list(self.plan)
        if self.approval is not None:
            document["approval"] = self.approval.to_json()
        return document

    def to_view(self) -> JsonObject:
        """The document as the API shows it: without the stored request."""
        view = self.to_json()
        view.pop("request")
        return view

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Job:
        """Parse a stored document (documents of earlier builds included)."""
        error = data.get("error")
        by = data.get("cancel_requested_by")
        return cls(
            id=str(data["id"]),
            kind=str(data["kind"]),
            status=JobStatus(str(data.get("status") or JobStatus.PENDING)),
            created=str(data.get("created", "")),
            updated=str(data.get("updated", "")),
            target=JobTarget.from_json(data.get("target")),
            steps=_steps(data.get("steps")) or (),
            requested_by=Requester.from_json(data.get("requested_by")),
            request=dict(data["request"]) if data.get("request") is not None else None,
            idempotency_key=_opt_str(data.get("idempotency_key")),
            warnings=tuple(str(w) for w in data.get("warnings") or ()),
            current_step=_opt_str(data.get("current_step")),
            started=_opt_str(data.get("started")),
            finished=_opt_str(data.get("finished")),
            failed_step=_opt_str(data.get("failed_step")),
            error=JobError.from_json(error) if error is not None else None,
            cleanup=dict(data["cleanup"]) if data.get("cleanup") is not None else None,
            result=dict(data["result"]) if data.get("result") is not None else None,
            cancel_requested_by=Requester.from_json(by) if by is not None else None,
            plan=_plan(data.get("plan")),
            approval=Approval.from_json(data["approval"]) if data.get("approval") else None,
        )
