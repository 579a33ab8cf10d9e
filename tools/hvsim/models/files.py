r"""Files and volumes: the fixed volumes and Cluster Shared Volumes of a host, the files on them, and path rules.

Files are records (path, size, virtual size, a few metadata fields), not bytes; a VHDX "clone" copies the record,
and a dynamic VHDX's file size never grows as the guest writes. Paths follow Windows rules: case-insensitive,
``\`` separators, the longest mount point wins (a CSV under ``C:\ClusterStorage`` is its own volume). The helpers
mirror the .NET and PowerShell calls the scripts use (``[System.IO.Path]::Combine``, ``Test-Path``, ``Remove-Item``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from tools.hvsim.exceptions import FileInUse, HyperVSimError, InvalidParameters

__all__ = [
    "FakeFile",
    "FakeVolume",
    "FileSystem",
    "is_valid_file_name",
    "join_path",
    "leaf_name",
    "parent_path",
]

_INVALID_NAME_CHARS = set('"<>|:*?\\/') | {chr(code) for code in range(32)}
_RESERVED_NAME = re.compile(r"^(CON|PRN|AUX|NUL|COM[1-9]|LPT[1-9])(\..*)?$", re.IGNORECASE)


def is_valid_file_name(name: str | None) -> bool:
    """What the scripts' ``Test-AetherFileName`` accepts: a Windows file name of at most 100 characters."""
    if name is None or not name.strip() or len(name) > 100:
        return False
    if any(char in _INVALID_NAME_CHARS for char in name):
        return False
    if name.endswith((".", " ")) or name.startswith(" "):
        return False
    return not _RESERVED_NAME.match(name)


def join_path(*parts: str) -> str:
    r"""``[System.IO.Path]::Combine`` for the parts the scripts combine (no rooted parts after the first)."""
    result = parts[0]
    for part in parts[1:]:
        result = result if result.endswith("\\") else result + "\\"
        result += part
    return result


def parent_path(path: str) -> str:
    r"""``[System.IO.Path]::GetDirectoryName`` (``C:\a\b`` → ``C:\a``, ``C:\a`` → ``C:\``)."""
    head, _, _ = path.rstrip("\\").rpartition("\\")
    return head + "\\" if head.endswith(":") else head


def leaf_name(path: str) -> str:
    """``[System.IO.Path]::GetFileName``."""
    return path.rstrip("\\").rpartition("\\")[2]


def _key(path: str) -> str:
    return path.rstrip("\\").lower()


@dataclass
class FakeFile:
    """A file on a simulated volume: its size, and for VHDX/ISO files what the scripts read from them."""

    path: str
    size: int
    kind: str = "other"  # vhdx | iso | text | other
    virtual_size: int | None = None
    vhd_type: str | None = None  # Dynamic | Fixed | Differencing
    text: str | None = None
    os_family: str | None = None  # for images and their clones: the installed OS
    os_name: str | None = None
    iso_version: str | None = None  # for provisioning ISOs: the protocol version they carry
    parent: str | None = None  # for a differencing disk (a checkpoint's AVHDX): its parent's path

    def copy_to(self, path: str) -> FakeFile:
        """A copy of this file at ``path`` (same size and metadata)."""
        return FakeFile(
            path=path,
            size=self.size,
            kind=self.kind,
            virtual_size=self.virtual_size,
            vhd_type=self.vhd_type,
            text=self.text,
            os_family=self.os_family,
            os_name=self.os_name,
            iso_version=self.iso_version,
            parent=self.parent,
        )


@dataclass
class FakeVolume:
    r"""A fixed volume (``C:\``) or a Cluster Shared Volume mount point (``C:\ClusterStorage\Volume1\``).

    The volume holds the files and folders below its path (not those of volumes mounted deeper).
    """

    path: str
    capacity: int
    label: str = ""
    base_used: int = 0
    cluster_shared: bool = False
    files: dict[str, FakeFile] = field(default_factory=dict)
    dirs: dict[str, str] = field(default_factory=dict)

    @property
    def used(self) -> int:
        """Bytes in use: the base occupancy plus every file."""
        return self.base_used + sum(file.size for file in self.files.values())

    @property
    def free(self) -> int:
        """Free bytes."""
        return max(self.capacity - self.used, 0)


