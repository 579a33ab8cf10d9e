"""Uploading files to a host's provisioning library over WinRM: chunked, resumable, verified on the host, version last.

:func:`upload_library` sends each file with the library operations of :class:`~functions.hyperv.client.HyperVClient`
and installs them together::

    with open_client(host, settings=winrm) as hyperv:
        report = upload_library(hyperv, [LocalFile.from_path(linux_iso), LocalFile.from_path(windows_iso)],
                                version="2.5.0")

1. **Where each upload stands** (``upload_status``): a file whose installed copy already has the file's SHA-256 is
   not sent. Otherwise the host's ``<name>.partial`` is resumed from its length when its SHA-256 equals that of the
   same prefix of the local file (the *verified length*), and started over (``restart``) when it does not — a
   leftover of another build, or bytes damaged on disk.
2. **Chunks** (``upload_chunk``), each checked against its SHA-256 on the host before it is written; a chunk the
   host already holds is compared, not written twice, so a retried chunk is harmless. A transient failure
   (``HostUnreachable``, ``OperationTimeout``) asks the host again where the upload stands and goes on from there,
   up to ``attempts`` times.
3. **Install** (``install_uploads``): the host hashes every complete upload, replaces the files (one rename each)
   and only then writes ``version``. An upload the host finds damaged is deleted there and sent once more from the
   start. A file in a DVD drive of a VM that is not Off is refused (``InvalidVmState`` naming the VMs) with
   nothing changed; the verified uploads stay, so the next run only installs.

Chunk size. Every chunk is one script run: its bytes travel base64-encoded in the parameters, which travel
base64-encoded in the stdin envelope (``functions.hyperv.runner``), so the envelope is about 16/9 of the chunk plus
the script (about 6 KB). WinRM's ``MaxEnvelopeSizekb`` (500 KiB by default) does not bound it: the transport sends
stdin in pieces below pywinrm's own 150 KiB envelope. What bounds it is the host's bootstrap, which reads the whole
envelope into one string and parses it with ``ConvertFrom-Json`` — whose JavaScriptSerializer refused JSON longer
than 2,097,152 characters up to PowerShell 4.0 — and the work a retry repeats. :data:`DEFAULT_CHUNK_SIZE` (768 KiB)
makes a 1.4 MB envelope: two thirds of that limit, and few enough script runs (one ``powershell.exe`` start each on a
real host) that the per-run cost stays small. :data:`MAX_CHUNK_SIZE` keeps the envelope under the limit.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from functions.hyperv.client import HyperVClient
from functions.hyperv.errors import HyperVError, ProtocolError
from functions.hyperv.library import LibraryFile, LibraryInstall, UploadedState, UploadStatus
from functions.hyperv.runner import build_envelope

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "MAX_CHUNK_SIZE",
    "MAX_STDIN_ENVELOPE",
    "FileUpload",
    "LibraryUpload",
    "LocalFile",
    "chunk_envelope_size",
    "upload_library",
]

DEFAULT_CHUNK_SIZE = 768 * 1024
"""Bytes per chunk (module docstring)."""

MAX_STDIN_ENVELOPE = 2_097_152
"""The longest stdin envelope a chunk may make: ``ConvertFrom-Json``'s old ``MaxJsonLength`` (characters)."""

MAX_CHUNK_SIZE = 1024 * 1024
"""The largest chunk: its envelope (1.87 MB) stays under :data:`MAX_STDIN_ENVELOPE`."""

MIN_CHUNK_SIZE = 4096

_READY = ("verified", "replaced", "unchanged")

ProgressCallback = Callable[[str, int, int], None]
"""``(file name, bytes the host holds, file size)``, called after every chunk."""


