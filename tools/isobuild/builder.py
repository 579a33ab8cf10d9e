"""Build the Linux and Windows provisioning ISOs from ``agents/`` with pycdlib (no external programs).

- ``LinuxProvisioning.iso`` — a cloud-init NoCloud seed, volume label ``CIDATA``: ``meta-data`` and a
  ``user-data`` that writes the agent to ``/usr/local/sbin/aetherv-guest-agent``, its systemd unit and the protocol
  version to ``/var/lib/aetherv/version``, then enables and starts the unit. The same files are also under
  ``/aetherv`` for manual installation.
- ``WindowsProvisioning.iso`` — volume label ``WINPROVISIONING``: ``autounattend.xml``/``unattend.xml`` at the
  root (for sysprepped images), and ``/aetherv`` with the agent, its installer, ``SetupComplete.cmd`` and the
  version file; the version file is also at the root.

Both are ISO 9660 level 3 with Joliet and Rock Ridge. Output is deterministic: every timestamp is the fixed
``source_date_epoch`` (UTC, whatever the local time zone), files are added in a fixed order, so the same inputs
give the same bytes. The ``version`` the ISOs carry is what the host announces in ``hlvmm.meta.version``; it is
also written next to the ISOs (the host's install directory keeps it beside them).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Final

import pycdlib
import pycdlib.dates
import pycdlib.headervd
import pycdlib.pycdlib
import pycdlib.utils
from pycdlib.pycdlibexception import PyCdlibException

REPO: Final = Path(__file__).resolve().parents[2]
AGENTS: Final = REPO / "agents"
DEFAULT_OUTPUT: Final = AGENTS / "dist"
VERSION_FILE: Final = AGENTS / "version"
DEFAULT_SOURCE_DATE_EPOCH: Final = 1_735_689_600  # 2025-01-01T00:00:00Z

LINUX_ISO: Final = "LinuxProvisioning.iso"
WINDOWS_ISO: Final = "WindowsProvisioning.iso"
LINUX_LABEL: Final = "CIDATA"
WINDOWS_LABEL: Final = "WINPROVISIONING"

_CLOCK_LOCK: Final = threading.Lock()
_PYCDLIB_MODULES: Final[tuple[ModuleType, ...]] = (
    pycdlib.pycdlib,
    pycdlib.headervd,
    pycdlib.dates,
    pycdlib.utils,
)


@dataclass(frozen=True, slots=True)
class IsoFile:
    """One file on an ISO: its path (``/dir/name``, as Rock Ridge and Joliet show it), bytes and POSIX mode."""

    path: str
    data: bytes
    mode: int = 0o100644


def read_version(path: Path = VERSION_FILE) -> str:
    """The protocol version the ISOs are stamped with (``agents/version``, whitespace trimmed)."""
    version = path.read_text(encoding="utf-8").strip()
    if not version or any(ch.isspace() for ch in version):
        raise ValueError(f"{path} must hold one version string without blanks")
    return version


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def linux_user_data(agent: bytes, unit: bytes, version: str) -> bytes:
    """The cloud-config that installs and starts the agent (file contents base64-encoded, so never re-quoted)."""
    lines = [
        "#cloud-config",
        "# Aether-V provisioning: install the guest agent and start it (it configures this VM through Hyper-V KVP).",
        "write_files:",
        "  - path: /usr/local/sbin/aetherv-guest-agent",
        "    owner: root:root",
        "    permissions: '0755'",
        "    encoding: b64",
        f"    content: {_b64(agent)}",
        "  - path: /etc/systemd/system/aetherv-guest-agent.service",
        "    owner: root:root",
        "    permissions: '0644'",
        "    encoding: b64",
        f"    content: {_b64(unit)}",
        "  - path: /var/lib/aetherv/version",
        "    owner: root:root",
        "    permissions: '0644'",
        "    encoding: b64",
        f"    content: {_b64((version + chr(10)).encode('ascii'))}",
        "runcmd:",
        "  - [systemctl, daemon-reload]",
        "  - [systemctl, enable, --now, aetherv-guest-agent.service]",
        "",
    ]
    return "\n".join(lines).encode("utf-8")


def linux_meta_data(version: str) -> bytes:
    """NoCloud ``meta-data`` (must not be empty, or cloud-init does not run the seed)."""
    return f"instance-id: aetherv-provisioning-{version}\nlocal-hostname: aetherv-guest\n".encode("ascii")


def linux_files(version: str, agents: Path = AGENTS) -> list[IsoFile]:
    """Everything on the Linux ISO."""
    agent = (agents / "linux" / "aetherv-guest-agent").read_bytes()
    unit = (agents / "linux" / "aetherv-guest-agent.service").read_bytes()
    version_bytes = (version + "\n").encode("ascii")
    return [
        IsoFile("/meta-data", linux_meta_data(version)),
        IsoFile("/user-data", linux_user_data(agent, unit, version)),
        IsoFile("/aetherv/aetherv-guest-agent", agent, 0o100755),
        IsoFile("/aetherv/aetherv-guest-agent.service", unit),
        IsoFile("/aetherv/version", version_bytes),
    ]


def windows_files(version: str, agents: Path = AGENTS) -> list[IsoFile]:
    """Everything on the Windows ISO."""
    source = agents / "windows"
    unattend = (source / "unattend.xml").read_bytes()
    version_bytes = (version + "\r\n").encode("ascii")
    return [
        IsoFile("/autounattend.xml", unattend),
        IsoFile("/unattend.xml", unattend),
        IsoFile("/version", version_bytes),
        IsoFile("/aetherv/AetherVGuestAgent.ps1", (source / "AetherVGuestAgent.ps1").read_bytes()),
        IsoFile("/aetherv/Install-AetherVGuestAgent.ps1", (source / "Install-AetherVGuestAgent.ps1").read_bytes()),
        IsoFile("/aetherv/SetupComplete.cmd", (source / "SetupComplete.cmd").read_bytes()),
        IsoFile("/aetherv/version", version_bytes),
    ]


def iso9660_name(name: str, *, directory: bool = False) -> str:
    """An ISO 9660 level-3 identifier for ``name`` (d-characters, one dot, ``;1`` version for files)."""
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""

    def clean(part: str) -> str:
        return "".join(ch if ch.isascii() and (ch.isalnum() or ch == "_") else "_" for ch in part.upper())

    if directory:
        return clean(name)[:31]
    stem, extension = clean(stem)[:24], clean(extension)[:6]
    return f"{stem}.{extension};1"


@contextlib.contextmanager
def _fixed_clock(epoch: int) -> Iterator[None]:
    """Make pycdlib see ``epoch`` as the current time, in UTC (pycdlib reads the clock and the local zone)."""
    fake = SimpleNamespace(
        time=lambda: float(epoch),
        localtime=lambda seconds=None: time.gmtime(epoch if seconds is None else seconds),
        gmtime=lambda seconds=None: time.gmtime(epoch if seconds is None else seconds),
        strftime=time.strftime,
        strptime=time.strptime,
        struct_time=time.struct_time,
    )
    with _CLOCK_LOCK:
        originals = [(module, module.time) for module in _PYCDLIB_MODULES]
        try:
            for module in _PYCDLIB_MODULES:
                module.time = fake  # type: ignore[attr-defined]
            yield
        finally:
            for module, original in originals:
                module.time = original  # type: ignore[attr-defined]


def build_iso(files: Sequence[IsoFile], label: str, *, source_date_epoch: int = DEFAULT_SOURCE_DATE_EPOCH) -> bytes:
    """The bytes of an ISO 9660 (level 3) + Joliet + Rock Ridge image holding ``files``."""
    iso = pycdlib.PyCdlib()
    with _fixed_clock(source_date_epoch):
        iso.new(
            interchange_level=3,
            vol_ident=label,
            sys_ident="LINUX",
            app_ident_str="AETHER-V TOOLS.ISOBUILD",
            joliet=3,
            rock_ridge="1.09",
        )
        made: set[str] = set()
        for entry in sorted(files, key=lambda item: item.path):
            parts = entry.path.strip("/").split("/")
            for depth in range(1, len(parts)):
                directory = "/" + "/".join(parts[:depth])
                if directory in made:
                    continue
                iso_dir = "/" + "/".join(iso9660_name(part, directory=True) for part in parts[:depth])
                iso.add_directory(iso_dir, rr_name=parts[depth - 1], joliet_path=directory, file_mode=0o040555)
                made.add(directory)
            iso_path = "/" + "/".join(
                [*(iso9660_name(part, directory=True) for part in parts[:-1]), iso9660_name(parts[-1])]
            )
            iso.add_fp(
                io.BytesIO(entry.data),
                len(entry.data),
                iso_path,
                rr_name=parts[-1],
                joliet_path=entry.path,
                file_mode=entry.mode,
            )
        out = io.BytesIO()
        iso.write_fp(out)
    iso.close()
    return out.getvalue()


def embedded_version(data: bytes) -> str | None:
    """The protocol version a provisioning ISO's bytes carry (its ``/aetherv/version``), or None for anything else."""
    iso = pycdlib.PyCdlib()
    try:
        iso.open_fp(io.BytesIO(data))
    except PyCdlibException:
        return None
    try:
        for where in ({"joliet_path": "/aetherv/version"}, {"rr_path": "/aetherv/version"}):
            out = io.BytesIO()
            try:
                iso.get_file_from_iso_fp(out, **where)
            except PyCdlibException:
                continue
            return out.getvalue().decode("utf-8", errors="replace").strip("\ufeff\x00 \t\r\n") or None
        return None
    finally:
        iso.close()


