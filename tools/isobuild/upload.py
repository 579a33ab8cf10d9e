r"""``python -m tools.isobuild upload (--host NAME … | --all)``: put the built provisioning ISOs on Hyper-V hosts.

Reads ``LinuxProvisioning.iso``, ``WindowsProvisioning.iso``, ``version`` and ``SHA256SUMS`` from the build's
output (``agents/dist``; ``make isos``), checks them against each other, then uploads both ISOs to each host's
install directory over WinRM with :func:`functions.hyperv.uploader.upload_library`: in chunks, resumable, each
file's SHA-256 verified on the host before it replaces the old one, and ``version`` written last.

Settings are the app's (:func:`functions.settings.load_host_access`): the hosts from ``AETHERV_HOSTS``, addresses
from ``AETHERV_HOST_ADDRESSES``, credentials and TLS from ``AETHERV_WINRM_*``, taken from the environment over
``local.settings.json``'s ``Values`` (as Core Tools and the devhost do). Nothing secret is printed.

Prints per host what it did (bytes sent, chunks, seconds, whether the host's checksums matched). Exit status: 0
when every host holds the ISOs and announces their version, 1 when a host failed, 2 for a usage, settings or build
problem (nothing was sent).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from functions.hyperv.connector import HostConnector
from functions.hyperv.errors import HyperVError
from functions.hyperv.uploader import DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE, LibraryUpload, LocalFile, upload_library
from functions.settings import SettingsError, load_host_access
from tools.isobuild.builder import DEFAULT_OUTPUT, LINUX_ISO, REPO, WINDOWS_ISO, embedded_version, read_version

__all__ = ["LOCAL_SETTINGS", "DistError", "describe", "load_dist", "main", "settings_values"]

LOCAL_SETTINGS = REPO / "local.settings.json"


class DistError(Exception):
    """The build's output is missing or inconsistent."""


def settings_values(environ: Mapping[str, str], local_settings: Path | None) -> dict[str, str]:
    """``local.settings.json`` ``Values`` (when the file exists) overlaid by ``environ``."""
    values: dict[str, str] = {}
    if local_settings is not None and local_settings.is_file():
        document = json.loads(local_settings.read_text(encoding="utf-8-sig"))
        for key, value in (document.get("Values") or {}).items():
            values[str(key)] = "" if value is None else str(value)
    values.update(environ)
    return values


def load_dist(dist: Path) -> tuple[str, list[LocalFile]]:
    """The version and both ISOs of a build, checked: ``SHA256SUMS`` holds, and each ISO carries the version."""
    paths = [dist / LINUX_ISO, dist / WINDOWS_ISO, dist / "version", dist / "SHA256SUMS"]
    missing = [path.name for path in paths if not path.is_file()]
    if missing:
        raise DistError(f"{dist} lacks {', '.join(missing)}: build the ISOs first (make isos)")
    try:
        version = read_version(dist / "version")
    except ValueError as exc:
        raise DistError(str(exc)) from None
    sums: dict[str, str] = {}
    for line in (dist / "SHA256SUMS").read_text(encoding="ascii").splitlines():
        digest, _, name = line.partition("  ")
        if name:
            sums[name.strip()] = digest.strip().lower()
    files = [LocalFile.from_path(dist / LINUX_ISO), LocalFile.from_path(dist / WINDOWS_ISO)]
    for file in files:
        if sums.get(file.name) != file.sha256:
            raise DistError(f"{dist / file.name} does not match SHA256SUMS: rebuild the ISOs (make isos)")
        carried = embedded_version(file.path.read_bytes())
        if carried != version:
            raise DistError(
                f"{dist / file.name} carries version {carried}, the version file says {version}: rebuild the ISOs "
                "(make isos)"
            )
    return version, files


def _short(digest: str | None) -> str:
    return "none" if digest is None else digest[:12] + "…"


