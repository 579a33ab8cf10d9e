"""VMs: checking a create (``preflight_create``), registering the VM (``create_vm``) and removing it (``remove_vm``).

``New-VM`` is a model object plus a ``.vmcx`` record; secure boot, checkpoints and boot order are recorded fields,
memory is rounded to 2 MB like the script. Removal deletes only what Aether-V made (files of the job's marked
folder, the VM's own disks and provisioning ISO) and keeps anything else; empty sub-folders vanish with the folder.
"""

from __future__ import annotations

from typing import Any

from tools.hvsim.exceptions import ClusterError, ImageNotFound, InvalidParameters, SwitchNotFound, VmAlreadyExists
from tools.hvsim.models import GB, FakeFile, FakeHost, FakeVm, is_valid_file_name, join_path, leaf_name, parent_path
from tools.hvsim.models.background import OPERATION_PREFIX
from tools.hvsim.models.checkpoints import files_left_by_checkpoints
from tools.hvsim.models.dvds import is_provisioning_iso
from tools.hvsim.operations.background import stop_operations_in
from tools.hvsim.operations.params import MARKER, best_root, gb, list_param, parse_guid, read_marker, text
from tools.hvsim.protocol.dispatch import script_log

__all__ = ["create_vm", "preflight_create", "remove_vm"]


def _check(name: str, ok: bool, message: str = "") -> dict[str, Any]:
    return {"name": name, "ok": ok, "message": message}


def preflight_create(host: FakeHost, params: dict[str, Any]) -> Any:
    """``preflight_create.ps1``: every check, never just the first failure."""
    name = text(params.get("name"))
    checks: list[dict[str, Any]] = []
    roots = host.storage_roots(list_param(params.get("storage_roots")))
    if not is_valid_file_name(name):
        checks.append(_check("name_free", False, f"VM name '{name}' cannot be used as a folder name"))
    else:
        folders = [
            join_path(root, "Hyper-V", name) for root in roots if host.fs.exists(join_path(root, "Hyper-V", name))
        ]
        if host.vms_named(name):
            checks.append(_check("name_free", False, f"a VM named '{name}' already exists on this host"))
        elif folders:
            checks.append(_check("name_free", False, f"the VM folder '{folders[0]}' already exists"))
        else:
            checks.append(_check("name_free", True))

    image: FakeFile | None = None
    if params.get("image_name"):
        image_name = text(params["image_name"])
        if is_valid_file_name(image_name):
            image = host.find_image(image_name, list_param(params.get("image_paths")))
        if image is not None:
            checks.append(_check("image_present", True))
        else:
            checks.append(_check("image_present", False, f"image '{image_name}' is not in the host's image library"))
    else:
        checks.append(_check("image_present", True, "blank disk: no image needed"))

    if params.get("switch_name"):
        switch_name = text(params["switch_name"])
        if host.switch(switch_name) is not None:
            checks.append(_check("switch_present", True))
        else:
            checks.append(
                _check("switch_present", False, f"virtual switch '{switch_name}' does not exist on this host")
            )
    else:
        checks.append(_check("switch_present", True, "no network adapter requested"))

    free_gb = gb(host.free_memory)
    memory_gb = float(params.get("memory_gb") or 0)
    if free_gb >= memory_gb:
        checks.append(_check("memory_available", True))
    else:
        checks.append(
            _check("memory_available", False, f"needs {memory_gb:g} GB of memory, the host has {free_gb:g} GB free")
        )

    target, target_free = best_root(host, roots)
    needed = image.size if image is not None else GB
    if target is not None and target_free >= needed:
        checks.append(_check("disk_space_available", True))
    else:
        checks.append(
            _check(
                "disk_space_available",
                False,
                f"needs {gb(needed):g} GB on '{target}', {gb(max(target_free, 0)):g} GB free",
            )
        )
    return {"checks": checks, "target_volume": target}


