"""The application's settings: declared once, read from the environment once, typed and validated all at once.

- :mod:`~functions.settings.declarations`: every setting (name, description, default, secrecy);
- :mod:`~functions.settings.model`: the typed, immutable :class:`Settings` and :class:`Secret`;
- :mod:`~functions.settings.load`: :func:`load_settings`, the only reader of environment variables, which raises
  :class:`SettingsError` listing every problem; :func:`load_host_access` reads only the hosts and WinRM settings
  (for operator tools that talk to hosts); :func:`load_telemetry` only the telemetry settings (read at import).

The composition root (``functions/app.py``) calls :func:`load_settings` once per process and hands the parts to
what needs them; nothing else reads settings.
"""

from functions.settings.declarations import DEV_SEAL_KEY, SETTINGS, SettingSpec
from functions.settings.load import load_host_access, load_settings, load_telemetry
from functions.settings.model import (
    ApprovalSettings,
    AuthMode,
    AuthSettings,
    EventSettings,
    GuestSettings,
    HostAccess,
    HostEndpoint,
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

__all__ = [
    "DEV_SEAL_KEY",
    "SETTINGS",
    "ApprovalSettings",
    "AuthMode",
    "AuthSettings",
    "EventSettings",
    "GuestSettings",
    "HostAccess",
    "HostEndpoint",
    "Secret",
    "SettingSpec",
    "Settings",
    "SettingsError",
    "StorageSettings",
    "TelemetryExporter",
    "TelemetrySettings",
    "WinRMScheme",
    "WinRMSettings",
    "WinRMTransport",
    "load_host_access",
    "load_settings",
    "load_telemetry",
]