def describe(report: LibraryUpload) -> list[str]:
    """What an upload did on one host, as the command prints it."""
    rate = report.bytes_sent / report.seconds / 1e6 if report.seconds > 0 else 0.0
    verdict = "checksums ok" if report.checksums_ok else "CHECKSUMS NOT OK"
    announce = f"version {report.version} written" if report.version_written else f"announces {report.version}"
    lines = [
        f"{report.host}: sent {report.bytes_sent} bytes in {report.chunks} chunk(s), {report.seconds:.2f} s "
        f"({rate:.2f} MB/s), {report.retries} retry(ies); {verdict}; {announce}"
    ]
    for item in report.files:
        if item.bytes_sent == 0 and item.state == "unchanged":
            sent = "already installed"
        else:
            sent = f"{item.bytes_sent} bytes sent in {item.chunks} chunk(s)"
            if item.resumed_from:
                sent += f", resumed at byte {item.resumed_from}"
            if item.restarted:
                sent += ", started over (the host's earlier upload did not match)"
        check = "ok" if item.checksum_ok else "NOT OK"
        line = f"  {item.name} ({item.size} bytes): {sent}; sha256 on the host {_short(item.host_sha256)} {check}"
        line += f"; {item.state}"
        if item.attached_vms:
            line += f"; in the DVD drive of VMs that are off (they boot the new ISO): {', '.join(item.attached_vms)}"
        lines.append(line)
    return lines


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.isobuild upload",
        description="Upload the built provisioning ISOs and their version to Hyper-V hosts' install directories.",
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--host", action="append", metavar="NAME", help="a host of AETHERV_HOSTS (repeatable)")
    which.add_argument("--all", action="store_true", help="every host of AETHERV_HOSTS")
    parser.add_argument("--dist", type=Path, default=DEFAULT_OUTPUT, help="the build's output (agents/dist)")
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=DEFAULT_CHUNK_SIZE // 1024,
        metavar="KIB",
        help=f"KiB per chunk (default {DEFAULT_CHUNK_SIZE // 1024}, at most {MAX_CHUNK_SIZE // 1024})",
    )
    parser.add_argument("--install-dir", help="the hosts' install directory (default C:\\Program Files\\Aether-V)")
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    local_settings: Path | None = LOCAL_SETTINGS,
    out: TextIO | None = None,
) -> int:
    """Run the command; returns the exit status."""
    stdout = out if out is not None else sys.stdout
    args = _parser().parse_args(argv)
    chunk_size = args.chunk_size * 1024
    if not 4 <= args.chunk_size <= MAX_CHUNK_SIZE // 1024:
        print(f"upload: --chunk-size must be between 4 and {MAX_CHUNK_SIZE // 1024} KiB", file=sys.stderr)
        return 2
    try:
        access = load_host_access(settings_values(os.environ if environ is None else environ, local_settings))
    except SettingsError as exc:
        print(f"upload: {exc}", file=sys.stderr)
        return 2
    connector = HostConnector(access.winrm, access.hosts, access.host_addresses)
    names = list(connector.names) if args.all else list(dict.fromkeys(args.host))
    unknown = [name for name in names if not connector.is_configured(name)]
    if unknown or not names:
        problem = f"not in AETHERV_HOSTS: {', '.join(unknown)}" if unknown else "AETHERV_HOSTS lists no hosts"
        print(f"upload: {problem}", file=sys.stderr)
        return 2
    try:
        version, files = load_dist(args.dist)
    except (DistError, OSError) as exc:
        print(f"upload: {exc}", file=sys.stderr)
        return 2
    print(f"provisioning ISOs version {version} from {args.dist}:", file=stdout)
    for file in files:
        print(f"  {file.name} ({file.size} bytes) sha256 {file.sha256}", file=stdout)
    failed = 0
    for name in names:
        try:
            with connector.open(name) as client:
                report = upload_library(
                    client, files, version=version, install_dir=args.install_dir, chunk_size=chunk_size
                )
        except HyperVError as exc:
            failed += 1
            print(f"{connector.endpoint(name).name}: FAILED ({exc.category}): {exc.message}", file=stdout)
            continue
        for line in describe(report):
            print(line, file=stdout)
        if not (report.checksums_ok and report.version == version):
            failed += 1
        stdout.flush()
    if failed:
        print(f"upload: {failed} of {len(names)} host(s) failed; run the command again to resume", file=stdout)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