def chunk_envelope_size(chunk_size: int) -> int:
    """The bytes of the stdin envelope that carries one chunk of ``chunk_size`` bytes (worst-case parameters)."""
    data = bytes(chunk_size)
    params = {
        "name": "W" * 96 + ".iso",
        "offset": 2**53,
        "size": 2**53,
        "data": base64.b64encode(data).decode("ascii"),
        "sha256": hashlib.sha256(data).hexdigest(),
        "restart": False,
        "install_dir": "C:\\Program Files\\Aether-V",
    }
    return len(build_envelope("upload_chunk", params))


@dataclass(frozen=True)
class LocalFile:
    """A file to upload: its name in the library, where it is here, its length and SHA-256."""

    name: str
    path: Path
    size: int
    sha256: str

    @classmethod
    def from_path(cls, path: Path, *, name: str | None = None) -> LocalFile:
        """The file at ``path`` (hashed now), named ``name`` in the library (default: its file name)."""
        digest = hashlib.sha256()
        size = 0
        with path.open("rb") as stream:
            while block := stream.read(1024 * 1024):
                digest.update(block)
                size += len(block)
        if size == 0:
            raise ValueError(f"{path} is empty")
        return cls(name or path.name, path, size, digest.hexdigest())

    def read(self, offset: int, length: int) -> bytes:
        """``length`` bytes from ``offset`` (fewer at the end)."""
        with self.path.open("rb") as stream:
            stream.seek(offset)
            return stream.read(length)

    def prefix_sha256(self, length: int) -> str:
        """The SHA-256 of the first ``length`` bytes."""
        digest = hashlib.sha256()
        with self.path.open("rb") as stream:
            remaining = length
            while remaining > 0 and (block := stream.read(min(remaining, 1024 * 1024))):
                digest.update(block)
                remaining -= len(block)
        return digest.hexdigest()

    def entry(self) -> LibraryFile:
        """What the host checks on install."""
        return LibraryFile(name=self.name, size=self.size, sha256=self.sha256)


@dataclass
class FileUpload:
    """What happened to one file: where sending began, what was sent, and the host's verdict (``state``)."""

    name: str
    size: int
    sha256: str
    resumed_from: int = 0
    """Bytes of a verified earlier upload the host already held when this run started sending."""
    restarted: bool = False
    """The host's earlier upload did not match this file (or the host found it damaged) and was started over."""
    bytes_sent: int = 0
    chunks: int = 0
    state: UploadedState = "missing"
    host_sha256: str | None = None
    """The SHA-256 the host computed of the file it installed (or found installed)."""
    attached_vms: list[str] = field(default_factory=list)

    @property
    def checksum_ok(self) -> bool:
        """The host holds this file with the expected SHA-256."""
        return self.state in ("replaced", "unchanged") and self.host_sha256 == self.sha256


@dataclass
class LibraryUpload:
    """The outcome on one host: every file, the version the host announces afterwards, time and retries."""

    host: str | None
    files: list[FileUpload]
    installed: bool
    version: str | None
    version_written: bool
    seconds: float
    retries: int = 0

    @property
    def bytes_sent(self) -> int:
        """Bytes of file content sent (not counting encoding)."""
        return sum(item.bytes_sent for item in self.files)

    @property
    def chunks(self) -> int:
        """Chunks sent."""
        return sum(item.chunks for item in self.files)

    @property
    def checksums_ok(self) -> bool:
        """Every file is installed with its SHA-256, as the host computed it."""
        return self.installed and all(item.checksum_ok for item in self.files)


def _resume_point(status: UploadStatus, file: LocalFile) -> tuple[int, bool]:
    """Where to go on from: the verified length of the host's upload, or 0 with ``restart`` when it does not match."""
    held = status.partial_bytes
    if held == 0:
        return 0, False
    if held <= file.size and status.partial_sha256 == file.prefix_sha256(held):
        return held, False
    return 0, True


