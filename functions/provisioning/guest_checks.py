"""The host's judgement of a guest before it publishes: is the key this run's, can its agent apply every value.

- **The nonce.** The announce carries a nonce (:data:`~functions.guest.names.HOST_NONCE_KEY`) that current agents
  echo in their capability mark, bound to the key they publish. It is derived from the seal key and the job and
  VM ids, so an activity that runs twice announces the same nonce.
- **Stale keys.** A key whose fingerprint was already in the guest pool before the VM was started
  (``pre_start_key``) is never this run's: polling goes on. On a real host a freshly started guest's pool is empty
  until it has booted, so for upstream agents (no nonce) a key left in a golden image can only be told apart when
  it was visible before the start (a VM that was already running); current agents are recognised by their echo.
- **Agents.** Before publishing, an HLVMM-era agent (it never reports completion) and every value an upstream
  agent is known to mangle are refused, naming the field and the reason; nothing is written then.
- **Completion without a report.** For agents that stop reporting after the data is published, the guest's
  integration services (intrinsic items) can confirm the host name and address instead.

Pure functions over KVP snapshots; the Provisioner does the I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

from functions.errors import StepError
from functions.guest.capabilities import (
    AgentAssessment,
    AgentGeneration,
    Capability,
    KeyFreshness,
    agent_problems,
    assess_guest_agent,
    intrinsic_evidence,
    key_freshness,
)
from functions.guest.kvp import OsFamily
from functions.guest.names import DataKey, GuestState
from functions.guest.status import read_guest_status
from functions.guest.upstream import API_FIELDS
from functions.provisioning.guest_payloads import (
    GuestCheck,
    GuestStatusResult,
)

__all__ = ["host_nonce", "judge_guest", "publish_warnings", "refuse_before_publishing"]


def host_nonce(seal_key: bytes, job_id: str, vm_id: str) -> str:
    """This run's nonce: 24 bytes of HMAC-SHA256(seal key, job and VM), base64url (32 characters)."""
    digest = hmac.new(seal_key, f"aetherv-host-nonce\x00{job_id}\x00{vm_id.lower()}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()[:24]).decode("ascii")


def _family(os_family: str) -> OsFamily:
    return "windows" if os_family == "windows" else "linux"


def _assess(items: Mapping[str, str], check: GuestCheck, nonce: str, *, seen_before: bool) -> AgentAssessment:
    return assess_guest_agent(
        items,
        os_family=_family(check.os_family),
        host_version=check.version,
        nonce=nonce,
        state_seen_before=seen_before,
    )


def judge_guest(
    items: Mapping[str, str], intrinsic: Mapping[str, str], check: GuestCheck, nonce: str
) -> GuestStatusResult:
    """What one guest poll found: state, summary, key, agent, and what the integration services confirm.

    ``confirmed`` is true once the guest's own integration services report the requested host name (and address).
    """
    status = read_guest_status(items)
    freshness = key_freshness(items, nonce=nonce, pre_start_fingerprint=check.pre_start_key)
    agent: AgentAssessment | None = None
    if status.state == GuestState.WAITING_FOR_AES_KEY and freshness in (KeyFreshness.ECHOED, KeyFreshness.NEW):
        agent = _assess(items, check, nonce, seen_before=check.state_seen_before)
    wanted = {"hostname": check.hostname, "ipv4": check.ipv4}
    evidence = intrinsic_evidence(intrinsic, **{k: v for k, v in wanted.items() if v})
    return GuestStatusResult(
        state=str(status.guest_state) if status.guest_state is not None else None,
        error_summary=status.error_summary,
        public_key_present=status.public_key_fingerprint is not None,
        key=str(freshness),
        agent=str(agent.generation) if agent else None,
        agent_name=f"{agent.mark.agent}/{agent.mark.version}" if agent and agent.mark else None,
        confirmed=all(evidence.values()) if evidence else None,
    )


def publish_warnings(values: Mapping[str, str], agent: AgentAssessment) -> tuple[str, ...]:
    """What the job cannot confirm with this agent: a domain join by an agent that does not report its outcome."""
    if str(DataKey.GUEST_DOMAIN_JOIN_TARGET) in values and not (agent.mark and agent.mark.has(Capability.JOIN_OUTCOME)):
        return (
            "the domain join happens on the guest's next boot and this image's agent does not report its outcome, "
            "so the job cannot confirm it",
        )
    return ()


def refuse_before_publishing(
    items: Mapping[str, str], values: Mapping[str, str], check: GuestCheck, nonce: str
) -> AgentAssessment:
    """The agent to publish to; raises a :class:`StepError` naming every problem when nothing may be published.

    A key that is not this run's is a transient error (the guest has not published its own yet); an HLVMM-era
    agent and values the agent would not apply exactly are permanent: the request must change, or the image's
    provisioning ISO.
    """
    freshness = key_freshness(items, nonce=nonce, pre_start_fingerprint=check.pre_start_key)
    if freshness not in (KeyFreshness.ECHOED, KeyFreshness.NEW):
        raise StepError(
            "GuestProtocolError",
            f"the guest's public key is not this run's ({freshness}): waiting for the guest's own",
            transient=True,
        )
    agent = _assess(items, check, nonce, seen_before=True)
    if agent.generation is AgentGeneration.HLVMM:
        raise StepError(
            "GuestAgentUnsupported",
            f"the guest's agent never reports completion ({agent.evidence}): install the current provisioning "
            "ISOs on the host (make isos) and retry; nothing was published",
        )
    problems = agent_problems(values, _family(check.os_family), agent.mark)
    if problems:
        listed = "; ".join(f"{API_FIELDS.get(key, key)}: {text}" for key, text in sorted(problems.items()))
        raise StepError("GuestAgentCannotApply", f"nothing was published — {listed}")
    return agent
