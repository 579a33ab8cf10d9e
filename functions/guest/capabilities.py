r"""Which guest agent answers, what it can apply, and which values an older agent would mangle.

Three generations of guest agent speak the same wire protocol (``reference/guest-protocol.md``):

- **current** — this project's agents (``agents/linux``, ``agents/windows``). They publish a *capability
  mark* under :data:`~functions.guest.names.GUEST_AGENT_KEY` next to their public key, echo the host's nonce
  (:data:`~functions.guest.names.HOST_NONCE_KEY`) bound to that key, apply every value exactly, and report
  ``provisioningapplied`` only for what they really applied.
- **upstream** — the Aether-V 2.x agents found on older provisioning ISOs. They report completion but pass
  values through ``xargs``/``echo`` (Linux) or read them in the ANSI code page and trim them (Windows), so
  some values arrive changed while the guest still reports success.
  :func:`upstream_agent_problems` lists each such value so the host can refuse it before publishing.
- **HLVMM-era** — they never write ``applying`` or ``provisioningapplied``: a completion wait cannot end.
  :func:`assess_guest_agent` and :func:`completion_overdue` detect them so the host can refuse up front or
  finish by their semantics instead of waiting 30 minutes and compensating a good VM.

Everything here is pure. Messages never contain the values themselves (only the class of character that a
rule is about, such as ``'``).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from functions.guest.crypto import RandomSource
from functions.guest.kvp import OsFamily, is_blank, reassemble, utf16_units
from functions.guest.names import (
    CHUNK_UNITS,
    GUEST_AGENT_KEY,
    GUEST_ERROR_KEY,
    GUEST_PUBLIC_KEY_KEY,
    GUEST_STATE_KEY,
    NONCE_PATTERN,
    DataKey,
    GuestState,
)
from functions.guest.upstream import (
    ANSIBLE_KEYS,
    API_FIELDS,
    DOMAIN_KEYS,
    IPV4_KEYS,
    REBUILD_ADVICE,
    cannot_apply,
    upstream_agent_problems,
)

__all__ = [
    "APPLYING_GRACE_SECONDS",
    "AgentAssessment",
    "AgentGeneration",
    "AgentMark",
    "Capability",
    "KeyFreshness",
    "agent_problems",
    "assess_guest_agent",
    "completion_overdue",
    "format_agent_mark",
    "fresh_agent_mark",
    "intrinsic_evidence",
    "is_hlvmm_era_version",
    "key_freshness",
    "new_host_nonce",
    "parse_agent_mark",
    "public_key_fingerprint",
]


class Capability(StrEnum):
    """What a current agent announces in the ``caps=`` field of its mark."""

    EXACT_VALUES = "exact-values"
    """Values are applied byte for byte (no trimming, word splitting, quote or code-page handling)."""
    CHUNKS = "chunks"
    """Values longer than 100 UTF-16 units (chunked ``._N`` items) are reassembled."""
    HOSTNAME = "hostname"
    ADMIN = "admin"
    IPV4 = "ipv4"
    """Static IPv4 address, gateway and DNS servers (Linux: only when netplan or NetworkManager is present)."""
    DNS_SUFFIX = "dns-suffix"
    DOMAIN_JOIN = "domain-join"
    JOIN_OUTCOME = "join-outcome"
    """The domain join is verified (after the reboot) before ``provisioningapplied``; failures are reported."""
    ANSIBLE = "ansible"
    NONCE = "nonce"
    """The host nonce is echoed in the mark, bound to the published key."""


# -- the capability mark and the nonce ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgentMark:
    """A parsed ``hlvmm.meta.guest_agent`` value.

    ``agent`` is e.g. ``aetherv-linux``, ``version`` the agent's version, ``capabilities`` the ``caps=`` list,
    ``network`` the Linux network stack the agent found (``netplan``, ``networkmanager``, ``none``), ``nonce``
    the host nonce it echoes and ``key_sha256`` the fingerprint of the public key it published with it.
    Unknown fields are kept in ``extra``.
    """

    agent: str
    version: str
    capabilities: frozenset[str]
    network: str | None = None
    nonce: str | None = None
    key_sha256: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def os_family(self) -> OsFamily | None:
        """``linux`` or ``windows`` for ``…-linux`` / ``…-windows`` agents, else ``None``."""
        if self.agent.endswith("-linux"):
            return "linux"
        if self.agent.endswith("-windows"):
            return "windows"
        return None

    def has(self, capability: Capability | str) -> bool:
        """Whether the agent announced ``capability``."""
        return str(capability) in self.capabilities


_AGENT_ID: Final = re.compile(r"(?P<agent>[a-z0-9][a-z0-9._-]{0,63})/(?P<version>[0-9A-Za-z][0-9A-Za-z.+_-]{0,31})")
_CAPABILITY: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
_FIELD_NAME: Final = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_SHA256_HEX: Final = re.compile(r"[0-9a-f]{64}")
_MAX_MARK_CHARS: Final = 1024


def parse_agent_mark(value: str | None) -> AgentMark | None:
    """Parse a capability mark; ``None`` when absent or malformed (treat the agent as unmarked)."""
    if not value or len(value) > _MAX_MARK_CHARS:
        return None
    head, *parts = value.strip().split(";")
    ident = _AGENT_ID.fullmatch(head)
    if ident is None:
        return None
    fields: dict[str, str] = {}
    for part in parts:
        name, sep, content = part.partition("=")
        if not sep or not _FIELD_NAME.fullmatch(name) or name in fields:
            return None
        fields[name] = content
    caps_text = fields.pop("caps", "")
    capabilities = [cap for cap in caps_text.split(",") if cap]
    if not all(_CAPABILITY.fullmatch(cap) for cap in capabilities):
        return None
    nonce = fields.pop("nonce", None) or None
    if nonce is not None and not NONCE_PATTERN.fullmatch(nonce):
        return None
    key = fields.pop("key", None) or None
    if key is not None and not _SHA256_HEX.fullmatch(key):
        return None
    network = fields.pop("net", None) or None
    return AgentMark(
        agent=ident["agent"],
        version=ident["version"],
        capabilities=frozenset(capabilities),
        network=network,
        nonce=nonce,
        key_sha256=key,
        extra=fields,
    )


def format_agent_mark(
    agent: str,
    version: str,
    capabilities: Iterable[str],
    *,
    network: str | None = None,
    nonce: str | None = None,
    key_sha256: str | None = None,
) -> str:
    """The mark an agent writes (the agents build the same string themselves; used by simulators and tests)."""
    parts = [f"{agent}/{version}", "caps=" + ",".join(capabilities)]
    if network is not None:
        parts.append(f"net={network}")
    if nonce is not None:
        parts.append(f"nonce={nonce}")
    if key_sha256 is not None:
        parts.append(f"key={key_sha256}")
    return ";".join(parts)


def public_key_fingerprint(public_key_b64: str) -> str:
    """SHA-256 (hex) of the published public-key text with whitespace removed (as ``status.py`` computes it)."""
    return hashlib.sha256("".join(public_key_b64.split()).encode("utf-8")).hexdigest()


def new_host_nonce(random: RandomSource = os.urandom) -> str:
    """A fresh nonce for :data:`~functions.guest.names.HOST_NONCE_KEY`: 24 random bytes, base64url (32 chars)."""
    data = random(24)
    if len(data) != 24:
        raise ValueError("random source must return exactly 24 bytes")
    nonce = base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")
    if not NONCE_PATTERN.fullmatch(nonce):  # pragma: no cover - base64url of 24 bytes always matches
        raise AssertionError("nonce does not match NONCE_PATTERN")
    return nonce


def fresh_agent_mark(guest_items: Mapping[str, str], nonce: str) -> AgentMark | None:
    """The capability mark of *this run's* agent, or ``None``.

    A mark counts only when it echoes ``nonce`` and names the fingerprint of the public key currently in the
    guest pool: a mark or key left in a golden image (or written by an earlier run) never qualifies.
    """
    mark = parse_agent_mark(guest_items.get(GUEST_AGENT_KEY))
    public_key = reassemble(guest_items, GUEST_PUBLIC_KEY_KEY)
    if mark is None or public_key is None or mark.nonce is None or mark.key_sha256 is None:
        return None
    if mark.nonce != nonce or mark.key_sha256 != public_key_fingerprint(public_key):
        return None
    return mark


class KeyFreshness(StrEnum):
    """Whether the public key in the guest pool belongs to this run (see :func:`key_freshness`)."""

    ABSENT = "absent"
    """No public key yet: keep polling."""
    ECHOED = "echoed"
    """A current agent echoed this run's nonce with this key: use it."""
    NEW = "new"
    """No valid echo, but the key differs from the one seen before the guest started: an older agent's key."""
    STALE = "stale"
    """The key was already there before the guest started (golden image or earlier run): ignore it, keep polling."""


