"""The I/O behind each workflow step: one function per step, called by a thin activity.

Every function opens one WinRM client for the host (one shell, closed at the end), does one step, and returns a
small JSON-able result. They are safe to run twice (activities are at-least-once): the Hyper-V operations are
idempotent, and the guest steps tolerate a retry. Guest secrets are unsealed only in :func:`publish_guest_data`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from functions.guest import kvp, names
from functions.guest.status import ensure_fresh_guest_pool, read_guest_status
from functions.hyperv.client import HyperVClient
from functions.hyperv.errors import HyperVError
from functions.hyperv.factory import open_client, resolve_host
from functions.hyperv.models import CreateVmSpec, PreflightSpec, PrepareDiskSpec
from functions.inventory import sync
from functions.jobs.store import get_job_store
from functions.sealing import unseal_json
from functions.settings import get_settings
from functions.workflows.errors import StepError

__all__ = [
    "cleanup",
    "cluster_add",
    "cluster_remove",
    "create",
    "describe_vm",
    "finish_guest",
    "guest_status",
    "job_update",
    "place",
    "power",
    "preflight",
    "prepare_disk",
    "publish_guest_data",
    "refresh_and_describe",
    "remove",
    "signal_published",
    "start_and_announce",
]

log = logging.getLogger(__name__)


@contextmanager
def _client(host: str) -> Iterator[HyperVClient]:
    settings = get_settings()
    if host.lower() not in {h.name.lower() for h in settings.hosts}:
        raise StepError("HostNotConfigured", f"host {host} is not in AETHERV_HOSTS")
    with open_client(resolve_host(host, settings.hosts), addresses=settings.host_addresses) as client:
        yield client


def _request(payload: Mapping[str, Any]) -> dict[str, Any]:
    return dict(payload["request"])


# -- create ----------------------------------------------------------------------------------------------------------


def place(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Pick the connected host with the most free memory that has the image and the switch (ties: by name)."""
    request = _request(payload)
    settings = get_settings()
    configured = {h.name.lower() for h in settings.hosts}
    hosts = [h for h in sync.get_repository().list_hosts() if h["connected"] and h["name"].lower() in configured]
    # ties are broken by name so that the choice is deterministic
    hosts.sort(key=lambda h: (-float(h["facts"].get("free_memory_gb") or 0), str(h["name"]).lower()))
    reasons: list[str] = []
    repo = sync.get_repository()
    for host in hosts:
        name = str(host["name"])
        free = float(host["facts"].get("free_memory_gb") or 0)
        taken = repo.iter_vms(host=name, name_prefix=request["name"])
        if any(str(vm["name"]).lower() == str(request["name"]).lower() for vm in taken):
            reasons.append(f"{name}: a VM named {request['name']} exists")
            continue
        if free < float(request["memory_gb"]):
            reasons.append(f"{name}: {free:g} GB free memory")
            continue
        try:
            with _client(name) as client:
                if request.get("image") and request["image"] not in {i.name for i in client.list_images()}:
                    reasons.append(f"{name}: no image '{request['image']}'")
                    continue
                if request.get("network") and request["network"] not in {s.name for s in client.list_switches()}:
                    reasons.append(f"{name}: no switch '{request['network']}'")
                    continue
        except HyperVError as exc:
            reasons.append(f"{name}: {type(exc).__name__}")
            continue
        return {"host": name}
    detail = "; ".join(reasons) if reasons else "no connected hosts in the inventory"
    raise StepError("NoSuitableHost", f"no host can take the VM ({detail})")


