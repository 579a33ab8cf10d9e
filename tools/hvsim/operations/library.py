r"""The provisioning library: ``upload_status``, ``upload_chunk``, ``install_uploads`` (uploads into the install dir).

Uploads are :class:`~tools.hvsim.models.library.FakeContentFile` objects that keep their bytes: the SHA-256 checks
are computed, and an installed ISO carries the version read from its own ``/aetherv/version``, so a guest booted
from it runs an agent of that version whatever the host's ``version`` file says. The refusal to replace an ISO in a
DVD drive of a VM that is not Off is the script's own rule; beneath it, the model keeps Windows' rule that a file a
running VM holds open cannot be replaced (:func:`~tools.hvsim.models.library.replace_file`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Any

from tools.hvsim.exceptions import HyperVSimError, InvalidParameters, InvalidVmState
from tools.hvsim.models import FakeFile, FakeHost, is_valid_file_name, join_path
from tools.hvsim.models.library import (
    FakeContentFile,
    FileInUseError,
    content_sha256,
    iso_version,
    replace_file,
    vms_holding,
)
from tools.hvsim.operations.params import text

__all__ = ["install_uploads", "upload_chunk", "upload_status"]

DEFAULT_INSTALL_DIR = "C:\\Program Files\\Aether-V"
PROVISIONING_ISOS = ("LinuxProvisioning.iso", "WindowsProvisioning.iso")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
_HEX = re.compile(r"[^0-9a-fA-F]")
_TRIM = "\ufeff\x00 \t\r\n"


def _install_dir(params: dict[str, Any]) -> str:
    return text(params.get("install_dir")) or DEFAULT_INSTALL_DIR


def _library_path(install_dir: str, name: Any) -> str:
    """``Get-AetherLibraryPath``: a plain ``.iso`` file name in the install directory."""
    value = text(name)
    if not is_valid_file_name(value) or not value.lower().endswith(".iso"):
        raise InvalidParameters(f"name '{value}' is not an .iso file name")
    return join_path(install_dir, value)


def _int64(value: Any) -> int | None:
    """PowerShell's ``[int64]$x`` for what JSON carries (None stays None; a double rounds half to even)."""
    if value is None:
        return None
    if isinstance(value, bool | int):
        return int(value)
    if isinstance(value, float):
        return round(value)
    try:
        return int(str(value).strip())
    except ValueError:
        raise HyperVSimError(f'Cannot convert value "{value}" to type "System.Int64".') from None


def _is_sha256(value: Any) -> bool:
    """``Test-AetherDigest``."""
    digest = text(value)
    return len(digest) == 64 and not _HEX.search(digest)


def _truthy(value: Any) -> bool:
    """PowerShell's ``[bool]$x``."""
    if isinstance(value, str | list | dict):
        return len(value) > 0
    return bool(value)


