"""Who is calling (:class:`Caller`) and the audit trail every write leaves (:class:`AuditTrail`).

A write is audited once it is known how it ended: the job it submitted and ``202`` (a write that answers at once,
like the host probe, records its own status and a short ``detail``), or the status its error maps to through
:data:`functions.errors.ERROR_TABLE` (``404``, ``409`` …); a write refused before it reached a service (no or bad
credentials, too low a role) is audited by the API with its ``401``/``403``. An audit failure never turns a
finished write into an error: it is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from functions.audit.log import AuditLog
from functions.auth import Permission, Principal
from functions.errors import problem_for
from functions.models.jobs import Job, Requester

__all__ = ["AuditTrail", "Caller", "WriteRecord"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Caller:
    """An authenticated caller and the client address the platform's front end saw."""

    principal: Principal
    client_ip: str | None = None

    @property
    def object_id(self) -> str:
        """The caller's stable id (Entra ``oid``)."""
        return self.principal.object_id

    @property
    def requester(self) -> Requester:
        """The caller as a job records it."""
        audit = self.principal.audit()
        return Requester(
            id=audit["object_id"], name=audit["display_name"], type=audit["identity_type"], app_id=audit["app_id"]
        )

    def can(self, permission: Permission) -> bool:
        """Whether the caller's roles grant ``permission``."""
        return self.principal.has(permission)


@dataclass
class WriteRecord:
    """What a write learned while it ran: the job it submitted, more of its target, a short outcome detail."""

    job: Job | None = None
    target: dict[str, str | None] = field(default_factory=dict)
    detail: str | None = None


class AuditTrail:
    """Appends audit records for writes (see the module docstring)."""

    def __init__(self, audit_log: AuditLog) -> None:
        self.log = audit_log

    @contextmanager
    def write(
        self, caller: Caller, action: str, target: Mapping[str, Any], *, status: int = 202
    ) -> Iterator[WriteRecord]:
        """Audit the write run inside the block: its job and ``status``, or the status of the error it raised.

        ``status`` is what the write answers when the block ends normally: ``202`` for one that submitted a job.
        """
        record = WriteRecord()
        who, ip = caller.principal.audit(), caller.client_ip
        try:
            yield record
        except Exception as exc:
            problem = problem_for(exc)
            outcome = problem.status if problem else 500
            self._append(who, action=action, target={**target, **record.target}, outcome=outcome, client_ip=ip)
            raise
        job_id = record.job.id if record.job is not None else None
        self._append(
            who,
            action=action,
            target={**target, **record.target},
            outcome=status,
            job_id=job_id,
            client_ip=ip,
            detail=record.detail,
        )

    def denied(
        self, principal: Principal | None, action: str, target: Mapping[str, Any], status: int, client_ip: str | None
    ) -> None:
        """Audit a write refused before it ran (``401``: no valid credentials; ``403``: not allowed)."""
        who = principal.audit() if principal else {}
        self._append(who, action=action, target=target, outcome=status, job_id=None, client_ip=client_ip)

    def _append(
        self,
        who: Mapping[str, Any],
        *,
        action: str,
        target: Mapping[str, Any],
        outcome: int,
        job_id: str | None = None,
        client_ip: str | None,
        detail: str | None = None,
    ) -> None:
        try:
            self.log.record(
                who=who,
                action=action,
                target=target,
                outcome=outcome,
                job_id=job_id,
                client_ip=client_ip,
                detail=detail,
            )
        except Exception:  # an audit failure must not turn a done write into an error; it is logged
            log.exception("audit record for %s failed", action)
