"""DVDs and ISOs: the installed provisioning ISOs (``list_isos``) and ejecting them from a VM (``eject_iso``)."""

from __future__ import annotations

from typing import Any

from tools.hvsim.models import FakeHost, join_path
from tools.hvsim.models.dvds import is_provisioning_iso
from tools.hvsim.operations.params import gb, text, vm_param

__all__ = ["eject_iso", "list_isos"]


def list_isos(host: FakeHost, params: dict[str, Any]) -> Any:
    """``list_isos.ps1``."""
    install_dir = text(params.get("install_dir")) or "C:\\Program Files\\Aether-V"
    version_file = host.fs.get(join_path(install_dir, "version"))
    version = None
    if version_file is not None:
        version = (version_file.text or "").strip("\ufeff\x00 \t\r\n") or None
    isos = []
    for family, name in (("windows", "WindowsProvisioning.iso"), ("linux", "LinuxProvisioning.iso")):
        file = host.fs.get(join_path(install_dir, name))
        if file is not None:
            isos.append({"os_family": family, "path": file.path, "size_gb": gb(file.size)})
    return {"install_dir": install_dir, "version": version, "isos": isos}


def eject_iso(host: FakeHost, params: dict[str, Any]) -> Any:
    """``eject_iso.ps1``."""
    vm = vm_param(host, params.get("vm_id"))
    folder = vm.folder.rstrip("\\")
    removed = 0
    for dvd in list(vm.dvds):
        if not dvd.path or is_provisioning_iso(dvd.path):
            vm.dvds.remove(dvd)
            removed += 1
    deleted: list[str] = []
    if folder and host.fs.is_dir(folder):
        _, files = host.fs.list_dir(folder)
        for file in files:
            if is_provisioning_iso(file.path):
                host.fs.remove(file.path)
                deleted.append(file.path)
    return {"removed_drives": removed, "deleted_files": deleted}
