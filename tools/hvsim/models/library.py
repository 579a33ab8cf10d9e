r"""The provisioning library's files as bytes: uploads, their SHA-256, the version an ISO carries, ISOs in use.

Other files of the simulator are records; a file uploaded to a host (``upload_chunk`` into ``<name>.partial``, then
``install_uploads``) is a :class:`FakeContentFile` that keeps its bytes, so the host's SHA-256 checks are real and
the provisioning version a guest sees is read from the ISO itself (:func:`iso_version`: ``/aetherv/version``, which
both provisioning ISOs carry), never taken on trust from the host's ``version`` file.

Windows' rule for a file in use: a running VM's worker process holds each ISO in its DVD drives open (read, without
sharing delete), so the file cannot be deleted, renamed or replaced while the VM is in one of
:data:`~tools.hvsim.models.vms.ACTIVE_STATES` ("The process cannot access the file … because it is being used by
another process"); an Off or Saved VM has no worker process and holds nothing (:func:`vms_holding_open`).
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field

from tools.hvsim.exceptions import HyperVSimError
from tools.hvsim.models.files import FakeFile
from tools.hvsim.models.hosts import FakeHost
from tools.hvsim.models.vms import ACTIVE_STATES, FakeVm
from tools.isobuild.builder import embedded_version

__all__ = [
    "FakeContentFile",
    "FileInUseError",
    "content_sha256",
    "iso_version",
    "replace_file",
    "vms_holding",
    "vms_holding_open",
]

_writes = itertools.count(1)


@dataclass
class FakeContentFile(FakeFile):
    """A file whose bytes the simulator keeps; ``size`` always equals ``len(data)``.

    ``written`` orders writes across the simulator (a larger number was written later).
    """

    data: bytearray = field(default_factory=bytearray)
    written: int = 0

    def __post_init__(self) -> None:
        self.size = len(self.data)
        self.written = next(_writes)

    def write_at(self, offset: int, chunk: bytes) -> None:
        """Write ``chunk`` at ``offset`` (at most the current length: no gaps)."""
        if offset > len(self.data):
            raise ValueError("a write past the end would leave a gap")
        self.data[offset : offset + len(chunk)] = chunk
        self.size = len(self.data)
        self.written = next(_writes)

    def truncate(self, length: int) -> None:
        """``FileStream.SetLength`` to a shorter length."""
        del self.data[length:]
        self.size = len(self.data)
        self.written = next(_writes)

    def copy_to(self, path: str) -> FakeContentFile:
        """A copy at ``path``: same bytes and metadata (a copy made now)."""
        return FakeContentFile(
            path=path,
            size=self.size,
            kind=self.kind,
            text=self.text,
            iso_version=self.iso_version,
            data=bytearray(self.data),
        )


class FileInUseError(HyperVSimError):
    """A file a process holds open: Windows refuses to delete, rename or replace it (an unhandled IOException)."""


def content_sha256(file: FakeFile) -> str:
    """The SHA-256 of ``file``'s content: of its bytes, or for a record a stand-in derived from its metadata.

    A record (seeded ISOs, cloned disks) has no bytes; its stand-in digest is stable for the record and its copies
    and never equals the digest of real bytes.
    """
    if isinstance(file, FakeContentFile):
        return hashlib.sha256(file.data).hexdigest()
    record = f"hvsim-record\0{file.kind}\0{file.size}\0{file.iso_version}\0{file.text}\0{file.os_name}"
    return hashlib.sha256(record.encode("utf-8")).hexdigest()


def iso_version(data: bytes) -> str | None:
    """The provisioning version an ISO's bytes carry (``/aetherv/version``, as built), or None for anything else."""
    return embedded_version(data)


def _same_path(left: str, right: str) -> bool:
    return left.rstrip("\\").lower() == right.rstrip("\\").lower()


def vms_holding(host: FakeHost, path: str) -> list[FakeVm]:
    """The VMs with ``path`` in one of their DVD drives, by name."""
    holders = [vm for vm in host.vms.values() if any(dvd.path and _same_path(dvd.path, path) for dvd in vm.dvds)]
    return sorted(holders, key=lambda vm: vm.name.lower())


def vms_holding_open(host: FakeHost, path: str) -> list[FakeVm]:
    """The VMs whose worker process holds ``path`` open: a DVD drive holds it and the VM is active (module doc)."""
    return [vm for vm in vms_holding(host, path) if vm.state in ACTIVE_STATES]


def replace_file(host: FakeHost, source: str, file: FakeFile) -> None:
    """``[System.IO.File]::Replace`` (or ``Move`` without a target): ``source`` becomes ``file.path``, as ``file``.

    ``file`` carries the source's content under the target's path. Refused as on Windows while a running VM holds
    either file open; the source is gone afterwards.
    """
    for path in (source, file.path):
        if vms_holding_open(host, path):
            raise FileInUseError(
                f"The process cannot access the file '{path}' because it is being used by another process."
            )
    host.fs.remove(source)
    host.fs.remove(file.path)
    host.fs.write(file)
