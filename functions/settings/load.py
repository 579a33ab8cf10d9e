"""Reading and validating settings from the environment: the only code that reads environment variables.

:func:`load_settings` reads every setting declared in :mod:`functions.settings.declarations` into a typed, immutable
:class:`~functions.settings.model.Settings` and validates them all at once: it raises :class:`SettingsError`
listing *every* missing or invalid setting, never just the first, and never quoting a secret.

The Functions platform passes app settings as environment variables (in Azure, Key Vault references are resolved
before the worker starts; locally Core Tools or ``tools/devhost`` load ``local.settings.json``).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
from collections.abc import Mapping
from typing import TypeVar
from urllib.parse import urlsplit

from functions.settings.declarations import DEV_SEAL_KEY, SETTINGS
from functions.settings.model import (
    ApprovalSettings,
    AuthMode,
    AuthSettings,
    EventSettings,
    GuestSettings,
    HostAccess,
    HostEndpoint,
    LeaseSettings,
    Secret,
    Settings,
    SettingsError,
    StorageSettings,
    TelemetryExporter,
    TelemetrySettings,
    WinRMScheme,
    WinRMSettings,
    WinRMTransport,
)

__all__ = ["load_host_access", "load_settings", "load_telemetry"]

T = TypeVar("T")

_TRANSPORTS: tuple[WinRMTransport, ...] = ("ntlm", "basic", "certificate")
_SCHEMES: tuple[WinRMScheme, ...] = ("https", "http")
_AUTH_MODES: tuple[AuthMode, ...] = ("entra", "none")
_EXPORTERS: tuple[TelemetryExporter, ...] = ("none", "console", "otlp")
_SPECS = {spec.name: spec for spec in SETTINGS}

_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_TABLE_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,29}$")
_TASK_HUB = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,44}$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,\-]+$")


_KEY_VAULT_REFERENCE = "@Microsoft.KeyVault("


class _Reader:
    """Reads raw values and collects problems instead of raising at the first one."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []
        self._unresolved: set[str] = set()

    def raw(self, name: str) -> str:
        spec = _SPECS[name]
        value = self.env.get(name)
        if value is None or value.strip() == "":
            return spec.default or ""
        if value.strip().startswith(_KEY_VAULT_REFERENCE) and name not in self._unresolved:
            # App Service leaves the reference text in place when it cannot resolve it (no access, no such secret,
            # bad syntax): https://learn.microsoft.com/azure/app-service/app-service-key-vault-references
            self.problem(
                name,
                "is an unresolved Key Vault reference: the platform could not read the secret — check the app's "
                "managed identity has access to the vault (Key Vault Secrets User) and that the secret exists",
            )
            self._unresolved.add(name)
        if name in self._unresolved:
            return spec.default or ""
        return value.strip()

    def problem(self, name: str, message: str) -> None:
        if name in self._unresolved and not message.startswith("is an unresolved Key Vault reference"):
            return  # one problem per setting: the reference, not what its literal text fails
        self.problems.append(f"{name}: {message}")

    def choice(self, name: str, options: tuple[T, ...]) -> T:
        value = self.raw(name).lower()
        for option in options:
            if option == value:
                return option
        self.problem(name, f"must be one of {', '.join(map(str, options))}")
        return options[0]

    def boolean(self, name: str) -> bool:
        value = self.raw(name).lower()
        if value in ("true", "1", "yes"):
            return True
        if value in ("false", "0", "no"):
            return False
        self.problem(name, "must be true or false")
        return False

    def number(self, name: str, *, minimum: float, maximum: float) -> float:
        text = self.raw(name)
        try:
            value = float(text)
        except ValueError:
            self.problem(name, f"must be a number between {minimum:g} and {maximum:g}")
            return minimum
        if not minimum <= value <= maximum:
            self.problem(name, f"must be between {minimum:g} and {maximum:g}")
            return minimum
        return value

    def integer(self, name: str, *, minimum: int, maximum: int) -> int:
        text = self.raw(name)
        if not text.isdigit() or not minimum <= int(text) <= maximum:
            self.problem(name, f"must be a whole number between {minimum} and {maximum}")
            return minimum
        return int(text)