class FileSystem:
    """A host's view of its volumes: path operations routed to the volume with the longest matching path.

    A file a running process holds open (:meth:`hold`; a background copy's destination) cannot be deleted, moved or
    replaced until it is released, as on Windows: the call raises :class:`~tools.hvsim.exceptions.FileInUse` with
    the ``System.IO.IOException`` text.
    """

    def __init__(self, volumes: Iterable[FakeVolume]) -> None:
        self.volumes: list[FakeVolume] = list(volumes)
        self._held: set[str] = set()

    def hold(self, path: str) -> None:
        """A process opens ``path`` without sharing delete (it stays until :meth:`release`)."""
        self._held.add(_key(path))

    def release(self, path: str) -> None:
        """The process holding ``path`` closed it (or ended)."""
        self._held.discard(_key(path))

    def is_held(self, path: str) -> bool:
        """Whether a process holds ``path`` open."""
        return _key(path) in self._held

    def _not_held(self, *paths: str) -> None:
        for path in paths:
            if _key(path) in self._held:
                raise FileInUse(
                    f"The process cannot access the file '{path}' because it is being used by another process."
                )

    def volume_for(self, path: str) -> FakeVolume | None:
        """The volume that holds ``path`` (longest prefix), or None."""
        probe = path.rstrip("\\").lower() + "\\"
        best: FakeVolume | None = None
        for volume in self.volumes:
            if probe.startswith(volume.path.lower()) and (best is None or len(volume.path) > len(best.path)):
                best = volume
        return best

    def _volume(self, path: str) -> FakeVolume:
        volume = self.volume_for(path)
        if volume is None:
            raise InvalidParameters(f"Cannot find drive for path '{path}'.")
        return volume

    def is_file(self, path: str) -> bool:
        """``Test-Path -PathType Leaf``."""
        volume = self.volume_for(path)
        return volume is not None and _key(path) in volume.files

    def is_dir(self, path: str) -> bool:
        """``Test-Path -PathType Container`` (a volume root is a folder)."""
        volume = self.volume_for(path)
        if volume is None:
            return False
        return _key(path) in volume.dirs or _key(path) == _key(volume.path)

    def exists(self, path: str) -> bool:
        """``Test-Path``."""
        return self.is_file(path) or self.is_dir(path)

    def get(self, path: str) -> FakeFile | None:
        """The file at ``path``."""
        volume = self.volume_for(path)
        return None if volume is None else volume.files.get(_key(path))

    def mkdir(self, path: str) -> None:
        """``[System.IO.Directory]::CreateDirectory`` (parents too)."""
        volume = self._volume(path)
        current = path.rstrip("\\")
        while _key(current) != _key(volume.path) and len(current) > 3:
            volume.dirs.setdefault(_key(current), current)
            current = parent_path(current)

    def write(self, file: FakeFile) -> FakeFile:
        """Create or replace a file (its folder must exist)."""
        volume = self._volume(file.path)
        self._not_held(file.path)
        folder = parent_path(file.path)
        if not self.is_dir(folder):
            raise InvalidParameters(f"Could not find a part of the path '{file.path}'.")
        volume.files[_key(file.path)] = file
        return file

    def remove(self, path: str) -> None:
        """``Remove-Item`` of a file (missing is ignored)."""
        self._not_held(path)
        volume = self.volume_for(path)
        if volume is not None:
            volume.files.pop(_key(path), None)

    def move(self, source: str, target: str) -> None:
        """``Move-Item`` of a file (refused onto an existing file, as without ``-Force``)."""
        self._not_held(source, target)
        if self.get(target) is not None:
            raise HyperVSimError("Cannot create a file when that file already exists.")  # an unhandled IOException
        file = self.get(source)
        if file is None:
            raise InvalidParameters(f"Cannot find path '{source}' because it does not exist.")
        self.remove(source)
        self.write(file.copy_to(target))

    def list_dir(self, folder: str) -> tuple[list[str], list[FakeFile]]:
        """Immediate sub-folders (paths) and files of ``folder``, sorted by name."""
        prefix = _key(folder) + "\\"
        dirs: list[str] = []
        files: list[FakeFile] = []
        for volume in self.volumes:
            for key, path in volume.dirs.items():
                if key.startswith(prefix) and "\\" not in key[len(prefix) :]:
                    dirs.append(path)
            for key, file in volume.files.items():
                if key.startswith(prefix) and "\\" not in key[len(prefix) :]:
                    files.append(file)
            if _key(volume.path).startswith(prefix) and "\\" not in _key(volume.path)[len(prefix) :]:
                dirs.append(volume.path.rstrip("\\"))
        return sorted(set(dirs), key=str.lower), sorted(files, key=lambda file: file.path.lower())

    def walk_files(self, folder: str) -> list[FakeFile]:
        """Every file below ``folder`` (``Get-ChildItem -Recurse -File``)."""
        prefix = _key(folder) + "\\"
        return sorted(
            (file for volume in self.volumes for key, file in volume.files.items() if key.startswith(prefix)),
            key=lambda file: file.path.lower(),
        )

    def remove_tree(self, folder: str) -> None:
        """``Remove-Item -Recurse`` of a folder."""
        prefix = _key(folder) + "\\"
        self._not_held(*(path for path in self._held if path.startswith(prefix)))
        for volume in self.volumes:
            for key in [key for key in volume.files if key.startswith(prefix)]:
                del volume.files[key]
            for key in [key for key in volume.dirs if key.startswith(prefix) or key == _key(folder)]:
                del volume.dirs[key]
