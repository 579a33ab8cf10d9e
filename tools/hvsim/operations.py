r"""Operation handlers: what each ``functions/hyperv/scripts/<operation>.ps1`` does, done to the simulated host.

Each handler takes the host model and the decoded ``$Params`` and returns the object the script returns (the
same field names, rounding and ordering) or raises a :mod:`tools.hvsim.exceptions` error with the category the
script's ``Fail-AetherV`` uses. :func:`install` registers them with the protocol's dispatch, which only lets a
script run when its text is byte-identical to the project's file; :func:`run_operation` calls one in-process
(model tests). Every call is recorded in ``FakeHost.journal`` with the parameters exactly as received.

Handlers run under the host's lock, except the waits of ``shutdown_vm``, which release it like the real script's
polling loop lets other sessions work.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import Any

from tools.hvsim.exceptions import (
    ClusterError,
    HyperVSimError,
    ImageNotFound,
    InsufficientResources,
    InvalidParameters,
    InvalidVmState,
    OperationTimeout,
    SwitchNotFound,
    VmAlreadyExists,
)
from tools.hvsim.models import (
    GB,
    MB,
    FakeFile,
    FakeHost,
    FakeVm,
    is_valid_file_name,
    join_path,
    leaf_name,
    parent_path,
)

__all__ = ["OPERATIONS", "install", "run_operation", "vm_record"]

Operation = Callable[[FakeHost, dict[str, Any]], Any]

OPERATIONS: dict[str, Operation] = {}
_UNLOCKED: set[str] = set()

MARKER = ".aetherv-job"
DEFAULT_INTRINSIC = (
    "OSName",
    "OSVersion",
    "FullyQualifiedDomainName",
    "NetworkAddressIPv4",
    "NetworkAddressIPv6",
    "IntegrationServicesVersion",
)
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


def operation(name: str, *, locked: bool = True) -> Callable[[Operation], Operation]:
    """Register ``handler`` as the simulation of ``scripts/<name>.ps1``."""

    def decorator(handler: Operation) -> Operation:
        OPERATIONS[name] = handler
        if not locked:
            _UNLOCKED.add(name)
        return handler

    return decorator


def run_operation(host: FakeHost, name: str, params: dict[str, Any]) -> Any:
    """Run operation ``name`` on ``host`` in-process; raises :class:`HyperVSimError` like the script fails."""
    handler = OPERATIONS[name]
    host.journal.append((name, copy.deepcopy(params)))
    if name in _UNLOCKED:
        return handler(host, params)
    with host.lock:
        return handler(host, params)


def install() -> None:
    """Register every handler with the protocol's dispatch (``tools.hvsim.protocol.dispatch``)."""
    from tools.hvsim.protocol.dispatch import OperationContext, register
    from tools.hvsim.protocol.errors import ScriptError

    def bind(name: str) -> None:
        @register(name)
        def handler(ctx: OperationContext, params: dict[str, Any]) -> Any:
            host = ctx.backend
            if not isinstance(host, FakeHost):
                raise ScriptError("ScriptFailed", "hvsim host has no Hyper-V model")
            try:
                return run_operation(host, name, params)
            except HyperVSimError as exc:
                raise ScriptError(exc.category, exc.message) from exc

    for name in OPERATIONS:
        bind(name)


# -- shared helpers (the scripts' helper functions) -----------------------------------------------------------


def _gb(value: float) -> float:
    return round(value / GB, 2)


def _parse_guid(value: Any) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise InvalidParameters(f"vm_id '{'' if value is None else value}' is not a GUID") from None


def _vm(host: FakeHost, value: Any) -> FakeVm:
    return host.vm(_parse_guid(value))