def preflight(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Check the request against the host: name free, image, switch, memory and disk space (all problems)."""
    request = _request(payload)
    spec = PreflightSpec(
        name=request["name"],
        image_name=request.get("image"),
        switch_name=request.get("network"),
        memory_gb=float(request["memory_gb"]),
        disk_gb=request.get("disk_gb"),
    )
    with _client(payload["host"]) as client:
        report = client.preflight_create(spec)
    failed = [check.message or check.name for check in report.checks if not check.ok]
    if failed:
        raise StepError("PreflightFailed", "; ".join(failed))
    return {"target_volume": report.target_volume}


def prepare_disk(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Clone the image (grown to ``disk_gb``) or create a blank disk in the VM's new folder."""
    request = _request(payload)
    spec = PrepareDiskSpec(
        vm_name=request["name"],
        job_id=payload["job_id"],
        image_name=request.get("image"),
        disk_gb=request.get("disk_gb"),
    )
    with _client(payload["host"]) as client:
        disk = client.prepare_disk(spec)
    return disk.model_dump(mode="json")


def create(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Register the VM around the prepared disk (generation 2, CPU, memory, NIC/VLAN, provisioning DVD)."""
    request = _request(payload)
    spec = CreateVmSpec(
        name=request["name"],
        job_id=payload["job_id"],
        disk_path=payload["disk"]["path"],
        cpu_count=int(request["cpu_cores"]),
        memory_gb=float(request["memory_gb"]),
        os_family=payload["os_family"],
        switch_name=request.get("network"),
        vlan_id=request.get("vlan_id"),
        attach_provisioning_iso=bool(request.get("image")),
    )
    with _client(payload["host"]) as client:
        vm = client.create_vm(spec)
    return {"vm_id": vm.id}


def start_and_announce(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Start the VM; for guest provisioning, clean the host's KVP items and announce ``waitingforpublickey``.

    The version is written before the state (guest-protocol.md D6). A VM started by this call must have an empty
    guest pool (a left-over provisioning state means the disk was provisioned before: D16).
    """
    with _client(payload["host"]) as client:
        started = client.start_vm(payload["vm_id"], if_needed=True)
        if not payload.get("announce"):
            return {"started": started.changed}
        if started.changed:
            ensure_fresh_guest_pool(client.read_guest_kvp(payload["vm_id"]).guest)
        version = client.list_isos().version
        if not version:
            raise StepError("ImageNotFound", "the host's provisioning ISO library has no version file")
        client.write_host_kvp(
            payload["vm_id"],
            {names.VERSION_KEY: version, names.HOST_STATE_KEY: names.HostState.WAITING_FOR_PUBLIC_KEY},
            remove_prefix=names.PREFIX,
        )
    return {"started": started.changed, "version": version}


def guest_status(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The guest's provisioning state and error summary (one short WinRM call; no connection is held)."""
    with _client(payload["host"]) as client:
        items = client.read_guest_kvp(payload["vm_id"]).guest
    status = read_guest_status(items)
    return {
        "state": status.guest_state,
        "error_summary": status.error_summary,
        "public_key_present": status.public_key_fingerprint is not None,
    }


def publish_guest_data(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Unseal the guest values, encrypt them to the guest's key and write them (checksum, AES key, data)."""
    values: dict[str, str] = unseal_json(payload["sealed_guest"], payload["job_id"])
    problems = kvp.guest_compatibility_problems(values, payload["os_family"])
    if problems:
        raise StepError("InvalidParameters", "; ".join(f"{key}: {text}" for key, text in sorted(problems.items())))
    with _client(payload["host"]) as client:
        guest = client.read_guest_kvp(payload["vm_id"]).guest
        public_key = kvp.reassemble(guest, names.GUEST_PUBLIC_KEY_KEY)
        if not public_key:
            raise StepError("GuestProtocolError", "the guest has not published its provisioning key", transient=True)
        items = kvp.build_host_items(public_key, values)
        client.write_host_kvp(payload["vm_id"], items, remove_prefix=names.DATA_PREFIX)
    return {"items": len(items)}


def signal_published(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Tell the guest its data is complete (``provisioningdatapublished``)."""
    with _client(payload["host"]) as client:
        client.write_host_kvp(payload["vm_id"], {names.HOST_STATE_KEY: names.HostState.DATA_PUBLISHED})
    return {}


def finish_guest(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Eject and delete the provisioning ISO and remove every ``hlvmm.`` host item (ciphertexts, wrapped key)."""
    with _client(payload["host"]) as client:
        ejected = client.eject_iso(payload["vm_id"])
        client.write_host_kvp(payload["vm_id"], {}, remove_prefix=names.PREFIX)
    return {"removed_drives": ejected.removed_drives}


def cluster_add(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Make the VM a clustered role (after the guest is configured: the VM must not move before)."""
    with _client(payload["host"]) as client:
        change = client.add_to_cluster(payload["vm_id"])
    return change.model_dump(mode="json")


def cluster_remove(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Remove the VM's cluster role (the VM stays)."""
    with _client(payload["host"]) as client:
        change = client.remove_from_cluster(payload["vm_id"])
    return change.model_dump(mode="json")


def cleanup(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Compensation: remove the VM (found by id, or by name and this job's marker), its disks and its folder."""
    with _client(payload["host"]) as client:
        removed = client.remove_vm(payload.get("vm_id"), vm_name=payload["name"], job_id=payload["job_id"])
    if payload.get("vm_id"):
        sync.get_repository().remove_vm(payload["host"], payload["vm_id"])
    parts = ["removed the VM" if removed.existed else "no VM to remove"]
    if removed.deleted_files:
        parts.append(f"deleted {len(removed.deleted_files)} file(s)")
    if removed.folder_removed:
        parts.append("removed its folder")
    if removed.kept_files:
        parts.append(f"kept {len(removed.kept_files)} unknown file(s) in the folder")
    return {"summary": ", ".join(parts), "existed": removed.existed, "folder_removed": removed.folder_removed}


def refresh_and_describe(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    """Refresh the host's inventory entry, then return the VM as the inventory shows it (None if absent)."""
    summary = sync.collect_and_store(payload["host"])
    if not summary.ok:
        log.warning("refresh of %s after a workflow step failed: %s", payload["host"], summary.error)
    vm_id = payload.get("vm_id")
    return describe_vm(vm_id) if vm_id else None


def describe_vm(vm_id: str) -> dict[str, Any] | None:
    """The VM's inventory summary (state, addresses) or None."""
    vm = sync.get_repository().get_vm(vm_id)
    if vm is None:
        return None
    keys = ("id", "name", "host", "state", "ip_addresses", "cpu_cores", "memory_gb", "os_family")
    return {key: vm.get(key) for key in keys}


# -- delete and power --------------------------------------------------------------------------------------------------


def remove(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Delete a VM: turn it off, uncluster it, remove it with its disks and folder; a missing VM is success."""
    host, vm_id = payload["host"], payload["vm_id"]
    with _client(host) as client:
        try:
            vm = client.get_vm(vm_id)
        except HyperVError as exc:
            if exc.category != "VmNotFound":
                raise
            vm = None
        if vm is not None:
            if vm.state not in ("Off", "Saved"):
                client.stop_vm(vm_id)
            if vm.clustered:
                client.remove_from_cluster(vm_id)
            client.remove_vm(vm_id)
    sync.get_repository().remove_vm(host, vm_id)
    return {"existed": vm is not None, "name": vm.name if vm else None}


def power(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Start, stop (turn off), shut down (guest; optional fallback to turn off) or restart a VM."""
    host, vm_id, action = payload["host"], payload["vm_id"], payload["action"]
    with _client(host) as client:
        if action == "start":
            result = client.start_vm(vm_id)
        elif action == "stop":
            result = client.stop_vm(vm_id)
        elif action == "restart":
            result = client.restart_vm(vm_id)
        elif action == "shutdown":
            try:
                result = client.shutdown_vm(vm_id, timeout_seconds=int(payload.get("timeout_seconds", 120)))
            except HyperVError as exc:
                if not payload.get("force_after_timeout") or exc.category not in ("OperationTimeout", "InvalidVmState"):
                    raise
                result = client.stop_vm(vm_id)
        else:
            raise StepError("InvalidParameters", f"unknown power action {action!r}")
    return result.model_dump(mode="json")


def job_update(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Merge a patch into the job record (status, step, error, result)."""
    job = get_job_store().update(payload["job_id"], payload["patch"])
    return {"status": job.get("status") if job else None}
