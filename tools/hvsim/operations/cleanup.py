"""``remove_owned.ps1``: a create job's compensation, by ownership marks and never by a returned id alone.

A VM is the job's when its notes carry the line ``aetherv-job: <job_id>`` or its configuration lives in a folder
whose ``.aetherv-job`` marker names the job; VMs named like the job's VM without that mark are reported, not
touched. Each owned VM loses its cluster role, then is removed with its disks; then the job's folders go when
nothing unknown is left in them.
"""

from __future__ import annotations

import re
from typing import Any

from tools.hvsim.exceptions import InvalidParameters
from tools.hvsim.models import FakeHost, is_valid_file_name, join_path
from tools.hvsim.operations.params import list_param, read_marker, text
from tools.hvsim.operations.vms import remove_folder, remove_vm_and_disks
from tools.hvsim.protocol.dispatch import script_log

__all__ = ["remove_owned"]

_JOB_ID = re.compile(r"[A-Za-z0-9._:-]{1,200}")


def remove_owned(host: FakeHost, params: dict[str, Any]) -> Any:
    """Remove every VM, disk and folder the job owns on ``host``; report what was found, removed and kept."""
    job_id = text(params.get("job_id"))
    vm_name = text(params.get("vm_name"))
    if not job_id or not _JOB_ID.fullmatch(job_id):
        raise InvalidParameters("job_id is required")
    if not is_valid_file_name(vm_name):
        raise InvalidParameters(f"vm_name '{vm_name}' cannot be a folder name")
    mark = f"aetherv-job: {job_id}"
    found: list[dict[str, str]] = []
    not_owned: list[dict[str, str]] = []
    owned = []
    for vm in list(host.vms.values()):
        by_notes = any(line.strip() == mark for line in vm.notes.splitlines())
        by_folder = bool(vm.folder) and read_marker(host, vm.folder) == job_id
        entry = {"id": vm.id, "name": vm.name}
        if by_notes or by_folder:
            owned.append(vm)
            found.append(entry)
        elif vm.name.lower() == vm_name.lower():  # PowerShell -eq compares names case-insensitively
            not_owned.append(entry)
    deleted: list[str] = []
    removed: list[str] = []
    unclustered: list[str] = []
    folders: list[str] = []
    for entry in not_owned:
        script_log(f"left VM {entry['name']} ({entry['id']}) alone: it lacks this job's mark", "warning")
    for vm in owned:
        script_log(f"removing VM {vm.name} ({vm.id}): it carries this job's mark")
        if host.cluster is not None and host.cluster.remove_role(vm):
            unclustered.append(vm.id)
        folder = remove_vm_and_disks(host, vm, deleted)
        removed.append(vm.id)
        if folder and read_marker(host, folder) == job_id:
            folders.append(folder)
    for root in host.storage_roots(list_param(params.get("storage_roots"))):
        candidate = join_path(root, "Hyper-V", vm_name)
        if host.fs.exists(candidate) and read_marker(host, candidate) == job_id:
            folders.append(candidate)
    in_use = {drive.path.lower() for vm in host.vms.values() for drive in vm.disks}
    kept: list[str] = []
    folders_removed: list[str] = []
    done: set[str] = set()
    for folder in folders:
        key = folder.rstrip("\\").lower()
        if key in done or not host.fs.exists(folder):
            continue
        done.add(key)
        if remove_folder(host, folder, in_use, deleted, kept):
            folders_removed.append(folder)
    return {
        "job_id": job_id,
        "vms_found": found,
        "vms_removed": removed,
        "cluster_roles_removed": unclustered,
        "not_owned": not_owned,
        "deleted_files": deleted,
        "folders_removed": folders_removed,
        "kept_files": kept,
    }