def _is_dns_name(value: str) -> bool:
    if len(value) > 253 or value.endswith("."):
        return False
    labels = value.split(".")
    return all(_HOST_LABEL.fullmatch(label) for label in labels) and not labels[-1].isdigit()


def _is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _names(text: str) -> frozenset[str]:
    """A comma-separated list of names, lower case (empty items dropped)."""
    return frozenset(part.strip().lower() for part in text.split(",") if part.strip())


def _parse_hosts(reader: _Reader) -> tuple[HostEndpoint, ...]:
    hosts: list[HostEndpoint] = []
    seen: set[str] = set()
    for item in (part.strip() for part in reader.raw("AETHERV_HOSTS").split(",")):
        if not item:
            continue
        name, _, port_text = item.partition(":")
        port: int | None = None
        if port_text:
            if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
                reader.problem("AETHERV_HOSTS", f"host '{name}' has an invalid port (1-65535)")
                continue
            port = int(port_text)
        if not _is_dns_name(name):
            reader.problem("AETHERV_HOSTS", f"'{name}' is not a valid host name (letters, digits, hyphens, dots)")
            continue
        if name.lower() in seen:
            reader.problem("AETHERV_HOSTS", f"host '{name}' is listed twice")
            continue
        seen.add(name.lower())
        hosts.append(HostEndpoint(name=name, port=port))
    return tuple(hosts)


def _parse_addresses(reader: _Reader) -> dict[str, str]:
    addresses: dict[str, str] = {}
    for item in (part.strip() for part in reader.raw("AETHERV_HOST_ADDRESSES").split(",")):
        if not item:
            continue
        name, _, address = item.partition("=")
        try:
            ipaddress.ip_address(address.strip())
        except ValueError:
            reader.problem("AETHERV_HOST_ADDRESSES", f"'{item}' is not `name=IP address`")
            continue
        addresses[name.strip().lower()] = address.strip()
    return addresses


def _parse_storage(reader: _Reader) -> StorageSettings:
    connection = reader.raw("AzureWebJobsStorage")
    account = reader.raw("AzureWebJobsStorage__accountName")
    endpoint = reader.raw("AzureWebJobsStorage__tableServiceUri")
    client_id = reader.raw("AzureWebJobsStorage__clientId") or None
    prefix = reader.raw("AETHERV_TABLE_PREFIX")
    hub = reader.raw("AETHERV_TASK_HUB")
    if not _TABLE_PREFIX.fullmatch(prefix):
        reader.problem("AETHERV_TABLE_PREFIX", "must be 1-30 letters and digits, starting with a letter")
    if not _TASK_HUB.fullmatch(hub):
        reader.problem("AETHERV_TASK_HUB", "must be 3-45 letters and digits, starting with a letter")
    if client_id is not None and not _GUID.fullmatch(client_id):
        reader.problem("AzureWebJobsStorage__clientId", "must be a GUID")
    if connection:
        if connection != "UseDevelopmentStorage=true" and "AccountName=" not in connection:
            reader.problem(
                "AzureWebJobsStorage",
                "is not a storage connection string (expected `UseDevelopmentStorage=true` or "
                "`...;AccountName=...;AccountKey=...`)",
            )
        return StorageSettings(Secret(connection), None, None, prefix, hub)
    if endpoint:
        if urlsplit(endpoint).scheme != "https" and not _is_loopback_url(endpoint):
            reader.problem("AzureWebJobsStorage__tableServiceUri", "must be an https URL")
        return StorageSettings(None, endpoint.rstrip("/"), client_id, prefix, hub)
    if account:
        if not re.fullmatch(r"[a-z0-9]{3,24}", account):
            reader.problem("AzureWebJobsStorage__accountName", "must be 3-24 lower-case letters and digits")
        return StorageSettings(None, f"https://{account}.table.core.windows.net", client_id, prefix, hub)
    reader.problem(
        "AzureWebJobsStorage",
        "is missing: set a connection string (`UseDevelopmentStorage=true` for Azurite) or "
        "AzureWebJobsStorage__accountName for managed identity",
    )
    return StorageSettings(None, None, None, prefix, hub)