def key_freshness(
    guest_items: Mapping[str, str], *, nonce: str, pre_start_fingerprint: str | None = None
) -> KeyFreshness:
    """Classify the guest's public key for this run.

    ``pre_start_fingerprint`` is the fingerprint of the key found in the guest pool *before* the VM was started
    for this run (``None`` if there was none). A mark that names another nonce is not proof of staleness on
    its own (a current agent may not have written this run's mark yet), so such a key is only ``STALE`` when it
    matches the pre-start key.
    """
    public_key = reassemble(guest_items, GUEST_PUBLIC_KEY_KEY)
    if public_key is None or not public_key.strip():
        return KeyFreshness.ABSENT
    if fresh_agent_mark(guest_items, nonce) is not None:
        return KeyFreshness.ECHOED
    fingerprint = public_key_fingerprint(public_key)
    if pre_start_fingerprint is not None and fingerprint == pre_start_fingerprint:
        return KeyFreshness.STALE
    mark = parse_agent_mark(guest_items.get(GUEST_AGENT_KEY))
    if mark is not None and mark.has(Capability.NONCE) and mark.key_sha256 == fingerprint:
        # A current agent's key from another run (its echo names another nonce): never this run's key.
        return KeyFreshness.STALE
    return KeyFreshness.NEW