@dataclass(frozen=True, slots=True)
class BuiltIsos:
    """What :func:`build_all` wrote."""

    version: str
    linux: Path
    windows: Path
    version_file: Path
    checksums: Path


def build_all(
    output: Path = DEFAULT_OUTPUT,
    *,
    version: str | None = None,
    source_date_epoch: int = DEFAULT_SOURCE_DATE_EPOCH,
    agents: Path = AGENTS,
) -> BuiltIsos:
    """Build both ISOs into ``output``, stamped with ``version`` (default: ``agents/version``).

    Also writes ``version`` (what the host announces) and ``SHA256SUMS`` next to them.
    """
    version = read_version() if version is None else version.strip()
    if not version or any(ch.isspace() for ch in version):
        raise ValueError("version must be one string without blanks")
    output.mkdir(parents=True, exist_ok=True)
    images = {
        LINUX_ISO: build_iso(linux_files(version, agents), LINUX_LABEL, source_date_epoch=source_date_epoch),
        WINDOWS_ISO: build_iso(windows_files(version, agents), WINDOWS_LABEL, source_date_epoch=source_date_epoch),
    }
    for name, data in images.items():
        (output / name).write_bytes(data)
    version_file = output / "version"
    version_file.write_text(version + "\n", encoding="ascii")
    checksums = output / "SHA256SUMS"
    checksums.write_text(
        "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(images.items())),
        encoding="ascii",
    )
    return BuiltIsos(version, output / LINUX_ISO, output / WINDOWS_ISO, version_file, checksums)
