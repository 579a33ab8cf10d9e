"""Submitting jobs: one job record and one Durable instance per workflow, deduplicated and idempotent.

- **One running job per target**: a claim row per kind and target (``create_vm`` + ``<host or any>:<name>``,
  ``delete_vm`` + ``<vm id>`` …) holds the current job and a sequence number, updated with an ETag condition. A
  second submit for a target whose job is still running returns that job instead of starting another. Job ids
  (also the Durable instance ids) come from the kind, target and sequence (``create-vm-hv01-web01-1``), so the
  extension's duplicate-instance rule backs the claim up.
- **Idempotency-Key**: the same key (per caller) with the same body returns the same job; with a different body it
  is a :class:`JobConflictError` (HTTP 409).
- Create inputs carry the public request (secrets masked) and the guest data sealed under ``AETHERV_SEAL_KEY``,
  bound to the job id; timing comes from settings here, because orchestrators cannot read settings.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df

from functions.guest.mapping import guest_values
from functions.jobs.store import FINAL_STATUSES, JobStore, get_job_store
from functions.models.vm_request import VmCreateRequest
from functions.sealing import seal_json
from functions.settings import Settings

__all__ = [
    "JobConflictError",
    "Submission",
    "create_input",
    "fingerprint",
    "submit_job",
    "timing_input",
]

_STALE_PENDING = timedelta(minutes=2)


class JobConflictError(Exception):
    """The submit conflicts with an earlier one (an Idempotency-Key reused with a different body)."""


@dataclass
class Submission:
    """The job a submit resulted in, and whether this submit created it (False: an existing job was returned)."""

    job: dict[str, Any]
    created: bool


def fingerprint(body: Any) -> str:
    """A stable hash of a request body (for Idempotency-Key comparisons)."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def timing_input(settings: Settings) -> dict[str, Any]:
    """The workflow timing from settings (orchestrators cannot read settings themselves)."""
    guest = settings.guest
    return {
        "key_timeout": guest.key_timeout,
        "apply_timeout": guest.apply_timeout,
        "poll_interval": guest.poll_interval,
        "publish_delay": guest.publish_delay,
        "clone_slots": settings.clone_concurrency,
    }


def create_input(job_id: str, request: VmCreateRequest, settings: Settings) -> dict[str, Any]:
    """The create orchestration's input: the public request, the sealed guest data and timing."""
    values = guest_values(request)
    return {
        "job_id": job_id,
        "request": request.model_dump(mode="json"),
        "os_family": request.resolved_os_family,
        "sealed_guest": seal_json(values, job_id, key=settings.seal_key) if values else None,
        "timing": timing_input(settings),
    }


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:60] or "x"


def _age(job: Mapping[str, Any], now: datetime) -> timedelta:
    created = datetime.fromisoformat(str(job.get("created", "")).replace("Z", "+00:00") or now.isoformat())
    return now - created


async def _is_live(client: df.DurableOrchestrationClient, job: Mapping[str, Any], now: datetime) -> bool:
    """Whether a non-final job is really running (a Pending job whose instance never started is dead)."""
    if job.get("status") in FINAL_STATUSES:
        return False
    if job.get("status") == "Pending" and _age(job, now) > _STALE_PENDING:
        status = await client.get_status(str(job["id"]))
        return bool(status)
    return True


async def submit_job(
    client: df.DurableOrchestrationClient,
    *,
    kind: str,
    orchestrator: str,
    target: dict[str, Any],
    claim: str,
    build_input: Callable[[str], dict[str, Any]],
    requested_by: dict[str, Any],
    idempotency_key: str | None = None,
    body_fingerprint: str = "",
    request: dict[str, Any] | None = None,
    warnings: list[str] | None = None,
    store: JobStore | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Submission:
    """Create the job record and start its orchestration, unless an equivalent job exists (see module docs)."""
    jobs = store or get_job_store()
    now = clock()
    key_name = f"idem:{requested_by.get('id')}:{idempotency_key}" if idempotency_key else None
    if key_name is not None:
        existing = _idempotent_job(jobs, key_name, body_fingerprint)
        if existing is not None:
            return Submission(existing, created=False)
    for _ in range(10):
        row, etag = jobs.get_claim(f"{kind}:{claim}")
        if row is not None:
            current = jobs.get(row["job_id"])
            if current is not None and await _is_live(client, current, now):
                if key_name is not None:
                    jobs.claim_key(key_name, str(current["id"]), body_fingerprint)
                return Submission(current, created=False)
            if current is not None and current.get("status") not in FINAL_STATUSES:
                never = {"category": "NeverStarted", "message": "the workflow never started", "transient": False}
                jobs.update(str(current["id"]), {"status": "Failed", "error": never})
        sequence = row["sequence"] + 1 if row is not None else 1
        job_id = f"{kind.replace('_', '-')}-{_slug(claim)}-{sequence}"
        if jobs.set_claim(f"{kind}:{claim}", job_id, sequence, etag):
            break
    else:
        raise JobConflictError(f"the target {claim} kept changing; try again")
    job = jobs.create(
        {
            "id": job_id,
            "kind": kind,
            "target": target,
            "requested_by": requested_by,
            "request": request,
            "idempotency_key": idempotency_key,
            "warnings": warnings or [],
        }
    )
    if key_name is not None:
        bound_id, bound_fingerprint = jobs.claim_key(key_name, job_id, body_fingerprint)
        if bound_id != job_id and bound_fingerprint != body_fingerprint:  # a concurrent submit took the key
            conflict = {"category": "Conflict", "message": "Idempotency-Key reused", "transient": False}
            jobs.update(job_id, {"status": "Failed", "error": conflict})
            raise JobConflictError("the Idempotency-Key was used with a different request body")
    try:
        await client.start_new(orchestrator, job_id, build_input(job_id))
    except Exception as exc:
        error = {"category": "StartFailed", "message": "the workflow could not be started", "transient": True}
        jobs.update(job_id, {"status": "Failed", "error": error})
        raise RuntimeError(f"could not start {orchestrator} for job {job_id}") from exc
    return Submission(job, created=True)


def _idempotent_job(jobs: JobStore, key_name: str, body_fingerprint: str) -> dict[str, Any] | None:
    bound = jobs.bound_key(key_name)
    if bound is None:
        return None
    if bound[1] != body_fingerprint:
        raise JobConflictError("the Idempotency-Key was used with a different request body")
    return jobs.get(bound[0])
