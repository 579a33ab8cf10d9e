"""Every setting, declared once: name, description, local default and whether it is secret.

``tools/settings_doc.py`` renders the README's settings table and ``local.settings.sample.json`` from these.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEV_SEAL_KEY", "SETTINGS", "SettingSpec"]

# The sealing key shipped in local.settings.sample.json. It is public, so it is refused when running in Azure.
DEV_SEAL_KEY = "ZGV2LW9ubHktc2VhbC1rZXktZG8tbm90LXVzZS0wMDA="


@dataclass(frozen=True)
class SettingSpec:
    """Declaration of one setting: its environment name, description, local default and secrecy."""

    name: str
    description: str
    default: str | None = None
    secret: bool = False
    local_default: str | None = None  # value written to local.settings.sample.json when it differs


SETTINGS: tuple[SettingSpec, ...] = (
    # -- storage ---------------------------------------------------------------------------------------------
    SettingSpec(
        "AzureWebJobsStorage",
        "Storage connection string for the Functions host, the Durable task hub and the inventory tables "
        "(`UseDevelopmentStorage=true` for Azurite). Leave empty in Azure and use the identity-based "
        "`AzureWebJobsStorage__*` settings instead.",
        secret=True,
        local_default="UseDevelopmentStorage=true",
    ),
    SettingSpec(
        "AzureWebJobsStorage__accountName",
        "Storage account name for identity-based access (managed identity via azure-identity).",
    ),
    SettingSpec(
        "AzureWebJobsStorage__tableServiceUri",
        "Table endpoint for identity-based access; derived from the account name when empty.",
    ),
    SettingSpec(
        "AzureWebJobsStorage__clientId",
        "Client id of a user-assigned managed identity; empty uses the system-assigned identity.",
    ),
    SettingSpec(
        "AETHERV_TASK_HUB",
        "Durable Functions task hub name (host.json `hubName`); 3–45 letters and digits, starting with a letter.",
        default="AetherV",
        local_default="AetherVLocal",
    ),
    SettingSpec(
        "AETHERV_TABLE_PREFIX",
        "Prefix of the app's Table Storage tables (hosts, VMs, jobs, audit); letters and digits.",
        default="aetherv",
    ),
    # -- Hyper-V hosts and WinRM -----------------------------------------------------------------------------
    SettingSpec(
        "AETHERV_HOSTS",
        "Hyper-V hosts to manage, comma-separated `name[:port]` (DNS names as the hosts' certificates and "
        "Hybrid Connections know them). Empty means no hosts yet.",
        default="",
    ),
    SettingSpec(
        "AETHERV_HOST_ADDRESSES",
        "Optional `name=address` pairs (comma-separated) to connect to instead of resolving host names, like curl's "
        "`--resolve`; the host's certificate is checked against that address. `make run` uses it for the "
        "simulated lab.",
        default="",
    ),
    SettingSpec(
        "AETHERV_WINRM_SCHEME",
        "`https` (default, port 5986) or `http` (port 5985, only with NTLM message encryption).",
        default="https",
    ),
    SettingSpec("AETHERV_WINRM_PORT", "Default WinRM port; empty means 5986 for https, 5985 for http.", default=""),
    SettingSpec(
        "AETHERV_WINRM_TRANSPORT",
        "WinRM authentication: `ntlm` (default), `basic` (https only) or `certificate` (https only). Kerberos and "
        "CredSSP need libraries this build does not include.",
        default="ntlm",
    ),
    SettingSpec("AETHERV_WINRM_USERNAME", "Account used on the Hyper-V hosts (e.g. `CORP\\svc-aetherv`).", default=""),
    SettingSpec("AETHERV_WINRM_PASSWORD", "Password of that account (a Key Vault reference in Azure).", secret=True),
    SettingSpec(
        "AETHERV_WINRM_CA_BUNDLE",
        "Path of a PEM CA bundle that signs the hosts' WinRM certificates; empty uses the HTTP client's bundle "
        "(certifi).",
        default="",
    ),
    SettingSpec(
        "AETHERV_WINRM_VERIFY_TLS",
        "`true` (default) validates the hosts' certificates. `false` is an explicit, logged choice for labs.",
        default="true",
    ),
    SettingSpec("AETHERV_WINRM_CERT_PEM", "Client certificate (PEM path) for `certificate` transport.", default=""),
    SettingSpec("AETHERV_WINRM_CERT_KEY_PEM", "Client key (PEM path) for `certificate` transport.", default=""),
    SettingSpec("AETHERV_WINRM_CONNECT_TIMEOUT", "Seconds to wait for a TCP/TLS connection to a host.", default="10"),
    SettingSpec(
        "AETHERV_WINRM_OPERATION_TIMEOUT",
        "WS-Management operation timeout in seconds (how long one receive may wait on the host).",
        default="20",
    ),
    SettingSpec(
        "AETHERV_WINRM_READ_TIMEOUT",
        "HTTP read timeout in seconds; must exceed the operation timeout.",
        default="30",
    ),
    SettingSpec(
        "AETHERV_WINRM_SESSION_IDLE_SECONDS",
        "Seconds a worker keeps an idle WinRM session (authenticated, shell open) for the next activity on the "
        "same host; 0 opens and closes a session per activity. At most 110: below HTTP.sys's 120 s idle "
        "connection timeout.",
        default="60",
    ),
    # -- authentication --------------------------------------------------------------------------------------
    SettingSpec(
        "AETHERV_AUTH_MODE",
        "`entra` (default): bearer tokens from Microsoft Entra ID are required. `none`: no authentication, "
        "only for local development on loopback; refused in Azure.",
        default="entra",
        local_default="none",
    ),
    SettingSpec(
        "AETHERV_ENTRA_AUTHORITY",
        "Entra authority host (sovereign clouds differ); plain http only for a loopback test authority.",
        default="https://login.microsoftonline.com",
    ),
    SettingSpec("AETHERV_ENTRA_TENANT_ID", "Entra tenant id (GUID) that issues the API's tokens.", default=""),
    SettingSpec("AETHERV_ENTRA_CLIENT_ID", "Application (client) id of the API's app registration.", default=""),
    SettingSpec(
        "AETHERV_ENTRA_APP_ID_URI",
        "Application ID URI accepted as audience; empty means `api://<client id>`.",
        default="",
    ),
    SettingSpec("AETHERV_ROLE_READER", "App role that may read inventory and jobs.", default="Aether.Reader"),
    SettingSpec(
        "AETHERV_ROLE_OPERATOR",
        "App role that may create, delete and power VMs.",
        default="Aether.Operator",
    ),
    SettingSpec(
        "AETHERV_ROLE_ADMIN", "App role that may do everything, incl. cancel others' jobs.", default="Aether.Admin"
    ),
    SettingSpec(
        "AETHERV_ENTRA_APP_SIGNING_KEYS",
        "`true` when the API's app registration has its own token signing keys (claims mapping): the keys are then "
        "read with `?appid=<client id>`, as Entra requires for such apps.",
        default="false",
    ),
    SettingSpec(
        "AETHERV_EASY_AUTH_ENABLED",
        "`true` only when App Service Authentication runs in front of the app; then its principal header is "
        "trusted. Never set it locally.",
        default="false",
    ),
    # -- secrets, schedules, guest handshake ----------------------------------------------------------------
    SettingSpec(
        "AETHERV_SEAL_KEY",
        "Base64 of 32 random bytes: seals guest secrets before they enter workflow history "
        "(a Key Vault reference in Azure). The sample's development key is refused in Azure.",
        secret=True,
        local_default=DEV_SEAL_KEY,
    ),
    SettingSpec(
        "AETHERV_INVENTORY_SCHEDULE",
        "NCRONTAB schedule (6 fields, seconds first) of the inventory sync.",
        default="0 */2 * * * *",
    ),
    SettingSpec(
        "AETHERV_INVENTORY_HOSTS_PER_ACTIVITY",
        "Hosts one inventory-sync activity collects at once (one thread each, 1–100). A sync collects up to "
        "host.json `maxConcurrentActivityFunctions` times this many hosts at the same time.",
        default="50",
    ),
    SettingSpec(
        "AETHERV_GUEST_KEY_TIMEOUT",
        "Seconds to wait for a new guest to publish its provisioning key.",
        default="600",
    ),
    SettingSpec(
        "AETHERV_GUEST_APPLY_TIMEOUT",
        "Seconds to wait for a guest to apply its configuration.",
        default="1800",
    ),
    SettingSpec("AETHERV_GUEST_POLL_INTERVAL", "Seconds between guest-state polls.", default="5"),
    SettingSpec(
        "AETHERV_GUEST_PUBLISH_DELAY",
        "Seconds between publishing the guest data and signalling it (the protocol's settle delay).",
        default="30",
    ),
    SettingSpec(
        "AETHERV_STEP_RETRY_ATTEMPTS",
        "How many times a workflow step is tried when it fails transiently (host unreachable, storage outage).",
        default="4",
    ),
    SettingSpec(
        "AETHERV_STEP_RETRY_SECONDS",
        "Seconds before the first retry of a failed step; each further retry waits twice as long.",
        default="5",
    ),
    SettingSpec(
        "AETHERV_ADDRESS_TIMEOUT",
        "Seconds a finished create waits for the host to report the guest's static IPv4 address (then a warning).",
        default="180",
    ),
    SettingSpec(
        "AETHERV_CLONE_CONCURRENCY",
        "Image clones allowed to run at once on one host, across all workflows.",
        default="2",
    ),
    SettingSpec(
        "AETHERV_DISK_PREPARE_TIMEOUT",
        "Seconds a create waits for its OS disk: the image copy runs on the host in the background and is stopped "
        "(the job fails and is cleaned up) when it takes longer.",
        default="14400",
    ),
    SettingSpec(
        "AETHERV_APPROVAL_HOSTS",
        "Hosts whose creates wait for an Admin's approval (comma-separated names; `*`: every host). A create "
        "placed automatically is judged by the host it is placed on.",
        default="",
    ),
    SettingSpec(
        "AETHERV_APPROVAL_CLUSTERS",
        "Failover clusters whose nodes' creates wait for an Admin's approval (comma-separated cluster names).",
        default="",
    ),
    SettingSpec(
        "AETHERV_APPROVAL_TIMEOUT",
        "Seconds a create waits for its approval; with no decision by then it ends `Canceled` (default 3 days).",
        default="259200",
    ),
    SettingSpec(
        "AETHERV_MIGRATION_MAX_STORAGE_GB",
        "Most GB of virtual-disk files a migration between stand-alone hosts may move (0: none). Such a move "
        "copies them inside one activity, which must end within host.json's `functionTimeout` (10 minutes); at "
        "1 Gbit/s about 7 GB a minute get through. A bigger VM is refused before anything moves.",
        default="40",
    ),
    SettingSpec(
        "AETHERV_LEASE_MAX_HOURS",
        "Longest VM lease, in hours from now: a create's `lease` or a `PUT /api/v1/vms/{vm_id}/lease` that asks for a "
        "later expiry is refused (422). See docs/leases.md.",
        default="2160",
    ),
    SettingSpec(
        "AETHERV_LEASE_WARNING_HOURS",
        "Hours before a lease expires at which its warning is recorded (audit and the VM's `lease.warned_at`); "
        "fractions allowed (tests use seconds: 0.002 is 7.2 s).",
        default="24",
    ),
    SettingSpec(
        "AETHERV_LEASE_CHECK_HOURS",
        "Longest single wait of a lease workflow before it reads its lease again (and continues as new), and the "
        "wait before it tries again when the delete at expiry left the VM; at most 72 (below the storage "
        "provider's timer limit), fractions allowed.",
        default="24",
    ),
    SettingSpec(
        "AETHERV_HOST_OPERATION_POLL_INTERVAL",
        "Seconds before a workflow first checks on background work on a host (an image copy); later checks follow "
        "its progress (half the time it still needs, at most 10 minutes), or grow by half up to twelve times this.",
        default="10",
        local_default="2",
    ),
    # -- events ---------------------------------------------------------------------------------------------
    SettingSpec(
        "AETHERV_WEBHOOK_URLS",
        "Webhook receivers of the app's events (CloudEvents, signed per Standard Webhooks), comma-separated; https "
        "(plain http only for loopback). Empty: no webhooks. See docs/events.md.",
        default="",
    ),
    SettingSpec(
        "AETHERV_WEBHOOK_SECRET",
        "The webhooks' signing secret: `whsec_` then base64 of 24–64 random bytes, as Standard Webhooks defines it "
        "(a Key Vault reference in Azure). Required when `AETHERV_WEBHOOK_URLS` is set.",
        secret=True,
    ),
    SettingSpec(
        "AETHERV_EVENTGRID_ENDPOINT",
        "Endpoint of the Event Grid custom topic the events are published to with the app's managed identity "
        "(`https://<topic>.<region>-1.eventgrid.azure.net/api/events`); empty: no Event Grid.",
        default="",
    ),
    SettingSpec(
        "AETHERV_EVENT_RETRY_HORIZON",
        "Seconds an event keeps being retried (exponential backoff from 1 s, at most 5 minutes apart) before it is "
        "dead-lettered to `GET /api/v1/events/failed`.",
        default="86400",
    ),
    # -- telemetry (docs/operations.md) ------------------------------------------------------------------------
    SettingSpec(
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "Application Insights connection string (set by the deployment): traces and metrics go there through the "
        "Azure Monitor OpenTelemetry distro (ingestion authenticates with the app's identity: "
        "`APPLICATIONINSIGHTS_AUTHENTICATION_STRING`). Empty locally: then `AETHERV_TELEMETRY_EXPORTER` decides.",
        default="",
    ),
    SettingSpec(
        "AETHERV_TELEMETRY_EXPORTER",
        "Without a connection string: `none` (default; nothing is sent), `console` (spans and metrics printed to "
        "the app's standard output) or `otlp` (OTLP over HTTP to `OTEL_EXPORTER_OTLP_ENDPOINT`).",
        default="none",
    ),
    SettingSpec(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "Base URL of the OTLP/HTTP receiver (an OpenTelemetry collector) for the `otlp` exporter; `/v1/traces` "
        "and `/v1/metrics` are appended.",
        default="http://localhost:4318",
    ),
    SettingSpec(
        "AETHERV_BUILD_COMMIT", "Build commit reported by /api/healthz (set by the deployment).", default="dev"
    ),
)