def _parse_winrm(reader: _Reader, hosts: tuple[HostEndpoint, ...]) -> WinRMSettings:
    scheme = reader.choice("AETHERV_WINRM_SCHEME", _SCHEMES)
    transport = reader.choice("AETHERV_WINRM_TRANSPORT", _TRANSPORTS)
    port_text = reader.raw("AETHERV_WINRM_PORT")
    port = 5986 if scheme == "https" else 5985
    if port_text:
        port = reader.integer("AETHERV_WINRM_PORT", minimum=1, maximum=65535)
    if scheme == "http" and transport != "ntlm":
        reader.problem(
            "AETHERV_WINRM_TRANSPORT",
            f"`{transport}` cannot encrypt messages over http; use https or ntlm",
        )
    username = reader.raw("AETHERV_WINRM_USERNAME")
    password = reader.raw("AETHERV_WINRM_PASSWORD")
    cert_pem = reader.raw("AETHERV_WINRM_CERT_PEM") or None
    cert_key = reader.raw("AETHERV_WINRM_CERT_KEY_PEM") or None
    if hosts and transport == "certificate":
        if not (cert_pem and cert_key):
            reader.problem("AETHERV_WINRM_CERT_PEM", "certificate transport needs a client certificate and key")
        if scheme != "https":
            reader.problem("AETHERV_WINRM_SCHEME", "certificate transport needs https")
    elif hosts:
        if not username:
            reader.problem("AETHERV_WINRM_USERNAME", "is required when AETHERV_HOSTS lists hosts")
        if not password:
            reader.problem("AETHERV_WINRM_PASSWORD", "is required when AETHERV_HOSTS lists hosts")
    ca_bundle = reader.raw("AETHERV_WINRM_CA_BUNDLE") or None
    if ca_bundle and not os.path.isfile(ca_bundle):
        reader.problem("AETHERV_WINRM_CA_BUNDLE", f"file not found: {ca_bundle}")
    verify = reader.boolean("AETHERV_WINRM_VERIFY_TLS")
    connect = reader.number("AETHERV_WINRM_CONNECT_TIMEOUT", minimum=1, maximum=300)
    operation = reader.number("AETHERV_WINRM_OPERATION_TIMEOUT", minimum=1, maximum=3600)
    read = reader.number("AETHERV_WINRM_READ_TIMEOUT", minimum=1, maximum=3600)
    if read <= operation:
        reader.problem("AETHERV_WINRM_READ_TIMEOUT", "must be greater than AETHERV_WINRM_OPERATION_TIMEOUT")
    session_idle = reader.number("AETHERV_WINRM_SESSION_IDLE_SECONDS", minimum=0, maximum=110)
    return WinRMSettings(
        scheme=scheme,
        port=port,
        transport=transport,
        username=username,
        password=Secret(password),
        ca_bundle=ca_bundle,
        verify_tls=verify,
        cert_pem=cert_pem,
        cert_key_pem=cert_key,
        connect_timeout=connect,
        operation_timeout=operation,
        read_timeout=read,
        session_idle_seconds=session_idle,
    )


