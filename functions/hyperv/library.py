r"""The provisioning library of a host (its install directory): inputs and results of the upload operations.

The install directory (``C:\Program Files\Aether-V`` by default) holds ``LinuxProvisioning.iso``,
``WindowsProvisioning.iso`` and ``version``, the protocol version the host announces to guests
(``list_isos``/``create_vm``). Files reach it in chunks (``upload_status``, ``upload_chunk``) into
``<name>.partial`` beside the file, then ``install_uploads`` verifies each upload's SHA-256 on the host, replaces
the files in one rename each and writes ``version`` last. :mod:`functions.hyperv.uploader` drives the whole upload.

Same conventions as :mod:`functions.hyperv.models`: frozen pydantic models; results ignore unknown fields, inputs
forbid them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ChunkWritten", "InstalledFile", "LibraryFile", "LibraryInstall", "UploadStatus", "UploadedState"]

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
"""A SHA-256 digest in lower-case hex."""

UploadedState = Literal["replaced", "unchanged", "verified", "incomplete", "mismatch", "missing"]
"""What ``install_uploads`` found or did for one file:

- ``replaced``: the verified upload replaced the file (or became it);
- ``unchanged``: the installed file already had the expected SHA-256 (no upload needed);
- ``verified``: the upload is complete and correct but was not installed, because another file was not ready;
- ``incomplete``: the upload is shorter than the file (kept, so the upload can resume);
- ``mismatch``: the upload was complete but its SHA-256 was another (the host deleted it: upload it again);
- ``missing``: neither an upload nor a matching installed file.
"""


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class _Input(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class UploadStatus(_Result):
    """Where an upload stands on the host (``upload_status``).

    ``installed_sha256`` is only computed when the installed file has the expected length; ``partial_bytes`` is 0
    and ``partial_sha256`` None without an upload.
    """

    path: str
    partial_path: str
    installed_bytes: int | None = None
    installed_sha256: str | None = None
    partial_bytes: int = 0
    partial_sha256: str | None = None


class ChunkWritten(_Result):
    """Outcome of ``upload_chunk``: the upload's length afterwards and how many of the chunk's bytes were new."""

    partial_bytes: int
    written: int


class LibraryFile(_Input):
    """A file to install: its name in the library, its length and its SHA-256 (what the host checks)."""

    name: str = Field(min_length=5, max_length=100, pattern=r"(?i)^[^\\/:*?\"<>|]+\.iso$")
    size: int = Field(ge=0)
    sha256: Sha256


class InstalledFile(_Result):
    """One file of an ``install_uploads`` call: what was found or done (:data:`UploadedState`).

    ``sha256`` is what the host computed (None when it computed nothing); ``attached_vms`` names the VMs that are
    Off and hold the file in a DVD drive (they boot the new file next time).
    """

    name: str
    path: str
    state: UploadedState
    sha256: str | None = None
    attached_vms: list[str] = Field(default_factory=list)


class LibraryInstall(_Result):
    """Outcome of ``install_uploads``: ``installed`` when every file is in place; the version file's content after."""

    installed: bool
    files: list[InstalledFile] = Field(default_factory=list)
    version: str | None = None
    version_written: bool = False

    def file(self, name: str) -> InstalledFile | None:
        """The entry for ``name`` (case-insensitive), if any."""
        return next((item for item in self.files if item.name.lower() == name.lower()), None)