def _text(value: Any) -> str:
    """PowerShell's ``[string]$x`` (``$null`` → empty)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def _read_marker(host: FakeHost, folder: str) -> str | None:
    file = host.fs.get(join_path(folder, MARKER))
    return None if file is None else (file.text or "").strip()


def _os_family(image_name: str) -> str | None:
    lowered = image_name.lower()
    if lowered.startswith(_WINDOWS_IMAGE):
        return "windows"
    if lowered.startswith(_LINUX_IMAGE):
        return "linux"
    return None


def _list_param(value: Any) -> list[str] | None:
    if value is None:
        return None
    return [_text(item) for item in (value if isinstance(value, list) else [value])]


def _power_result(vm: FakeVm, previous: str, changed: bool) -> dict[str, Any]:
    return {"id": vm.id, "previous_state": previous, "state": vm.state, "changed": changed}


def vm_record(vm: FakeVm) -> dict[str, Any]:
    """The object ``Get-AetherVmRecords`` builds for ``vm`` (collect_inventory and get_vm)."""
    state = vm.state
    startup = round(vm.memory_mb / 1024, 2)
    networks: list[dict[str, Any]] = []
    all_ips: list[str] = []
    for nic in vm.nics:
        ips = [ip for ip in vm.nic_addresses(nic) if not ip.lower().startswith("fe80")]
        all_ips += [ip for ip in ips if ip not in all_ips]
        networks.append(
            {
                "id": nic.id,
                "name": nic.name,
                "switch": nic.switch,
                "vlan_id": nic.vlan_id,
                "mac_address": nic.mac,
                "ip_addresses": ips,
            }
        )
    disks: list[dict[str, Any]] = []
    for drive in vm.disks:
        file = vm.host.fs.get(drive.path)
        disks.append(
            {
                "id": drive.id,
                "name": leaf_name(drive.path),
                "path": drive.path,
                "type": (file.vhd_type or "Dynamic") if file is not None else "Unknown",
                "capacity_gb": _gb(file.virtual_size or file.size) if file is not None else None,
                "file_size_gb": _gb(file.size) if file is not None else None,
                "controller_type": "Unknown",
            }
        )
    return {
        "id": vm.id,
        "name": vm.name,
        "state": state,
        "creation_time": vm.created.isoformat().replace("+00:00", "Z"),
        "notes": vm.notes,
        "version": vm.version,
        "generation": vm.generation,
        "startup_memory_gb": startup,
        "minimum_memory_gb": round(vm.minimum_mb / 1024, 2) if vm.dynamic_memory else None,
        "maximum_memory_gb": round(vm.maximum_mb / 1024, 2) if vm.dynamic_memory else None,
        "dynamic_memory_enabled": vm.dynamic_memory,
        "memory_gb": startup,
        "processor_count": vm.cpu_count,
        "os_name": vm.intrinsic_items.get("OSName"),
        "networks": networks,
        "ip_addresses": all_ips,
        "disks": disks,
        "uptime_seconds": vm.uptime_seconds,
        "clustered": vm.clustered,
        "configuration_path": vm.folder,
    }


# -- reading --------------------------------------------------------------------------------------------------


@operation("collect_inventory")
def collect_inventory(host: FakeHost, params: dict[str, Any]) -> Any:
    """``collect_inventory.ps1``."""
    volumes = [
        {
            "path": volume.path,
            "label": volume.label,
            "capacity_gb": _gb(volume.capacity),
            "free_gb": _gb(volume.free),
            "cluster_shared": volume.path.lower().startswith("c:\\clusterstorage\\"),
        }
        for volume in host.fs.volumes
    ]
    return {
        "host": {
            "computer_name": host.computer_name,
            "cluster_name": host.cluster.name if host.cluster is not None else None,
            "logical_processors": host.logical_processors,
            "total_memory_gb": _gb(host.total_memory),
            "free_memory_gb": _gb(host.free_memory),
            "volumes": volumes,
            "switches": _switches(host),
            "default_vm_path": host.default_vm_path,
            "default_vhd_path": host.default_vhd_path,
        },
        "vms": [vm_record(vm) for vm in host.vms.values()],
        "collected_at": host.backend.now().isoformat().replace("+00:00", "Z"),
        "warnings": [],
    }


@operation("get_vm")
def get_vm(host: FakeHost, params: dict[str, Any]) -> Any:
    """``get_vm.ps1``."""
    return vm_record(_vm(host, params.get("vm_id")))


@operation("list_images")
def list_images(host: FakeHost, params: dict[str, Any]) -> Any:
    """``list_images.ps1``."""
    images: list[dict[str, Any]] = []
    seen: set[str] = set()
    for folder in host.image_folders(_list_param(params.get("image_paths"))):
        if not host.fs.is_dir(folder):
            continue
        _, files = host.fs.list_dir(folder)
        for file in files:
            if not file.path.lower().endswith(".vhdx") or file.path.lower() in seen:
                continue
            seen.add(file.path.lower())
            name = leaf_name(file.path)[: -len(".vhdx")]
            images.append({"name": name, "path": file.path, "size_gb": _gb(file.size), "os_family": _os_family(name)})
    return {"images": images}


@operation("list_isos")
def list_isos(host: FakeHost, params: dict[str, Any]) -> Any:
    """``list_isos.ps1``."""
    install_dir = _text(params.get("install_dir")) or "C:\\Program Files\\Aether-V"
    version_file = host.fs.get(join_path(install_dir, "version"))
    version = None
    if version_file is not None:
        version = (version_file.text or "").strip("\ufeff\x00 \t\r\n") or None
    isos = []
    for family, name in (("windows", "WindowsProvisioning.iso"), ("linux", "LinuxProvisioning.iso")):
        file = host.fs.get(join_path(install_dir, name))
        if file is not None:
            isos.append({"os_family": family, "path": file.path, "size_gb": _gb(file.size)})
    return {"install_dir": install_dir, "version": version, "isos": isos}


def _switches(host: FakeHost) -> list[dict[str, Any]]:
    return [
        {"name": switch.name, "id": switch.id.lower(), "type": switch.type, "notes": switch.notes}
        for switch in host.switches
    ]


@operation("list_switches")
def list_switches(host: FakeHost, params: dict[str, Any]) -> Any:
    """``list_switches.ps1``."""
    return {"switches": _switches(host)}


# -- creating -------------------------------------------------------------------------------------------------


def _check(name: str, ok: bool, message: str = "") -> dict[str, Any]:
    return {"name": name, "ok": ok, "message": message}


def _best_root(host: FakeHost, roots: list[str]) -> tuple[str | None, int]:
    best: str | None = None
    best_free = -1
    for root in roots:
        free = host.free_bytes(root)
        if free > best_free:
            best, best_free = root, free
    return best, best_free


@operation("preflight_create")
def preflight_create(host: FakeHost, params: dict[str, Any]) -> Any:
    """``preflight_create.ps1``: every check, never just the first failure."""
    name = _text(params.get("name"))
    checks: list[dict[str, Any]] = []
    roots = host.storage_roots(_list_param(params.get("storage_roots")))
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
        image_name = _text(params["image_name"])
        if is_valid_file_name(image_name):
            image = host.find_image(image_name, _list_param(params.get("image_paths")))
        if image is not None:
            checks.append(_check("image_present", True))
        else:
            checks.append(_check("image_present", False, f"image '{image_name}' is not in the host's image library"))
    else:
        checks.append(_check("image_present", True, "blank disk: no image needed"))

    if params.get("switch_name"):
        switch_name = _text(params["switch_name"])
        if host.switch(switch_name) is not None:
            checks.append(_check("switch_present", True))
        else:
            checks.append(
                _check("switch_present", False, f"virtual switch '{switch_name}' does not exist on this host")
            )
    else:
        checks.append(_check("switch_present", True, "no network adapter requested"))

    free_gb = _gb(host.free_memory)
    memory_gb = float(params.get("memory_gb") or 0)
    if free_gb >= memory_gb:
        checks.append(_check("memory_available", True))
    else:
        checks.append(
            _check("memory_available", False, f"needs {memory_gb:g} GB of memory, the host has {free_gb:g} GB free")
        )

    target, target_free = _best_root(host, roots)
    needed = image.size if image is not None else GB
    if target is not None and target_free >= needed:
        checks.append(_check("disk_space_available", True))
    else:
        checks.append(
            _check(
                "disk_space_available",
                False,
                f"needs {_gb(needed):g} GB on '{target}', {_gb(max(target_free, 0)):g} GB free",
            )
        )
    return {"checks": checks, "target_volume": target}


@operation("prepare_disk")
def prepare_disk(host: FakeHost, params: dict[str, Any]) -> Any:
    """``prepare_disk.ps1``: clone (and grow) or create the OS disk in the job's own VM folder."""
    vm_name = _text(params.get("vm_name"))
    job_id = _text(params.get("job_id"))
    image_name = _text(params["image_name"]) if params.get("image_name") else None
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

    roots = host.storage_roots(_list_param(params.get("storage_roots")))
    folder: str | None = None
    for root in roots:
        candidate = join_path(root, "Hyper-V", vm_name)
        if host.fs.exists(candidate):
            if _read_marker(host, candidate) != job_id:
                raise VmAlreadyExists(f"folder '{candidate}' already exists and was not made by job {job_id}")
            folder = candidate

    source: FakeFile | None = None
    desired = disk_gb * GB if disk_gb is not None else None
    if image_name is not None:
        source = host.find_image(image_name, _list_param(params.get("image_paths")))
        if source is None:
            raise ImageNotFound(f"image '{image_name}' is not in the host's image library")
        image_size = source.virtual_size or source.size
        if desired is None:
            desired = image_size
        if desired < image_size:
            raise InvalidParameters(f"disk_gb {disk_gb} is smaller than the image ({_gb(image_size):g} GB)")
    assert desired is not None

    created = False
    if folder is None:
        best, best_free = _best_root(host, roots)
        needed = source.size if source is not None else GB
        if best is None or best_free < needed:
            raise InsufficientResources(
                f"needs {_gb(needed):g} GB, the best volume '{best or ''}' has {_gb(max(best_free, 0)):g} GB free"
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
    return {"folder": folder, "path": path, "size_gb": _gb(size), "image_name": image_name, "created": created}


@operation("create_vm")
def create_vm(host: FakeHost, params: dict[str, Any]) -> Any:
    """``create_vm.ps1``: register the VM around the prepared disk (idempotent for the same job)."""
    name = _text(params.get("name"))
    job_id = _text(params.get("job_id"))
    disk_path = _text(params.get("disk_path"))
    os_family = _text(params.get("os_family"))
    switch_name = _text(params["switch_name"]) if params.get("switch_name") else None
    vlan_id = int(params["vlan_id"]) if params.get("vlan_id") is not None else None
    install_dir = _text(params.get("install_dir")) or "C:\\Program Files\\Aether-V"
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
    if _read_marker(host, folder) != job_id:
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
    return {"id": vm.id, "name": vm.name, "created": created, "folder": folder, "iso_path": iso_path}


# -- power ----------------------------------------------------------------------------------------------------


@operation("start_vm")
def start_vm(host: FakeHost, params: dict[str, Any]) -> Any:
    """``start_vm.ps1``."""
    vm = _vm(host, params.get("vm_id"))
    previous = vm.state
    if previous in ("Off", "Saved"):
        vm.start()
        return _power_result(vm, previous, True)
    if previous == "Paused":
        vm.resume()
        return _power_result(vm, previous, True)
    if previous in ("Running", "Starting") and params.get("if_needed"):
        return _power_result(vm, previous, False)
    raise InvalidVmState(f"cannot start VM {vm.id}: it is {previous}")


@operation("stop_vm")
def stop_vm(host: FakeHost, params: dict[str, Any]) -> Any:
    """``stop_vm.ps1``."""
    vm = _vm(host, params.get("vm_id"))
    previous = vm.state
    if previous == "Off":
        return _power_result(vm, previous, False)
    if previous not in ("Running", "Starting", "Paused", "Saved", "Stopping"):
        raise InvalidVmState(f"cannot turn off VM {vm.id}: it is {previous}")
    vm.turn_off()
    return _power_result(vm, previous, True)


@operation("shutdown_vm", locked=False)
def shutdown_vm(host: FakeHost, params: dict[str, Any]) -> Any:
    """``shutdown_vm.ps1``: guest shutdown, then poll (without holding the host) until Off or the timeout."""
    timeout = int(params["timeout_seconds"]) if params.get("timeout_seconds") is not None else 120
    with host.lock:
        vm = _vm(host, params.get("vm_id"))
        previous = vm.state
        if previous == "Off":
            return _power_result(vm, previous, False)
        if previous == "Running":
            if not vm.integration_services:
                raise InvalidVmState(
                    f"cannot shut down VM {vm.id}: the guest's shutdown integration service is not available"
                )
            vm.shutdown()
        elif previous != "Stopping":
            raise InvalidVmState(f"cannot shut down VM {vm.id}: it is {previous}")
    backend = host.backend
    deadline = backend.clock() + timeout
    while True:
        with host.lock:
            state = vm.state
            if state == "Off":
                return _power_result(vm, previous, True)
        if backend.clock() >= deadline:
            raise OperationTimeout(f"VM {vm.id} did not shut down within {timeout} s (it is {state})")
        backend.sleep(0.5)


@operation("restart_vm")
def restart_vm(host: FakeHost, params: dict[str, Any]) -> Any:
    """``restart_vm.ps1``."""
    vm = _vm(host, params.get("vm_id"))
    previous = vm.state
    if previous != "Running":
        raise InvalidVmState(f"cannot restart VM {vm.id}: it is {previous}")
    vm.reset()
    return _power_result(vm, previous, True)


# -- removing -------------------------------------------------------------------------------------------------


def _is_provisioning_iso(path: str) -> bool:
    name = leaf_name(path).lower()
    return "provisioning" in name and name.endswith(".iso")


def _remove_folder(host: FakeHost, folder: str, in_use: set[str], deleted: list[str], kept: list[str]) -> bool:
    known: list[FakeFile] = []
    unknown: list[str] = []
    prefix = folder.rstrip("\\") + "\\"
    for file in host.fs.walk_files(folder):
        relative = file.path[len(prefix) :]
        name = leaf_name(file.path).lower()
        is_known = "\\" not in relative and (
            (name.endswith(".vhdx") and file.path.lower() not in in_use)
            or _is_provisioning_iso(file.path)
            or name.endswith(".partial")
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


@operation("remove_vm")
def remove_vm(host: FakeHost, params: dict[str, Any]) -> Any:
    """``remove_vm.ps1``: remove the VM and what Aether-V made for it; a missing VM is success."""
    deleted: list[str] = []
    kept: list[str] = []
    folders: list[str] = []
    vm_id: str | None = None
    existed = False
    if params.get("vm_id"):
        vm_id = _parse_guid(params["vm_id"])
        vm = host.find_vm(vm_id)
        if vm is not None:
            existed = True
            if vm.clustered:
                raise ClusterError(f"VM {vm_id} is clustered; remove it from the cluster first")
            if vm.state != "Off":
                vm.turn_off()
            folder = vm.folder
            if folder and _read_marker(host, folder):
                folders.append(folder)
            to_delete: list[str] = []
            for dvd in list(vm.dvds):
                vm.dvds.remove(dvd)
                if dvd.path and _is_provisioning_iso(dvd.path) and parent_path(dvd.path) == folder.rstrip("\\"):
                    to_delete.append(dvd.path)
            others = {d.path.lower() for other in host.vms.values() if other is not vm for d in other.disks}
            for drive in list(vm.disks):
                vm.disks.remove(drive)
                if drive.shared or drive.path.lower() in others or "\\diskimages\\" in drive.path.lower():
                    continue
                to_delete.append(drive.path)
            del host.vms[vm.id]
            host.fs.remove(join_path(folder, "Virtual Machines", vm.id.upper() + ".vmcx"))
            for path in to_delete:
                if host.fs.is_file(path):
                    host.fs.remove(path)
                    deleted.append(path)

    vm_name = _text(params.get("vm_name"))
    job_id = _text(params.get("job_id"))
    if vm_name and job_id and is_valid_file_name(vm_name):
        roots = host.csv_roots()
        storage = _list_param(params.get("storage_roots"))
        roots += storage if storage is not None else ["C:\\"]
        for root in roots:
            candidate = join_path(root, "Hyper-V", vm_name)
            if host.fs.exists(candidate) and _read_marker(host, candidate) == job_id:
                folders.append(candidate)

    in_use = {drive.path.lower() for other in host.vms.values() for drive in other.disks}
    folder_removed = False
    done: set[str] = set()
    for folder in folders:
        key = folder.rstrip("\\").lower()
        if key in done or not host.fs.exists(folder):
            continue
        done.add(key)
        if _remove_folder(host, folder, in_use, deleted, kept):
            folder_removed = True
    return {
        "id": vm_id,
        "existed": existed,
        "deleted_files": deleted,
        "folder_removed": folder_removed,
        "kept_files": kept,
    }


@operation("eject_iso")
def eject_iso(host: FakeHost, params: dict[str, Any]) -> Any:
    """``eject_iso.ps1``."""
    vm = _vm(host, params.get("vm_id"))
    folder = vm.folder.rstrip("\\")
    removed = 0
    for dvd in list(vm.dvds):
        if not dvd.path or _is_provisioning_iso(dvd.path):
            vm.dvds.remove(dvd)
            removed += 1
    deleted: list[str] = []
    if folder and host.fs.is_dir(folder):
        _, files = host.fs.list_dir(folder)
        for file in files:
            if _is_provisioning_iso(file.path):
                host.fs.remove(file.path)
                deleted.append(file.path)
    return {"removed_drives": removed, "deleted_files": deleted}


# -- KVP ------------------------------------------------------------------------------------------------------


@operation("read_guest_kvp")
def read_guest_kvp(host: FakeHost, params: dict[str, Any]) -> Any:
    """``read_guest_kvp.ps1``: the guest agent gets a tick first (the host reading is what drives it)."""
    vm = _vm(host, params.get("vm_id"))
    vm.tick_guest()
    wanted = _list_param(params.get("intrinsic_names"))
    names = list(DEFAULT_INTRINSIC) if wanted is None else wanted
    intrinsic = {key: value for key, value in vm.intrinsic_items.items() if key in names}
    return {"state": vm.state, "guest": vm.guest_items, "intrinsic": intrinsic}


@operation("write_host_kvp")
def write_host_kvp(host: FakeHost, params: dict[str, Any]) -> Any:
    """``write_host_kvp.ps1``: remove (prefix, names, names to write), then add in order."""
    vm_id = _parse_guid(params.get("vm_id"))
    items = params.get("items") or []
    items = items if isinstance(items, list) else [items]
    problems = []
    names: set[str] = set()
    for item in items:
        name = _text(item.get("name")) if isinstance(item, dict) else ""
        data = item.get("data") if isinstance(item, dict) else None
        if not name or len(name) > 1024:
            problems.append(f"item name '{name}' must be 1-1024 characters")
        elif name.lower() in names:
            problems.append(f"item '{name}' is given twice")
        if data is None or len(_text(data)) > 1024:
            problems.append(f"item '{name}' needs data of at most 1024 characters")
        names.add(name.lower())
    if problems:
        raise InvalidParameters("; ".join(problems))
    vm = host.vm(vm_id)
    vm.tick_guest()  # the guest catches up on the host pool as it was before this change
    explicit = set(_list_param(params.get("remove")) or [])
    prefix = _text(params.get("remove_prefix"))
    removed = [
        name
        for name in vm.host_items
        if (prefix and name.startswith(prefix)) or name in explicit or name.lower() in names
    ]
    for name in removed:
        del vm.host_items[name]
    for item in items:
        vm.host_items[_text(item["name"])] = _text(item["data"])
    return {"removed": removed, "written": [_text(item["name"]) for item in items]}


# -- cluster --------------------------------------------------------------------------------------------------


@operation("add_to_cluster")
def add_to_cluster(host: FakeHost, params: dict[str, Any]) -> Any:
    """``add_to_cluster.ps1``."""
    vm = _vm(host, params.get("vm_id"))
    cluster = host.cluster
    if cluster is None:
        raise ClusterError("this host is not a member of a failover cluster")
    if vm.clustered:
        return {"id": vm.id, "cluster_name": cluster.name, "clustered": True, "changed": False}
    if len(host.vms_named(vm.name)) > 1:
        raise ClusterError(f"VM name '{vm.name}' is not unique on this host; the cluster adds VMs by name")
    cluster.add_role(vm)
    return {"id": vm.id, "cluster_name": cluster.name, "clustered": True, "changed": True}


@operation("remove_from_cluster")
def remove_from_cluster(host: FakeHost, params: dict[str, Any]) -> Any:
    """``remove_from_cluster.ps1``."""
    vm = _vm(host, params.get("vm_id"))
    cluster = host.cluster
    if cluster is None:
        return {"id": vm.id, "cluster_name": None, "clustered": False, "changed": False}
    changed = cluster.remove_role(vm)
    return {"id": vm.id, "cluster_name": cluster.name, "clustered": False, "changed": changed}