def _parse_auth(reader: _Reader, in_azure: bool) -> AuthSettings:
    mode = reader.choice("AETHERV_AUTH_MODE", _AUTH_MODES)
    authority = reader.raw("AETHERV_ENTRA_AUTHORITY").rstrip("/")
    tenant = reader.raw("AETHERV_ENTRA_TENANT_ID")
    client_id = reader.raw("AETHERV_ENTRA_CLIENT_ID")
    app_id_uri = reader.raw("AETHERV_ENTRA_APP_ID_URI") or (f"api://{client_id}" if client_id else "")
    easy_auth = reader.boolean("AETHERV_EASY_AUTH_ENABLED")
    app_signing_keys = reader.boolean("AETHERV_ENTRA_APP_SIGNING_KEYS")
    if mode == "none" and in_azure:
        reader.problem("AETHERV_AUTH_MODE", "`none` is for local development only and is refused in Azure")
    if reader.raw("AETHERV_AUTH_MODE").lower() == "entra":  # an invalid mode is reported once, not again here
        if not _GUID.fullmatch(tenant):
            reader.problem("AETHERV_ENTRA_TENANT_ID", "is required in entra mode (the tenant's GUID)")
        if not _GUID.fullmatch(client_id):
            reader.problem("AETHERV_ENTRA_CLIENT_ID", "is required in entra mode (the API app's client id GUID)")
        scheme = urlsplit(authority).scheme
        if scheme != "https" and not (scheme == "http" and _is_loopback_url(authority)):
            reader.problem("AETHERV_ENTRA_AUTHORITY", "must be an https URL (plain http only for loopback)")
    if easy_auth and not in_azure:
        reader.problem("AETHERV_EASY_AUTH_ENABLED", "can only be true in Azure, behind App Service Authentication")
    roles = {name: reader.raw(name) for name in ("AETHERV_ROLE_READER", "AETHERV_ROLE_OPERATOR", "AETHERV_ROLE_ADMIN")}
    for name, value in roles.items():
        if not re.fullmatch(r"[A-Za-z0-9._:\-]{1,120}", value):
            reader.problem(name, "must be an app role value (letters, digits, . _ : -)")
    return AuthSettings(
        mode=mode,
        authority=authority,
        tenant_id=tenant,
        client_id=client_id,
        app_id_uri=app_id_uri,
        role_reader=roles["AETHERV_ROLE_READER"],
        role_operator=roles["AETHERV_ROLE_OPERATOR"],
        role_admin=roles["AETHERV_ROLE_ADMIN"],
        easy_auth_enabled=easy_auth,
        app_signing_keys=app_signing_keys,
    )


def _parse_seal_key(reader: _Reader, in_azure: bool) -> Secret:
    text = reader.raw("AETHERV_SEAL_KEY")
    if not text:
        reader.problem("AETHERV_SEAL_KEY", "is missing (base64 of 32 random bytes)")
        return Secret("")
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        reader.problem("AETHERV_SEAL_KEY", "must be base64 of exactly 32 bytes")
    if in_azure and text == DEV_SEAL_KEY:
        reader.problem("AETHERV_SEAL_KEY", "is the public development key; generate a new one for Azure")
    return Secret(text)


def _parse_schedule(reader: _Reader) -> str:
    schedule = reader.raw("AETHERV_INVENTORY_SCHEDULE")
    fields = schedule.split()
    if len(fields) != 6 or not all(_CRON_FIELD.fullmatch(part) for part in fields):
        reader.problem("AETHERV_INVENTORY_SCHEDULE", "must be a 6-field NCRONTAB expression, e.g. `0 */2 * * * *`")
    return schedule


_WEBHOOK_SECRET = re.compile(r"whsec_[A-Za-z0-9+/]+={0,2}")