def create_vm(host: FakeHost, params: dict[str, Any]) -> Any:
    """``create_vm.ps1``: register the VM around the prepared disk (idempotent for the same job)."""
    name = text(params.get("name"))
    job_id = text(params.get("job_id"))
    disk_path = text(params.get("disk_path"))
    os_family = text(params.get("os_family"))
    switch_name = text(params["switch_name"]) if params.get("switch_name") else None
    vlan_id = int(params["vlan_id"]) if params.get("vlan_id") is not None else None
    install_dir = text(params.get("install_dir")) or "C:\\Program Files\\Aether-V"
    attach_iso = bool(params["attach_provisioning_iso"]) if params.get("attach_provisioning_iso") is not None else True

    problems = []
    if not is_valid_file_name(name):
        problems.append(f"name '{name}' cannot be used as a folder name")
    if os_family not in ("windows", "linux"):
        problems.append("os_family must be windows or linux")
    if vlan_id is not None and switch_name is None:
        problems.append("vlan_id needs switch_name")
    folder = parent_path(disk_path) if "\\" in disk_path else ""
    if not folder or leaf_name(folder) != name:
        problems.append(f"disk_path must lie in the VM's own folder (<volume>\\Hyper-V\\{name}\\)")
    elif not host.fs.is_file(disk_path):
        problems.append(f"disk '{disk_path}' does not exist; run prepare_disk first")
    if problems:
        raise InvalidParameters("; ".join(problems))
    if read_marker(host, folder) != job_id:
        raise VmAlreadyExists(f"folder '{folder}' was not prepared by job {job_id}")

    vm: FakeVm | None = None
    for candidate in host.vms_named(name):
        if candidate.folder.rstrip("\\") == folder.rstrip("\\"):
            vm = candidate
        else:
            raise VmAlreadyExists(f"a VM named '{name}' already exists on this host (id {candidate.id})")

    if switch_name is not None and host.switch(switch_name) is None:
        raise SwitchNotFound(f"virtual switch '{switch_name}' does not exist on this host")

    iso_path: str | None = None
    if attach_iso:
        iso_name = "LinuxProvisioning.iso" if os_family == "linux" else "WindowsProvisioning.iso"
        iso_source = host.fs.get(join_path(install_dir, iso_name))
        if iso_source is None:
            raise ImageNotFound(f"provisioning ISO '{join_path(install_dir, iso_name)}' is missing")
        iso_path = join_path(folder, iso_name)
        if not host.fs.is_file(iso_path):
            host.fs.write(iso_source.copy_to(iso_path + ".partial"))
            host.fs.move(iso_path + ".partial", iso_path)

    memory_mb = int(-(-float(params.get("memory_gb") or 0) * 512 // 1)) * 2
    created = False
    if vm is None:
        vm = host.add_vm(FakeVm(host, name=name, folder=folder, memory_mb=memory_mb, cpu_count=1))
        host.fs.mkdir(join_path(folder, "Virtual Machines"))
        host.fs.write(FakeFile(join_path(folder, "Virtual Machines", vm.id.upper() + ".vmcx"), 80 * 1024))
        host.add_nic(vm, None)
        created = True

    if vm.state == "Off":
        vm.notes = f"Created by Aether-V\naetherv-job: {job_id}"
        vm.automatic_checkpoints = False
        vm.dynamic_memory = False
        vm.memory_mb = memory_mb
        vm.cpu_count = int(params.get("cpu_count") or 1)
        vm.secure_boot = True
        vm.secure_boot_template = "MicrosoftUEFICertificateAuthority" if os_family == "linux" else "MicrosoftWindows"
        drive = next((d for d in vm.disks if d.path == disk_path), None)
        if drive is None:
            drive = host.add_disk(vm, disk_path)
        if vm.guest is None:
            host.install_guest(vm, host.fs.get(disk_path))
        if switch_name is None:
            vm.nics.clear()
        else:
            if not vm.nics:
                host.add_nic(vm, switch_name)
            del vm.nics[1:]
            vm.nics[0].switch = switch_name
            vm.nics[0].vlan_id = vlan_id
        if iso_path is not None and not any(dvd.path == iso_path for dvd in vm.dvds):
            host.add_dvd(vm, iso_path)
        vm.first_boot_device = drive.id
    if created:
        script_log(f"created VM {vm.name} ({vm.id}) in {folder}")
    else:
        script_log(f"VM {vm.name} ({vm.id}) already existed for this job")
    return {"id": vm.id, "name": vm.name, "created": created, "folder": folder, "iso_path": iso_path}


def remove_folder(host: FakeHost, folder: str, in_use: set[str], deleted: list[str], kept: list[str]) -> bool:
    stop_operations_in(host, folder)  # a running worker holds its copy open: stop it first
    known: list[FakeFile] = []
    unknown: list[str] = []
    prefix = folder.rstrip("\\") + "\\"
    for file in host.fs.walk_files(folder):
        relative = file.path[len(prefix) :]
        name = leaf_name(file.path).lower()
        is_known = "\\" not in relative and (
            (name.endswith(".vhdx") and file.path.lower() not in in_use)
            or is_provisioning_iso(file.path)
            or name.endswith(".partial")
            or name.startswith(OPERATION_PREFIX)
            or name == MARKER
        )
        (known.append(file) if is_known else unknown.append(file.path))
    if unknown:
        for file in known:
            if leaf_name(file.path) != MARKER:
                host.fs.remove(file.path)
                deleted.append(file.path)
        kept.extend(unknown)
        return False
    for file in known:
        host.fs.remove(file.path)
        if leaf_name(file.path) != MARKER:
            deleted.append(file.path)
    host.fs.remove_tree(folder)
    return True


def remove_vm_and_disks(host: FakeHost, vm: FakeVm, deleted: list[str]) -> str:
    """``Remove-AetherVmAndDisks``: turn off, remove DVDs and disks (deleting ISO copies and unshared disk files).

    Returns the VM's configuration folder.
    """
    if vm.state != "Off":
        vm.turn_off()
    folder = vm.folder
    to_delete: list[str] = []
    for dvd in list(vm.dvds):
        vm.dvds.remove(dvd)
        if dvd.path and is_provisioning_iso(dvd.path) and parent_path(dvd.path) == folder.rstrip("\\"):
            to_delete.append(dvd.path)
    others = {d.path.lower() for other in host.vms.values() if other is not vm for d in other.disks}
    if vm.checkpoints:  # differencing chains: the checkpoints' disks and every parent are the VM's disks too
        shared = {drive.path.lower() for drive in vm.disks if drive.shared}
        to_delete += files_left_by_checkpoints(vm, host.fs, others | shared)
    for drive in list(vm.disks):
        vm.disks.remove(drive)
        if drive.shared or drive.path.lower() in others or "\\diskimages\\" in drive.path.lower():
            continue
        if drive.path not in to_delete:
            to_delete.append(drive.path)
    host.remove_vm(vm)  # also releases the guest's agent (a real Linux agent's process and sandbox)
    host.fs.remove(join_path(folder, "Virtual Machines", vm.id.upper() + ".vmcx"))
    for path in to_delete:
        if host.fs.is_file(path):
            host.fs.remove(path)
            deleted.append(path)
    return folder


def remove_vm(host: FakeHost, params: dict[str, Any]) -> Any:
    """``remove_vm.ps1``: remove the VM and what Aether-V made for it; a missing VM is success."""
    deleted: list[str] = []
    kept: list[str] = []
    folders: list[str] = []
    vm_id: str | None = None
    existed = False
    if params.get("vm_id"):
        vm_id = parse_guid(params["vm_id"])
        vm = host.find_vm(vm_id)
        if vm is not None:
            existed = True
            if vm.clustered:
                raise ClusterError(f"VM {vm_id} is clustered; remove it from the cluster first")
            folder = remove_vm_and_disks(host, vm, deleted)
            if folder and read_marker(host, folder):
                folders.append(folder)

    vm_name = text(params.get("vm_name"))
    job_id = text(params.get("job_id"))
    if vm_name and job_id and is_valid_file_name(vm_name):
        roots = host.csv_roots()
        storage = list_param(params.get("storage_roots"))
        roots += storage if storage is not None else ["C:\\"]
        for root in roots:
            candidate = join_path(root, "Hyper-V", vm_name)
            if host.fs.exists(candidate) and read_marker(host, candidate) == job_id:
                folders.append(candidate)

    in_use = {drive.path.lower() for other in host.vms.values() for drive in other.disks}
    folder_removed = False
    done: set[str] = set()
    for folder in folders:
        key = folder.rstrip("\\").lower()
        if key in done or not host.fs.exists(folder):
            continue
        done.add(key)
        if remove_folder(host, folder, in_use, deleted, kept):
            folder_removed = True
    return {
        "id": vm_id,
        "existed": existed,
        "deleted_files": deleted,
        "folder_removed": folder_removed,
        "kept_files": kept,
    }
