"""The event catalogue: every type under one prefix, and the CloudEvents 1.0 envelope of each.

An event's id is derived from what it reports (uuid5 of its type and key: the job, the VM's observed change, the
host's outage), so an emitter that runs twice (activities are at least once) emits the same event, and the outbox
keeps one. ``subject`` is the resource path (``/jobs/{id}``, ``/vms/{id}``, ``/hosts/{name}``); ``data`` holds ids
and public fields only: job documents never hold secrets (guest secrets travel sealed and are masked in requests).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from functions.models.jobs import Job, JobStatus
from functions.models.json import JsonObject
from functions.models.leases import Lease

__all__ = [
    "EVENT_PREFIX",
    "EVENT_SOURCE",
    "EventType",
    "OutgoingEvent",
    "host_event",
    "job_events",
    "lease_expiring_event",
    "vm_state_event",
]

EVENT_PREFIX = "io.aetherv."
"""Every event type starts with this (e.g. ``io.aetherv.job.failed``)."""
EVENT_SOURCE = "/aetherv"
"""The CloudEvents ``source`` of every event this app emits."""
_NAMESPACE = uuid.UUID("6f1f5e8e-5c1d-4a43-9f0e-2b8f3f5a9c70")


class EventType(StrEnum):
    """The event types (the part after :data:`EVENT_PREFIX`)."""

    JOB_CREATED = "job.created"
    JOB_AWAITING_APPROVAL = "job.awaiting_approval"
    JOB_SUCCEEDED = "job.succeeded"
    JOB_FAILED = "job.failed"
    JOB_CANCELED = "job.canceled"
    VM_CREATED = "vm.created"
    VM_DELETED = "vm.deleted"
    VM_STATE_CHANGED = "vm.state_changed"
    VM_LEASE_EXPIRING = "vm.lease_expiring"
    HOST_DISCONNECTED = "host.disconnected"
    HOST_RECONNECTED = "host.reconnected"

    @property
    def full(self) -> str:
        """The CloudEvents ``type``."""
        return EVENT_PREFIX + self.value


@dataclass(frozen=True)
class OutgoingEvent:
    """One event as the outbox stores it: its id, type, subject and the structured-mode JSON body."""

    id: str
    type: str
    subject: str
    body: bytes

    @classmethod
    def build(
        cls, kind: EventType, key: str, subject: str, data: JsonObject, at: datetime | None = None
    ) -> OutgoingEvent:
        """The event ``kind`` about ``key`` (its id derives from both), with ``data``, as of ``at`` (default now)."""
        event_id = str(uuid.uuid5(_NAMESPACE, f"{kind.value}:{key}"))
        attributes: dict[str, Any] = {
            "id": event_id,
            "source": EVENT_SOURCE,
            "type": kind.full,
            "subject": subject,
            "time": (at or datetime.now(UTC)).astimezone(UTC),
            "datacontenttype": "application/json",
        }
        envelope = CloudEvent(attributes, data)
        return cls(event_id, kind.full, subject, JSONFormat().write(envelope))


_FINAL_TYPES = {
    JobStatus.SUCCEEDED: EventType.JOB_SUCCEEDED,
    JobStatus.FAILED: EventType.JOB_FAILED,
    JobStatus.CANCELED: EventType.JOB_CANCELED,
}
_VM_KINDS = {"create_vm": EventType.VM_CREATED, "delete_vm": EventType.VM_DELETED}


def _moment(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def job_events(job: Job, *, created: bool) -> list[OutgoingEvent]:
    """The events a job's stored state stands for (``created``: the job was just stored).

    Its creation, its wait for an approval, its end, and the VM a create or delete made or removed.
    """
    document = job.to_json()
    subject = f"/jobs/{job.id}"
    at = _moment(job.updated)
    events: list[OutgoingEvent] = []
    if created:
        events.append(OutgoingEvent.build(EventType.JOB_CREATED, job.id, subject, {"job": document}, at))
    if job.status == JobStatus.AWAITING_APPROVAL:
        events.append(OutgoingEvent.build(EventType.JOB_AWAITING_APPROVAL, job.id, subject, {"job": document}, at))
    final = _FINAL_TYPES.get(job.status)
    if final is not None:
        events.append(OutgoingEvent.build(final, job.id, subject, {"job": document}, at))
        vm_kind = _VM_KINDS.get(job.kind)
        if job.status == JobStatus.SUCCEEDED and vm_kind is not None and job.target.vm_id:
            vm = {
                "vm_id": job.target.vm_id,
                "name": job.target.name,
                "host": job.target.host,
                "job_id": job.id,
            }
            events.append(OutgoingEvent.build(vm_kind, job.id, f"/vms/{job.target.vm_id}", vm, at))
    return events


def vm_state_event(host: str, vm: JsonObject, previous_state: str, at: datetime) -> OutgoingEvent:
    """``vm.state_changed``: the inventory saw ``vm`` (its stored record) in a new state on ``host``."""
    vm_id = str(vm["id"])
    data = {
        "vm_id": vm_id,
        "name": vm.get("name"),
        "host": host,
        "state": vm.get("state"),
        "previous_state": previous_state,
        "observed_at": at.isoformat(),
    }
    key = f"{vm_id}:{vm.get('state')}:{at.isoformat()}"
    return OutgoingEvent.build(EventType.VM_STATE_CHANGED, key, f"/vms/{vm_id}", data, at)


def host_event(host: str, *, connected: bool, since: str, at: datetime, error: str | None = None) -> OutgoingEvent:
    """``host.disconnected`` (the inventory could not reach ``host`` since ``since``) or ``host.reconnected``."""
    kind = EventType.HOST_RECONNECTED if connected else EventType.HOST_DISCONNECTED
    data: JsonObject = {"host": host, "disconnected_since": since, "observed_at": at.isoformat()}
    if error is not None:
        data["error"] = error
    return OutgoingEvent.build(kind, f"{host.lower()}:{since}", f"/hosts/{host}", data, at)


def lease_expiring_event(lease: Lease, vm_name: str | None, host: str | None) -> OutgoingEvent:
    """``vm.lease_expiring``: the VM's lease ends at ``lease.expires_at``; the VM is then deleted."""
    data: JsonObject = {
        "vm_id": lease.vm_id,
        "name": vm_name,
        "host": host,
        "expires_at": lease.expires_at,
        "requested_by": dict(lease.requested_by),
        "warned_at": lease.warned_at,
    }
    key = f"{lease.vm_id}:{lease.version}:{lease.expires_at}"
    return OutgoingEvent.build(EventType.VM_LEASE_EXPIRING, key, f"/vms/{lease.vm_id}", data, _moment(lease.warned_at))
