"""Provisioning ISO builder: ``python -m tools.isobuild`` (``make isos``) writes both ISOs to ``agents/dist``.

See :mod:`tools.isobuild.builder` for what the ISOs hold and ``docs/guest-agents.md`` for using them.
"""

from tools.isobuild.builder import (
    LINUX_ISO,
    LINUX_LABEL,
    WINDOWS_ISO,
    WINDOWS_LABEL,
    BuiltIsos,
    IsoFile,
    build_all,
    build_iso,
    embedded_version,
    linux_files,
    read_version,
    windows_files,
)

__all__ = [
    "LINUX_ISO",
    "LINUX_LABEL",
    "WINDOWS_ISO",
    "WINDOWS_LABEL",
    "BuiltIsos",
    "IsoFile",
    "build_all",
    "build_iso",
    "embedded_version",
    "linux_files",
    "read_version",
    "windows_files",
]
