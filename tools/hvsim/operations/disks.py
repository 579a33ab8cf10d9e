"""Disks: the golden-image library (``list_images``), the VM's OS disk (``prepare_disk``) and its plan.

The plan (:func:`disk_plan`) is shared with the background disk preparation (:mod:`tools.hvsim.operations.background`).

A clone copies the file record through a ``.partial`` file, as the script does, and takes the host's copy time
(:meth:`~tools.hvsim.models.BackgroundWork.current_rate`); a resize changes the recorded virtual size; dynamic VHDX
files never grow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tools.hvsim.exceptions import ImageNotFound, InsufficientResources, InvalidParameters, VmAlreadyExists
from tools.hvsim.models import GB, MB, FakeFile, FakeHost, is_valid_file_name, join_path, leaf_name
from tools.hvsim.operations.params import MARKER, best_root, gb, list_param, read_marker, text

__all__ = ["DiskPlan", "disk_plan", "find_job_folder", "grow", "list_images", "prepare_disk"]

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


@dataclass(frozen=True)
class DiskPlan:
    """What ``Get-AetherDiskPlan`` decides: the job's folder, the disk's path, the image to copy, the wanted size."""

    folder: str
    path: str
    source: FakeFile | None
    desired: int
    image_name: str | None


def find_job_folder(host: FakeHost, vm_name: str, job_id: str, roots: list[str]) -> str | None:
    r"""``Find-AetherJobFolder``: the job's ``<root>\Hyper-V\<vm>`` folder, None, or ``VmAlreadyExists``."""
    folder: str | None = None
    for root in roots:
        candidate = join_path(root, "Hyper-V", vm_name)
        if host.fs.exists(candidate):
            if read_marker(host, candidate) != job_id:
                raise VmAlreadyExists(f"folder '{candidate}' already exists and was not made by job {job_id}")
            folder = candidate
    return folder


def disk_plan(host: FakeHost, params: dict[str, Any]) -> DiskPlan:
    """``Get-AetherDiskPlan``: check the request, find or make the job's folder (with its marker)."""
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
    folder = find_job_folder(host, vm_name, job_id, roots)

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
    return DiskPlan(folder, join_path(folder, vm_name + ".vhdx"), source, desired, image_name)


def grow(host: FakeHost, path: str, desired: int) -> int:
    """``Resize-VHD`` when the disk is smaller than ``desired``; returns its virtual size."""
    disk = host.fs.get(path)
    assert disk is not None
    size = disk.virtual_size or disk.size
    if size < desired:
        disk.virtual_size = size = desired
    return size


def prepare_disk(host: FakeHost, params: dict[str, Any]) -> Any:
    """``prepare_disk.ps1``: clone (and grow) or create the OS disk in the job's own VM folder.

    ``Copy-Item`` takes the host's copy time, inside this one call; the wait does not hold the host's lock (other
    sessions work meanwhile) and the ``.partial`` file is held open while it copies.
    """
    with host.lock:
        plan = disk_plan(host, params)
        created = False
        seconds = 0.0
        partial = plan.path + ".partial"
        if not host.fs.is_file(plan.path):
            if plan.source is not None:
                host.fs.write(FakeFile(partial, plan.source.size))
                host.fs.hold(partial)
                rate = host.background.current_rate()
                seconds = plan.source.size / rate if rate else 0.0
            else:
                host.fs.write(FakeFile(plan.path, 4 * MB, kind="vhdx", virtual_size=plan.desired, vhd_type="Dynamic"))
            created = True
    if created and plan.source is not None:
        clock, sleep = host.backend.clock, host.backend.sleep
        done_at = clock() + seconds
        while (left := done_at - clock()) > 0:
            sleep(min(left, 0.5))
        with host.lock:
            host.fs.release(partial)
            host.fs.remove(partial)
            host.fs.write(plan.source.copy_to(plan.path))  # Move-Item of the finished copy
    with host.lock:
        size = grow(host, plan.path, plan.desired)
    return {
        "folder": plan.folder,
        "path": plan.path,
        "size_gb": gb(size),
        "image_name": plan.image_name,
        "created": created,
    }
