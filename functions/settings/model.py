"""Typed settings: the immutable values the app runs with, and :class:`Secret`, which never shows its value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "ApprovalSettings",
    "AuthMode",
    "AuthSettings",
    "EventSettings",
    "GuestSettings",
    "HostAccess",
    "HostEndpoint",
    "Secret",
    "Settings",
    "SettingsError",
    "StorageSettings",
    "TelemetryExporter",
    "TelemetrySettings",
    "WinRMScheme",
    "WinRMSettings",
    "WinRMTransport",
]

WinRMTransport = Literal["ntlm", "basic", "certificate"]
"""The WinRM authentications this build can do (pywinrm brings them; Kerberos and CredSSP need libraries it lacks)."""
WinRMScheme = Literal["https", "http"]
AuthMode = Literal["entra", "none"]


class Secret:
    """A secret string whose value never appears in ``repr``, ``str``, logs or error messages."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret value; call only where the value is actually used."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class SettingsError(ValueError):
    """Raised when settings are missing or invalid; lists every problem at once."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"Aether-V settings are invalid ({len(self.problems)} problem(s)):\n{lines}")


@dataclass(frozen=True)
class ApprovalSettings:
    """Which creates need an Admin's approval (by host or cluster, lower case; ``*`` in ``hosts``: all) and the wait."""

    hosts: frozenset[str] = frozenset()
    clusters: frozenset[str] = frozenset()
    timeout_seconds: float = 259200

    def required_by(self, host: str | None, cluster: str | None) -> str | None:
        """Why a create on ``host`` (of ``cluster``) needs an approval, or None."""
        if host is not None and ("*" in self.hosts or host.lower() in self.hosts):
            return f"host {host} requires approval"
        if cluster is not None and cluster.lower() in self.clusters:
            return f"cluster {cluster} requires approval"
        return None


@dataclass(frozen=True)
class HostEndpoint:
    """One configured Hyper-V host: DNS name and optional WinRM port override."""

    name: str
    port: int | None = None


@dataclass(frozen=True)
class StorageSettings:
    """How the app reaches Table Storage: a connection string (Azurite) or an endpoint plus managed identity."""

    connection_string: Secret | None
    table_endpoint: str | None
    managed_identity_client_id: str | None
    table_prefix: str
    task_hub: str


@dataclass(frozen=True)
class WinRMSettings:
    """How the app connects to Hyper-V hosts over WinRM."""

    scheme: WinRMScheme
    port: int
    transport: WinRMTransport
    username: str
    password: Secret
    ca_bundle: str | None
    verify_tls: bool
    cert_pem: str | None
    cert_key_pem: str | None
    connect_timeout: float
    operation_timeout: float
    read_timeout: float
    session_idle_seconds: float = 60.0

    def port_for(self, host: HostEndpoint) -> int:
        """The WinRM port of ``host``: its override, else the default."""
        return host.port if host.port is not None else self.port


@dataclass(frozen=True)
class HostAccess:
    """What reaching the Hyper-V hosts needs, and nothing else: the hosts, address overrides, WinRM settings."""

    hosts: tuple[HostEndpoint, ...]
    host_addresses: Mapping[str, str]
    winrm: WinRMSettings


@dataclass(frozen=True)
class AuthSettings:
    """Who may call the API: the auth mode, the Entra tenant/audience and the role names."""

    mode: AuthMode
    authority: str
    tenant_id: str
    client_id: str
    app_id_uri: str
    role_reader: str
    role_operator: str
    role_admin: str
    easy_auth_enabled: bool
    app_signing_keys: bool = False
    """The app registration signs its tokens with its own keys (claims mapping): read them with ``?appid=``."""


@dataclass(frozen=True)
class GuestSettings:
    """Timing of the guest provisioning handshake."""

    key_timeout: float
    apply_timeout: float
    poll_interval: float
    publish_delay: float
    address_timeout: float = 180


@dataclass(frozen=True)
class LeaseSettings:
    """VM leases: the longest lease (hours), the warning ahead of expiry and the longest single wait (seconds)."""

    max_hours: int = 2160
    warning_seconds: float = 86400
    check_seconds: float = 86400


TelemetryExporter = Literal["none", "console", "otlp"]


@dataclass(frozen=True)
class TelemetrySettings:
    """Where traces and metrics go: Application Insights (a connection string) or the exporter chosen locally."""

    connection_string: Secret | None = None
    exporter: TelemetryExporter = "none"
    otlp_endpoint: str = "http://localhost:4318"


@dataclass(frozen=True)
class EventSettings:
    """Where the app's events go (webhooks with their signing secret, an Event Grid topic) and how long they retry."""

    webhook_urls: tuple[str, ...] = ()
    webhook_secret: Secret = field(default_factory=lambda: Secret(""))
    eventgrid_endpoint: str = ""
    retry_horizon_seconds: float = 86400

    @property
    def enabled(self) -> bool:
        """Whether any sink is configured."""
        return bool(self.webhook_urls or self.eventgrid_endpoint)


@dataclass(frozen=True)
class Settings:
    """All validated settings of the app."""

    storage: StorageSettings
    hosts: tuple[HostEndpoint, ...]
    host_addresses: Mapping[str, str]
    winrm: WinRMSettings
    auth: AuthSettings
    seal_key: Secret
    inventory_schedule: str
    guest: GuestSettings
    clone_concurrency: int
    build_commit: str
    step_retry_attempts: int = 4
    step_retry_seconds: float = 5
    disk_prepare_timeout: float = 14400
    host_operation_poll_interval: float = 10
    inventory_hosts_per_activity: int = 50
    """Hosts one inventory-sync activity collects at once."""
    approval: ApprovalSettings = field(default_factory=ApprovalSettings)
    """Which creates wait for an Admin's approval, and how long."""
    migration_max_storage_gb: int = 40
    """Most GB of disk files a shared-nothing migration may move (it copies them inside one activity)."""
    in_azure: bool = field(default=False)
    leases: LeaseSettings = field(default_factory=LeaseSettings)
    events: EventSettings = field(default_factory=EventSettings)
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)
    """Where traces and metrics go (``functions.telemetry``)."""