def _parse_events(reader: _Reader) -> EventSettings:
    """The event sinks: webhook URLs (https, or http on loopback) with their ``whsec_`` secret, an Event Grid topic."""
    urls = tuple(part.strip() for part in reader.raw("AETHERV_WEBHOOK_URLS").split(",") if part.strip())
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            reader.problem("AETHERV_WEBHOOK_URLS", f"{url!r} is not an http(s) URL")
        elif parts.scheme == "http" and not _is_loopback_url(url):
            reader.problem("AETHERV_WEBHOOK_URLS", f"{url!r} must be https (plain http only for loopback)")
        elif parts.username or parts.password:
            reader.problem("AETHERV_WEBHOOK_URLS", "must not carry credentials in the URL")
    secret = reader.raw("AETHERV_WEBHOOK_SECRET")
    if urls and not secret:
        reader.problem("AETHERV_WEBHOOK_SECRET", "is required when AETHERV_WEBHOOK_URLS is set")
    if secret:
        try:
            key = (
                base64.b64decode(secret.removeprefix("whsec_"), validate=True)
                if _WEBHOOK_SECRET.fullmatch(secret)
                else b""
            )
        except (binascii.Error, ValueError):
            key = b""
        if not 24 <= len(key) <= 64:
            reader.problem("AETHERV_WEBHOOK_SECRET", "must be `whsec_` followed by base64 of 24 to 64 random bytes")
    endpoint = reader.raw("AETHERV_EVENTGRID_ENDPOINT")
    if endpoint and (urlsplit(endpoint).scheme != "https" or not urlsplit(endpoint).hostname):
        reader.problem("AETHERV_EVENTGRID_ENDPOINT", "must be the topic's https endpoint")
    return EventSettings(
        webhook_urls=urls,
        webhook_secret=Secret(secret),
        eventgrid_endpoint=endpoint,
        retry_horizon_seconds=reader.number("AETHERV_EVENT_RETRY_HORIZON", minimum=1, maximum=604800),
    )


def _parse_telemetry(reader: _Reader) -> TelemetrySettings:
    text = reader.raw("APPLICATIONINSIGHTS_CONNECTION_STRING")
    if text and "instrumentationkey=" not in text.lower():
        reader.problem(
            "APPLICATIONINSIGHTS_CONNECTION_STRING",
            "is not an Application Insights connection string (no InstrumentationKey=...)",
        )
        text = ""
    exporter = reader.choice("AETHERV_TELEMETRY_EXPORTER", _EXPORTERS)
    endpoint = reader.raw("OTEL_EXPORTER_OTLP_ENDPOINT")
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        reader.problem("OTEL_EXPORTER_OTLP_ENDPOINT", "must be an http(s) URL, e.g. http://localhost:4318")
    return TelemetrySettings(
        connection_string=Secret(text) if text else None,
        exporter=exporter,
        otlp_endpoint=endpoint.rstrip("/"),
    )