_CAPABILITY_OF_KEY: Final[Mapping[str, Capability]] = {
    DataKey.GUEST_HOST_NAME: Capability.HOSTNAME,
    DataKey.GUEST_LA_UID: Capability.ADMIN,
    DataKey.GUEST_LA_PW: Capability.ADMIN,
    **dict.fromkeys(IPV4_KEYS, Capability.IPV4),
    DataKey.GUEST_NET_DNS_SUFFIX: Capability.DNS_SUFFIX,
    **dict.fromkeys(DOMAIN_KEYS, Capability.DOMAIN_JOIN),
    **dict.fromkeys(ANSIBLE_KEYS, Capability.ANSIBLE),
}


def agent_problems(values: Mapping[str, str | None], os_family: OsFamily, mark: AgentMark | None) -> dict[str, str]:
    """The values the guest's agent cannot apply exactly, keyed by data key; empty means "publish".

    ``mark`` is this run's capability mark (:func:`fresh_agent_mark`), ``None`` for an unmarked (upstream)
    agent. A marked agent without ``exact-values`` gets the upstream rules; every value also needs the
    capability that applies it, and values over 100 UTF-16 units need ``chunks``.
    """
    if mark is None or not mark.has(Capability.EXACT_VALUES):
        return upstream_agent_problems(values, os_family)
    problems: dict[str, str] = {}
    for key, value in values.items():
        if not isinstance(value, str) or is_blank(value):
            continue
        needed = _CAPABILITY_OF_KEY.get(str(key))
        if needed is not None and not mark.has(needed):
            extra = ""
            if needed is Capability.IPV4 and mark.network == "none":
                extra = " (the image has neither netplan nor NetworkManager)"
            problems[str(key)] = (
                f"this image's guest agent ({mark.agent}/{mark.version}) cannot apply {API_FIELDS.get(key, key)}"
                f"{extra} — {REBUILD_ADVICE} or leave it out"
            )
        elif utf16_units(value.rstrip("\r\n")) > CHUNK_UNITS and not mark.has(Capability.CHUNKS):
            problems[str(key)] = cannot_apply(str(key), f"longer than {CHUNK_UNITS} characters")
    return problems


# -- generations, HLVMM-era agents and completion -----------------------------------------------------------------


class AgentGeneration(StrEnum):
    """Which generation of guest agent answers (see the module docstring)."""

    CURRENT = "current"
    UPSTREAM = "upstream"
    HLVMM = "hlvmm"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class AgentAssessment:
    """What the host knows about the guest's agent and what it should do about it.

    ``reports_completion`` is false for HLVMM-era agents (they stop at ``waitingforaeskey``);
    ``evidence`` says how the generation was recognised; ``host_action`` is the advice for the workflow.
    """

    generation: AgentGeneration
    reports_completion: bool
    evidence: str
    host_action: str
    mark: AgentMark | None = None


APPLYING_GRACE_SECONDS: Final = 120.0
"""After ``provisioningdatapublished``, agents that report completion write ``applying`` (or fail) within one
poll, the decryption and at most one 30 s checksum retry; past this the agent does not report (HLVMM-era)."""

_VERSION_MAJOR: Final = re.compile(r"\s*v?(\d+)\.")

_HLVMM_ACTION: Final = (
    "its guest agent never reports completion: refuse before publishing with 'the provisioning ISO on this host "
    "is HLVMM-era; install the current ISOs (make isos) and retry', or publish and finish by HLVMM semantics "
    "(stop waiting once the data is published and confirm through the guest's intrinsic items after its "
    "reboot) — never wait 30 minutes and remove a VM that may be fine"
)