class _Sender:
    def __init__(
        self,
        client: HyperVClient,
        *,
        install_dir: str | None,
        chunk_size: int,
        attempts: int,
        retry_delay: float,
        sleep: Callable[[float], None],
        on_chunk: ProgressCallback | None,
    ) -> None:
        self.client = client
        self.install_dir = install_dir
        self.chunk_size = chunk_size
        self.attempts = attempts
        self.retry_delay = retry_delay
        self.sleep = sleep
        self.on_chunk = on_chunk
        self.retries = 0

    def send(self, file: LocalFile, report: FileUpload) -> None:
        """Bring the host's upload of ``file`` to its full length, asking where it stands after a transient error."""
        failures = 0
        first = True
        while True:
            try:
                self._send_from_status(file, report, first=first)
                return
            except HyperVError as exc:
                failures += 1
                if not exc.transient or failures >= self.attempts:
                    raise
                self.retries += 1
                first = False
                self.sleep(self.retry_delay * failures)

    def _send_from_status(self, file: LocalFile, report: FileUpload, *, first: bool) -> None:
        status = self.client.upload_status(file.name, file.size, install_dir=self.install_dir)
        if status.installed_sha256 == file.sha256:
            return
        offset, restart = _resume_point(status, file)
        if first:
            report.resumed_from = offset
        report.restarted = report.restarted or restart
        while offset < file.size:
            data = file.read(offset, self.chunk_size)
            written = self.client.upload_chunk(
                file.name, offset, data, size=file.size, restart=restart, install_dir=self.install_dir
            )
            restart = False
            offset += len(data)
            if written.partial_bytes != offset:
                raise ProtocolError(
                    f"upload of {file.name}: the host holds {written.partial_bytes} bytes after a chunk ending at "
                    f"{offset}",
                    host=self.client.host,
                )
            report.bytes_sent += len(data)
            report.chunks += 1
            if self.on_chunk is not None:
                self.on_chunk(file.name, offset, file.size)


def _record(reports: dict[str, FileUpload], result: LibraryInstall) -> None:
    for report in reports.values():
        entry = result.file(report.name)
        if entry is not None:
            report.state = entry.state
            report.host_sha256 = entry.sha256
            report.attached_vms = list(entry.attached_vms)


def upload_library(
    client: HyperVClient,
    files: Sequence[LocalFile],
    *,
    version: str | None = None,
    install_dir: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    attempts: int = 3,
    retry_delay: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_chunk: ProgressCallback | None = None,
) -> LibraryUpload:
    """Upload ``files`` to the host's provisioning library, install them, then write ``version`` (module docstring).

    ``attempts`` bounds the tries per file on transient errors (``retry_delay`` × the failures so far between
    them). Raises the host's errors as they are: ``InvalidVmState`` when a file to replace is in use by a VM,
    ``InvalidParameters`` for a bad name or version, ``HostUnreachable`` when the host stays away. The result says
    per file what was sent and what the host verified (``checksums_ok``).
    """
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk_size must be between {MIN_CHUNK_SIZE} and {MAX_CHUNK_SIZE} bytes")
    if not files:
        raise ValueError("nothing to upload")
    started = clock()
    sender = _Sender(
        client,
        install_dir=install_dir,
        chunk_size=chunk_size,
        attempts=attempts,
        retry_delay=retry_delay,
        sleep=sleep,
        on_chunk=on_chunk,
    )
    reports = {file.name: FileUpload(file.name, file.size, file.sha256) for file in files}
    for file in files:
        sender.send(file, reports[file.name])
    entries = [file.entry() for file in files]
    result = client.install_uploads(entries, version=version, install_dir=install_dir)
    again = [file for file in files if (entry := result.file(file.name)) is None or entry.state not in _READY]
    if again:  # damaged on the host (deleted there) or changed meanwhile: once more from where the host stands
        for file in again:
            reports[file.name].restarted = True
            sender.send(file, reports[file.name])
        result = client.install_uploads(entries, version=version, install_dir=install_dir)
    _record(reports, result)
    return LibraryUpload(
        host=client.host,
        files=[reports[file.name] for file in files],
        installed=result.installed,
        version=result.version,
        version_written=result.version_written,
        seconds=clock() - started,
        retries=sender.retries,
    )