def load_telemetry(env: Mapping[str, str] | None = None) -> TelemetrySettings:
    """Only the telemetry settings, read and validated exactly as :func:`load_settings` reads them.

    The composition root sets telemetry up from these at import, before (and regardless of) the other settings;
    raises :class:`SettingsError` listing every problem of these settings (``/api/readyz`` lists them too).
    """
    reader = _Reader(os.environ if env is None else env)
    telemetry = _parse_telemetry(reader)
    if reader.problems:
        raise SettingsError(reader.problems)
    return telemetry


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every setting from ``env`` (default: the process environment).

    Raises :class:`SettingsError` listing every problem found.
    """
    source = os.environ if env is None else env
    reader = _Reader(source)
    in_azure = bool(source.get("WEBSITE_INSTANCE_ID"))
    storage = _parse_storage(reader)
    hosts = _parse_hosts(reader)
    addresses = _parse_addresses(reader)
    winrm = _parse_winrm(reader, hosts)
    auth = _parse_auth(reader, in_azure)
    seal_key = _parse_seal_key(reader, in_azure)
    schedule = _parse_schedule(reader)
    guest = GuestSettings(
        key_timeout=reader.number("AETHERV_GUEST_KEY_TIMEOUT", minimum=10, maximum=7200),
        apply_timeout=reader.number("AETHERV_GUEST_APPLY_TIMEOUT", minimum=10, maximum=14400),
        poll_interval=reader.number("AETHERV_GUEST_POLL_INTERVAL", minimum=0.05, maximum=300),
        publish_delay=reader.number("AETHERV_GUEST_PUBLISH_DELAY", minimum=0, maximum=600),
        address_timeout=reader.number("AETHERV_ADDRESS_TIMEOUT", minimum=0, maximum=3600),
    )
    clone_concurrency = reader.integer("AETHERV_CLONE_CONCURRENCY", minimum=1, maximum=64)
    hosts_per_activity = reader.integer("AETHERV_INVENTORY_HOSTS_PER_ACTIVITY", minimum=1, maximum=100)
    migration_max_storage_gb = reader.integer("AETHERV_MIGRATION_MAX_STORAGE_GB", minimum=0, maximum=65536)
    approval = ApprovalSettings(
        hosts=_names(reader.raw("AETHERV_APPROVAL_HOSTS")),
        clusters=_names(reader.raw("AETHERV_APPROVAL_CLUSTERS")),
        timeout_seconds=reader.number("AETHERV_APPROVAL_TIMEOUT", minimum=1, maximum=2592000),
    )
    retry_attempts = reader.integer("AETHERV_STEP_RETRY_ATTEMPTS", minimum=1, maximum=20)
    retry_seconds = reader.number("AETHERV_STEP_RETRY_SECONDS", minimum=0.1, maximum=600)
    disk_prepare_timeout = reader.number("AETHERV_DISK_PREPARE_TIMEOUT", minimum=60, maximum=172800)
    host_poll_interval = reader.number("AETHERV_HOST_OPERATION_POLL_INTERVAL", minimum=0.05, maximum=300)
    leases = LeaseSettings(
        max_hours=reader.integer("AETHERV_LEASE_MAX_HOURS", minimum=1, maximum=87600),
        warning_seconds=reader.number("AETHERV_LEASE_WARNING_HOURS", minimum=0, maximum=8760) * 3600,
        check_seconds=reader.number("AETHERV_LEASE_CHECK_HOURS", minimum=0.0003, maximum=72) * 3600,
    )
    events = _parse_events(reader)
    build_commit = reader.raw("AETHERV_BUILD_COMMIT")
    telemetry = _parse_telemetry(reader)
    if reader.problems:
        raise SettingsError(reader.problems)
    return Settings(
        storage=storage,
        hosts=hosts,
        host_addresses=addresses,
        winrm=winrm,
        auth=auth,
        seal_key=seal_key,
        inventory_schedule=schedule,
        inventory_hosts_per_activity=hosts_per_activity,
        migration_max_storage_gb=migration_max_storage_gb,
        approval=approval,
        guest=guest,
        clone_concurrency=clone_concurrency,
        step_retry_attempts=retry_attempts,
        step_retry_seconds=retry_seconds,
        disk_prepare_timeout=disk_prepare_timeout,
        host_operation_poll_interval=host_poll_interval,
        build_commit=build_commit,
        in_azure=in_azure,
        leases=leases,
        events=events,
        telemetry=telemetry,
    )


def load_host_access(env: Mapping[str, str] | None = None) -> HostAccess:
    """Only the settings that reach the Hyper-V hosts, read and validated exactly as :func:`load_settings` reads them.

    ``AETHERV_HOSTS``, ``AETHERV_HOST_ADDRESSES`` and the ``AETHERV_WINRM_*`` settings from ``env`` (default: the
    process environment), for operator tools that talk to the hosts and need neither storage nor sign-in settings
    (``python -m tools.isobuild upload``). Raises :class:`SettingsError` listing every problem of those settings.
    """
    reader = _Reader(os.environ if env is None else env)
    hosts = _parse_hosts(reader)
    addresses = _parse_addresses(reader)
    winrm = _parse_winrm(reader, hosts)
    if reader.problems:
        raise SettingsError(reader.problems)
    return HostAccess(hosts=hosts, host_addresses=addresses, winrm=winrm)