def is_hlvmm_era_version(version: str | None) -> bool:
    """Whether a provisioning version string comes from the HLVMM line (major version below 2, e.g. ``1.5.400``).

    HLVMM ISOs carried 1.x versions (HLVMM's ``version`` file, 1.1.019 … 1.5.400, and early Aether-V's 1.5.401);
    completion signalling arrived with the 2.x agents (Aether-V 2.4.000) (inferred from the sources).
    """
    if not version:
        return False
    match = _VERSION_MAJOR.match(version.replace("\x00", ""))
    return match is not None and int(match[1]) < 2


def assess_guest_agent(
    guest_items: Mapping[str, str],
    *,
    os_family: OsFamily,
    host_version: str | None,
    nonce: str | None,
    state_seen_before: bool = False,
) -> AgentAssessment:
    """Recognise the agent from a guest-pool snapshot taken once it published its key.

    ``host_version`` is the ``hlvmm.meta.version`` the host announced (the ISO's version); ``nonce`` this run's
    host nonce; ``state_seen_before`` is true when the previous poll already showed ``waitingforaeskey`` (an
    Aether-V 2.4 Linux agent writes its empty error item just after the state, so a single snapshot can miss
    it).
    """
    mark = fresh_agent_mark(guest_items, nonce) if nonce else None
    if mark is not None:
        return AgentAssessment(
            AgentGeneration.CURRENT,
            True,
            f"capability mark {mark.agent}/{mark.version} echoes this run's nonce",
            "check agent_problems(values, os_family, mark) before publishing, then wait for completion",
            mark,
        )
    if is_hlvmm_era_version(host_version):
        return AgentAssessment(
            AgentGeneration.HLVMM,
            False,
            f"the provisioning version {host_version!r} is from the HLVMM line (below 2.0)",
            _HLVMM_ACTION,
        )
    state = guest_items.get(GUEST_STATE_KEY)
    if os_family == "linux" and state == GuestState.WAITING_FOR_AES_KEY and GUEST_ERROR_KEY not in guest_items:
        if state_seen_before:
            return AgentAssessment(
                AgentGeneration.HLVMM,
                False,
                "the Linux guest waits for the AES key without the error item Aether-V 2.x agents write with it",
                _HLVMM_ACTION,
            )
        return AgentAssessment(
            AgentGeneration.UNKNOWN,
            True,
            "the Linux guest has not written its error item yet; look again on the next poll",
            "poll once more before deciding",
        )
    return AgentAssessment(
        AgentGeneration.UPSTREAM,
        True,
        "no capability mark for this run's nonce",
        "refuse the values upstream_agent_problems(values, os_family) lists before publishing; if no "
        f"'applying' appears within {APPLYING_GRACE_SECONDS:.0f} s of publishing, treat it as HLVMM-era",
    )


def completion_overdue(guest_state: str | None, seconds_since_published: float) -> bool:
    """After publishing: the guest still shows ``waitingforaeskey`` past the grace period (HLVMM semantics).

    The host should then stop waiting for ``provisioningapplied`` and follow the HLVMM advice of
    :func:`assess_guest_agent` instead of running into its completion timeout.
    """
    return guest_state == GuestState.WAITING_FOR_AES_KEY and seconds_since_published >= APPLYING_GRACE_SECONDS


def intrinsic_evidence(
    intrinsic_items: Mapping[str, str],
    *,
    hostname: str | None = None,
    domain: str | None = None,
    ipv4: str | None = None,
) -> dict[str, bool]:
    """What the guest's intrinsic KVP items confirm after its reboot (for agents that cannot report it).

    Checks ``FullyQualifiedDomainName`` (first label equals ``hostname``; ends with ``domain``) and
    ``NetworkAddressIPv4`` (contains ``ipv4``), case-insensitively; only the requested checks are returned.
    """
    fqdn = intrinsic_items.get("FullyQualifiedDomainName", "").strip().rstrip(".").lower()
    evidence: dict[str, bool] = {}
    if hostname is not None:
        evidence["hostname"] = fqdn.split(".", 1)[0] == hostname.lower()
    if domain is not None:
        evidence["domain"] = fqdn.endswith("." + domain.lower().rstrip("."))
    if ipv4 is not None:
        addresses = re.split(r"[;,\s]+", intrinsic_items.get("NetworkAddressIPv4", ""))
        evidence["ipv4"] = ipv4 in addresses
    return evidence