def _base64(value: Any) -> bytes | None:
    """``[Convert]::FromBase64String``: whitespace ignored, anything else invalid (None)."""
    try:
        return base64.b64decode("".join(text(value).split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_version(host: FakeHost, install_dir: str) -> str | None:
    file = host.fs.get(join_path(install_dir, "version"))
    if file is None:
        return None
    return (file.text or "").strip(_TRIM) or None


def upload_status(host: FakeHost, params: dict[str, Any]) -> Any:
    """``upload_status.ps1``."""
    install_dir = _install_dir(params)
    path = _library_path(install_dir, params.get("name"))
    size = _int64(params.get("size"))
    if size is None or size < 0:
        raise InvalidParameters("size must be a number of bytes (0 or more)")
    partial_path = path + ".partial"
    installed = host.fs.get(path)
    partial = host.fs.get(partial_path)
    return {
        "path": path,
        "partial_path": partial_path,
        "installed_bytes": None if installed is None else installed.size,
        "installed_sha256": content_sha256(installed) if installed is not None and installed.size == size else None,
        "partial_bytes": 0 if partial is None else partial.size,
        "partial_sha256": None if partial is None else content_sha256(partial),
    }


def _open_partial(host: FakeHost, install_dir: str, partial_path: str) -> FakeContentFile:
    """``FileStream(..., OpenOrCreate, ReadWrite, FileShare.None)``: the upload, created empty when missing."""
    if not host.fs.is_dir(install_dir):
        host.fs.mkdir(install_dir)
    partial = host.fs.get(partial_path)
    if partial is None:
        created = FakeContentFile(path=partial_path, size=0)
        host.fs.write(created)
        return created
    if not isinstance(partial, FakeContentFile):
        raise HyperVSimError(f"hvsim: '{partial_path}' is a record without bytes; it cannot be appended to")
    return partial


def upload_chunk(host: FakeHost, params: dict[str, Any]) -> Any:
    """``upload_chunk.ps1``."""
    install_dir = _install_dir(params)
    path = _library_path(install_dir, params.get("name"))
    offset = _int64(params.get("offset"))
    size = _int64(params.get("size"))
    restart = _truthy(params.get("restart"))
    data = _base64(params.get("data"))
    problems = []
    if offset is None or offset < 0:
        problems.append("offset must be a number of bytes (0 or more)")
    if size is None or size < 0:
        problems.append("size must be a number of bytes (0 or more)")
    if not data:
        problems.append("data must be the chunk in base64 (not empty)")
    if not _is_sha256(params.get("sha256")):
        problems.append("sha256 must be 64 hex digits")
    if problems:
        raise InvalidParameters("; ".join(problems))
    assert offset is not None
    assert size is not None
    assert data is not None
    if offset + len(data) > size:
        raise InvalidParameters(f"a chunk of {len(data)} bytes at offset {offset} overruns the file's {size} bytes")
    actual = _sha256(data)
    if actual != text(params.get("sha256")).lower():
        raise InvalidParameters(
            f"the chunk at offset {offset} arrived damaged (its SHA-256 is {actual}, not the sender's); "
            "nothing was written"
        )
    partial = _open_partial(host, install_dir, path + ".partial")
    length = partial.size
    if restart and offset <= length:
        partial.truncate(offset)
        length = offset
    if offset > length:
        raise InvalidParameters(
            f"the partial upload holds {length} bytes; a chunk at offset {offset} would leave a gap"
        )
    overlap = min(length - offset, len(data))
    if overlap > 0 and bytes(partial.data[offset : offset + overlap]) != data[:overlap]:
        raise InvalidParameters(
            f"the partial upload holds other bytes at offset {offset} than this chunk; start the upload over (restart)"
        )
    written = 0
    if len(data) > overlap:
        partial.write_at(offset + overlap, data[overlap:])
        written = len(data) - overlap
    return {"partial_bytes": partial.size, "written": written}


def _parse_files(install_dir: str, items: Any, problems: list[str]) -> list[dict[str, Any]]:
    files: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in items if isinstance(items, list) else [items]:
        if item is None:
            continue
        fields = item if isinstance(item, dict) else {}
        name = text(fields.get("name"))
        path = _library_path(install_dir, name)
        if name.lower() in seen:
            problems.append(f"file '{name}' is listed twice")
            continue
        seen.add(name.lower())
        size = _int64(fields.get("size"))
        if size is None or size < 0:
            problems.append(f"size of '{name}' must be a number of bytes")
            size = -1
        if not _is_sha256(fields.get("sha256")):
            problems.append(f"sha256 of '{name}' must be 64 hex digits")
        expected = text(fields.get("sha256")).lower()
        files.append({"name": name, "path": path, "size": size, "sha256": expected, "actual": None, "attached": []})
    return files


def _verify(host: FakeHost, file: dict[str, Any]) -> bool:
    """Step 1 of the script for one file: its state, and whether it is ready (verified or unchanged)."""
    partial_path = file["path"] + ".partial"
    partial = host.fs.get(partial_path)
    file["state"] = "missing"
    short = False
    if partial is not None:
        short = partial.size < file["size"]
        if partial.size == file["size"]:
            file["actual"] = content_sha256(partial)
        if file["actual"] == file["sha256"]:
            file["state"] = "verified"
            return True
        if not short:
            host.fs.remove(partial_path)
    installed = host.fs.get(file["path"])
    if installed is not None and installed.size == file["size"]:
        digest = content_sha256(installed)
        if digest == file["sha256"]:
            file["state"], file["actual"] = "unchanged", digest
            return True
    if partial is not None:
        file["state"] = "incomplete" if short else "mismatch"
    return False


def _installed(partial: FakeFile, path: str) -> FakeContentFile:
    data = bytes(partial.data) if isinstance(partial, FakeContentFile) else b""
    return FakeContentFile(path=path, size=len(data), kind="iso", iso_version=iso_version(data), data=bytearray(data))


def _write_version(host: FakeHost, install_dir: str, version: str) -> bool:
    if _read_version(host, install_dir) == version:
        return False
    path = join_path(install_dir, "version")
    content = (version + "\r\n").encode("ascii")
    staged = FakeContentFile(
        path=path + ".partial", size=0, kind="text", text=version + "\r\n", data=bytearray(content)
    )
    host.fs.write(staged)
    replace_file(host, staged.path, staged.copy_to(path))
    return True


def install_uploads(host: FakeHost, params: dict[str, Any]) -> Any:
    """``install_uploads.ps1``."""
    install_dir = _install_dir(params)
    version = None if params.get("version") is None else text(params.get("version"))
    problems: list[str] = []
    files = _parse_files(install_dir, params.get("files"), problems)
    if not files:
        problems.append("files must name at least one file")
    if version is not None and not _VERSION.match(version):
        problems.append("version must be 1-64 letters, digits and . _ + - (starting with a letter or digit)")
    if version is not None:
        listed = {file["name"].lower() for file in files}
        for iso in PROVISIONING_ISOS:
            if host.fs.is_file(join_path(install_dir, iso)) and iso.lower() not in listed:
                problems.append(
                    f"a version can only be written with every provisioning ISO of the library: {iso} is not among "
                    "the files"
                )
    if problems:
        raise InvalidParameters("; ".join(problems))

    ready = all([_verify(host, file) for file in files])  # every file is verified, even after one is not ready
    to_replace = [file for file in files if file["state"] == "verified"]
    busy: list[str] = []
    if ready and to_replace:
        for file in to_replace:
            for vm in vms_holding(host, file["path"]):
                if vm.state == "Off":
                    file["attached"].append(vm.name)
                else:
                    busy.append(f"{file['name']} is in a DVD drive of {vm.name} ({vm.state})")
    if busy:
        raise InvalidVmState(
            "; ".join(sorted(busy, key=str.lower))
            + ". Eject it (Set-VMDvdDrive -Path $null) or turn those VMs off, then upload again: the verified upload "
            "is kept as <name>.partial and nothing was replaced or announced"
        )

    replaced: list[str] = []
    version_written = False
    if ready:
        for file in to_replace:
            partial_path = file["path"] + ".partial"
            partial = host.fs.get(partial_path)
            assert partial is not None
            try:
                replace_file(host, partial_path, _installed(partial, file["path"]))
            except FileInUseError as exc:
                done = ", ".join(replaced) + " replaced" if replaced else "nothing was replaced"
                raise HyperVSimError(
                    f"could not replace {file['path']}: {exc.message} ({done}; no version written; the verified "
                    "upload is kept, upload again)"
                ) from exc
            file["state"] = "replaced"
            replaced.append(file["name"])
        if version is not None:
            version_written = _write_version(host, install_dir, version)

    report = [
        {
            "name": file["name"],
            "path": file["path"],
            "state": file["state"],
            "sha256": file["actual"],
            "attached_vms": sorted(file["attached"], key=str.lower),
        }
        for file in files
    ]
    return {
        "installed": ready,
        "files": report,
        "version": _read_version(host, install_dir),
        "version_written": version_written,
    }
