"""Disks: the golden-image library (``list_images``) and the VM's OS disk (``prepare_disk``).

A clone copies the file record instantly (no copy time) through a ``.partial`` file, as the script does; a resize
changes the recorded virtual size; dynamic VHDX files never grow.
"""

from __future__ import annotations

from typing import Any

from tools.hvsim.exceptions import ImageNotFound, InsufficientResources, InvalidParameters, VmAlreadyExists
from tools.hvsim.models import GB, MB, FakeFile, FakeHost, is_valid_file_name, join_path, leaf_name
from tools.hvsim.operations.params import MARKER, best_root, gb, list_param, read_marker, text

__all__ = ["list_images", "prepare_disk"]

_WINDOWS_IMAGE = ("windows", "microsoft windows")
_LINUX_IMAGE = (
    "ubuntu",
    "red hat enterprise linux",
    "rhel",
    "centos",
    "rocky linux",
    "almalinux",
    "oracle linux",
    "debian",
    "suse",
    "opensuse",
    "fedora",
)


def _os_family(image_name: str) -> str | None:
    lowered = image_name.lower()
    if lowered.startswith(_WINDOWS_IMAGE):
        return "windows"
    if lowered.startswith(_LINUX_IMAGE):
        return "linux"
    return None


def list_images(host: FakeHost, params: dict[str, Any]) -> Any:
    """``list_images.ps1``."""
    images: list[dict[str, Any]] = []
    seen: set[str] = set()
    for folder in host.image_folders(list_param(params.get("image_paths"))):
        if not host.fs.is_dir(folder):
            continue
        _, files = host.fs.list_dir(folder)
        for file in files:
            if not file.path.lower().endswith(".vhdx") or file.path.lower() in seen:
                continue
            seen.add(file.path.lower())
            name = leaf_name(file.path)[: -len(".vhdx")]
            images.append({"name": name, "path": file.path, "size_gb": gb(file.size), "os_family": _os_family(name)})
    return {"images": images}


def prepare_disk(host: FakeHost, params: dict[str, Any]) -> Any:
    """``prepare_disk.ps1``: clone (and grow) or create the OS disk in the job's own VM folder."""
    vm_name = text(params.get("vm_name"))
    job_id = text(params.get("job_id"))
    image_name = text(params["image_name"]) if params.get("image_name") else None
    disk_gb = int(params["disk_gb"]) if params.get("disk_gb") is not None else None

    problems = []
    if not is_valid_file_name(vm_name):
        problems.append(f"vm_name '{vm_name}' cannot be used as a folder name")
    if not job_id:
        problems.append("job_id is required")
    if image_name is not None and not is_valid_file_name(image_name):
        problems.append(f"image_name '{image_name}' is not a file name")
    if image_name is None and disk_gb is None:
        problems.append("a blank disk needs disk_gb")
    if problems:
        raise InvalidParameters("; ".join(problems))

    roots = host.storage_roots(list_param(params.get("storage_roots")))
    folder: str | None = None
    for root in roots:
        candidate = join_path(root, "Hyper-V", vm_name)
        if host.fs.exists(candidate):
            if read_marker(host, candidate) != job_id:
                raise VmAlreadyExists(f"folder '{candidate}' already exists and was not made by job {job_id}")
            folder = candidate

    source: FakeFile | None = None
    desired = disk_gb * GB if disk_gb is not None else None
    if image_name is not None:
        source = host.find_image(image_name, list_param(params.get("image_paths")))
        if source is None:
            raise ImageNotFound(f"image '{image_name}' is not in the host's image library")
        image_size = source.virtual_size or source.size
        if desired is None:
            desired = image_size
        if desired < image_size:
            raise InvalidParameters(f"disk_gb {disk_gb} is smaller than the image ({gb(image_size):g} GB)")
    assert desired is not None

    created = False
    if folder is None:
        best, best_free = best_root(host, roots)
        needed = source.size if source is not None else GB
        if best is None or best_free < needed:
            raise InsufficientResources(
                f"needs {gb(needed):g} GB, the best volume '{best or ''}' has {gb(max(best_free, 0)):g} GB free"
            )
        folder = join_path(best, "Hyper-V", vm_name)
        host.fs.mkdir(folder)
        host.fs.write(FakeFile(join_path(folder, MARKER), len(job_id), kind="text", text=job_id))

    path = join_path(folder, vm_name + ".vhdx")
    if not host.fs.is_file(path):
        if source is not None:
            host.fs.write(source.copy_to(path + ".partial"))
            host.fs.move(path + ".partial", path)
        else:
            host.fs.write(FakeFile(path, 4 * MB, kind="vhdx", virtual_size=desired, vhd_type="Dynamic"))
        created = True
    disk = host.fs.get(path)
    assert disk is not None
    size = disk.virtual_size or disk.size
    if size < desired:
        disk.virtual_size = size = desired
    return {"folder": folder, "path": path, "size_gb": gb(size), "image_name": image_name, "created": created}
