"""The host probe's report: its stages, the host's certificate, the outcome in plain words (pydantic models).

:func:`functions.hyperv.probe.probe_host` fills them; the API returns :class:`ProbeReport` as it is
(``model_dump(mode="json")``) and publishes its JSON schema in the OpenAPI document.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["STAGE_TITLES", "ProbeCertificate", "ProbeReport", "ProbeStage", "StageName", "StageStatus"]

StageName = Literal["name_resolution", "tcp", "tls", "authentication", "powershell"]
StageStatus = Literal["ok", "failed", "skipped"]

STAGE_TITLES: dict[StageName, str] = {
    "name_resolution": "Name resolution",
    "tcp": "TCP",
    "tls": "TLS",
    "authentication": "WinRM authentication",
    "powershell": "PowerShell",
}
"""Each stage's name in plain words, in the order the stages run."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class ProbeStage(_Model):
    """One stage of a probe: ok, failed (the first failure ends the probe) or skipped."""

    name: StageName
    title: str = Field(description="The stage in plain words")
    status: StageStatus
    ok: bool = Field(description="Whether the stage passed (false for a skipped stage)")
    duration_ms: int | None = Field(description="How long the stage took; null when it did not run")
    detail: str = Field(description="What happened, in plain words; for a failure, also what to check")


class ProbeCertificate(_Model):
    """The host's TLS certificate as the probe saw it (reported whether or not it is trusted)."""

    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    expires_in_days: int = Field(description="Whole days until notAfter (negative once expired)")
    names: list[str] = Field(description="The subject alternative names (DNS names and IP addresses)")
    sha256_fingerprint: str
    trusted: bool = Field(description="Whether the chain verifies against the trust store")
    trust_store: str = Field(description="The CA bundle the transport trusts")
    trust_error: str | None = Field(description="Why the chain does not verify, as OpenSSL says it")
    checked_name: str = Field(description="The name the transport checks the certificate against")
    name_matches: bool
    tls_version: str | None = None


class ProbeReport(_Model):
    """The outcome of a probe: every stage, the first failure in plain words, and what the host told about itself."""

    host: str
    endpoint: str = Field(description="The WinRM endpoint as configured")
    address: str | None = Field(description="The AETHERV_HOST_ADDRESSES override connected to instead, if any")
    auth_transport: str = Field(description="The WinRM authentication (AETHERV_WINRM_TRANSPORT)")
    ok: bool
    failed_stage: StageName | None
    summary: str = Field(description="The outcome in plain words: the first failing stage and what to check")
    duration_ms: int
    time_limit_seconds: float
    probed_at: datetime
    stages: list[ProbeStage]
    certificate: ProbeCertificate | None = None
    computer_name: str | None = None
    powershell_version: str | None = None
