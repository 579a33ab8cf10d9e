"""The typed Hyper-V facade: one method per operation script, typed inputs in, typed results out.

:class:`HyperVClient` wraps anything with the runner's ``run(operation, params)`` method (normally a
:class:`functions.hyperv.runner.PowerShellRunner` over one host's WinRM transport; see
:func:`functions.hyperv.factory.open_client`). Each method sends its parameters as data to
``scripts/<operation>.ps1`` and validates the returned JSON into a model of :mod:`functions.hyperv.models`.
Script failures arrive as the ``functions.hyperv.errors`` exception of their category (``VmNotFound``,
``InvalidVmState``, …); a result that does not fit its model is a ``ProtocolError``.

VMs are addressed by id (GUID) everywhere, except where a name is the input (preflight, prepare, create).
Every operation is safe to repeat after an unknown outcome (an activity may run twice): see each method.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from functions.hyperv.calls import guid
from functions.hyperv.checkpoint_ops import CheckpointOperations
from functions.hyperv.device_ops import DeviceOperations
from functions.hyperv.errors import ProtocolError
from functions.hyperv.library import ChunkWritten, LibraryFile, LibraryInstall, UploadStatus
from functions.hyperv.models import (
    ClusterChange,
    CreateVmSpec,
    EjectResult,
    GuestKvp,
    HostInventory,
    HostOperation,
    ImageInfo,
    IsoLibrary,
    OperationKind,
    OperationStopped,
    OwnedRemoval,
    PingResult,
    PowerResult,
    PreflightReport,
    PreflightSpec,
    PreparedDisk,
    PrepareDiskSpec,
    RemoveResult,
    StartAnnounced,
    SwitchInfo,
    VmInfo,
)
from functions.models.json import JsonObject
from functions.telemetry.winrm import TracedRunner

__all__ = ["DEFAULT_INTRINSIC_ITEMS", "HyperVClient", "OperationRunner"]

M = TypeVar("M", bound=BaseModel)

DEFAULT_INTRINSIC_ITEMS: tuple[str, ...] = (
    "OSName",
    "OSVersion",
    "FullyQualifiedDomainName",
    "NetworkAddressIPv4",
    "NetworkAddressIPv6",
    "IntegrationServicesVersion",
)
"""Intrinsic KVP items :meth:`HyperVClient.read_guest_kvp` returns unless told otherwise."""


class OperationRunner(Protocol):
    """What the facade needs from the runner: run one operation script with data parameters."""

    def run(self, operation: str, params: Mapping[str, Any]) -> Any:
        """Run ``scripts/<operation>.ps1`` with ``params`` and return its parsed JSON result."""
        ...

    def run_many(self, calls: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Any]:
        """Run several operations in order in one command; their results in order (the first failure raises)."""
        ...


def _vm_id(value: str) -> str:
    return guid("vm_id", value)


class HyperVClient(DeviceOperations, CheckpointOperations):
    """Typed operations on one Hyper-V host.

    Methods named for a workflow step (:meth:`preflight_with_library`, :meth:`start_and_announce`,
    :meth:`finish_guest`) do what the step always needs in one command, so a step costs one set of WinRM round
    trips.

    ``host`` is only used in error messages (``ProtocolError`` for results that do not fit their model).
    """

    def __init__(self, runner: OperationRunner, *, host: str | None = None) -> None:
        self.host = host if host is not None else getattr(getattr(runner, "transport", None), "host", None)
        self._runner: OperationRunner = TracedRunner(runner, self.host)  # a span and metrics per operation

    # -- plumbing ------------------------------------------------------------------------------------------------

    def _run(self, operation: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._runner.run(operation, dict(params or {}))

    def _parse(self, operation: str, model: type[M], value: Any) -> M:
        try:
            return model.model_validate(value)
        except ValidationError as exc:
            raise ProtocolError(
                f"operation {operation}: result does not match {model.__name__}: {exc.error_count()} problem(s), "
                f"first: {exc.errors()[0]['loc']} {exc.errors()[0]['msg']}",
                host=self.host,
            ) from exc

    def _call(self, operation: str, model: type[M], params: Mapping[str, Any] | None = None) -> M:
        return self._parse(operation, model, self._run(operation, params))

    def _list(self, operation: str, key: str, model: type[M], params: Mapping[str, Any] | None = None) -> list[M]:
        result = self._run(operation, params)
        items = result.get(key) if isinstance(result, dict) else None
        if not isinstance(items, list):
            raise ProtocolError(f"operation {operation}: result lacks the '{key}' list", host=self.host)
        return [self._parse(operation, model, item) for item in items]

    # -- reading ---------------------------------------------------------------------------------------------------

    def ping(self, echo: Mapping[str, str]) -> PingResult:
        """A round trip through the runner: the host's name and PowerShell version, and ``echo`` sent back unchanged."""
        return self._call("ping", PingResult, echo)

    def collect_inventory(self) -> HostInventory:
        """Host facts and every VM, in one script run (batched CIM queries on the host)."""
        return self._call("collect_inventory", HostInventory)

    def get_vm(self, vm_id: str) -> VmInfo:
        """One VM by id, with the inventory fields. Raises ``VmNotFound``."""
        return self._call("get_vm", VmInfo, {"vm_id": _vm_id(vm_id)})

    def list_images(self, *, image_paths: Sequence[str] | None = None) -> list[ImageInfo]:
        r"""Golden images: ``*.vhdx`` in ``C:\ClusterStorage\*\DiskImages`` and the standalone library folders.

        ``image_paths`` replaces the standalone default (``C:\Hyper-V\DiskImages``).
        """
        params = {} if image_paths is None else {"image_paths": list(image_paths)}
        return self._list("list_images", "images", ImageInfo, params)

    def list_isos(self, *, install_dir: str | None = None) -> IsoLibrary:
        r"""Provisioning ISOs and the protocol version of the install directory (``C:\Program Files\Aether-V``)."""
        return self._call("list_isos", IsoLibrary, {} if install_dir is None else {"install_dir": install_dir})

    def list_switches(self) -> list[SwitchInfo]:
        """The host's virtual switches."""
        return self._list("list_switches", "switches", SwitchInfo)

    # -- creating --------------------------------------------------------------------------------------------------

    def preflight_create(self, spec: PreflightSpec) -> PreflightReport:
        """Check a create request without changing anything; the report lists every failed check."""
        return self._call("preflight_create", PreflightReport, spec.model_dump(mode="json"))

    def prepare_disk(self, spec: PrepareDiskSpec) -> PreparedDisk:
        """Make the OS disk in a new VM folder (clone + grow, or blank).

        Repeatable: a folder already made by the same ``job_id`` is reused (``created`` is then False); a folder of
        any other owner raises ``VmAlreadyExists``. Also ``ImageNotFound``, ``InsufficientResources``,
        ``InvalidParameters``.
        """
        return self._call("prepare_disk", PreparedDisk, spec.model_dump(mode="json"))

    def preflight_with_library(self, spec: PreflightSpec) -> tuple[PreflightReport, IsoLibrary]:
        """:meth:`preflight_create` and :meth:`list_isos` in one command (the create's preflight step)."""
        results = self._runner.run_many([("preflight_create", spec.model_dump(mode="json")), ("list_isos", {})])
        report = self._parse("preflight_create", PreflightReport, results[0])
        return report, self._parse("list_isos", IsoLibrary, results[1])

    # -- background operations -------------------------------------------------------------------------------------

    def start_operation(
        self,
        kind: OperationKind,
        operation_id: str,
        spec: PrepareDiskSpec,
        *,
        time_limit_seconds: int | None = None,
    ) -> HostOperation:
        """Start long work (``kind``) on the host as a background operation that outlives this call, and return it.

        ``prepare_disk`` takes a :class:`PrepareDiskSpec`: the same checks, folder and result as :meth:`prepare_disk`,
        the copy done by a scheduled task on the host. Repeatable: an ``operation_id`` that exists in the job's folder
        is returned as it is (never started twice). ``time_limit_seconds`` bounds the work on the host (the task's
        ``ExecutionTimeLimit``). Raises what :meth:`prepare_disk` raises, before anything runs in the background.
        """
        params: JsonObject = {"kind": kind, "operation_id": operation_id, **spec.model_dump(mode="json")}
        if time_limit_seconds is not None:
            params["time_limit_seconds"] = int(time_limit_seconds)
        return self._call("start_operation", HostOperation, params)

    def operation_status(self, operation_id: str, folder: str) -> HostOperation:
        """The background operation's state, progress and result: one short call, nothing waited for.

        A worker that ended without a result is reported ``failed`` (``HostOperationFailed``). Raises
        ``OperationNotFound``.
        """
        return self._call("operation_status", HostOperation, {"operation_id": operation_id, "folder": folder})

    def stop_operation(self, operation_id: str, folder: str) -> OperationStopped:
        """Stop a background operation's worker (its partial output stays for the caller to remove). Repeatable."""
        return self._call("stop_operation", OperationStopped, {"operation_id": operation_id, "folder": folder})

    def create_vm(self, spec: CreateVmSpec) -> VmInfo:
        """Register the VM around a prepared disk (not started) and return it.

        Repeatable: the VM this job already registered in its folder is returned again. Raises
        ``VmAlreadyExists`` (another VM has the name), ``SwitchNotFound``, ``ImageNotFound`` (provisioning ISO
        missing), ``InvalidParameters``.
        """
        return self.get_vm(self.register_vm(spec))

    def register_vm(self, spec: CreateVmSpec) -> str:
        """:meth:`create_vm` without reading the VM back: its id (normalised). Repeatable like :meth:`create_vm`."""
        created = self._run("create_vm", spec.model_dump(mode="json"))
        if not isinstance(created, dict) or not isinstance(created.get("id"), str):
            raise ProtocolError("operation create_vm: result lacks the VM id", host=self.host)
        return _vm_id(created["id"])

    # -- power -----------------------------------------------------------------------------------------------------

    def start_vm(self, vm_id: str, *, if_needed: bool = False) -> PowerResult:
        """Start (Off, Saved) or resume (Paused) a VM.

        A Running or Starting VM raises ``InvalidVmState``, unless ``if_needed`` (for a retried workflow step): then
        it is success with ``changed`` False.
        """
        return self._call("start_vm", PowerResult, {"vm_id": _vm_id(vm_id), "if_needed": if_needed})

    def start_and_announce(
        self,
        vm_id: str,
        items: Mapping[str, str],
        *,
        version_key: str,
        guest_state_key: str,
        remove_prefix: str,
    ) -> StartAnnounced:
        """The create's start step in one command: pool, start (if needed), pool again, ISO version, announcement.

        Writes ``version_key`` (the library's version) and then ``items``, after removing the host items under
        ``remove_prefix`` -- unless the library has no version or the VM was started here with ``guest_state_key``
        already in its guest pool (``announced`` is then False and nothing was written).
        """
        params = {
            "vm_id": _vm_id(vm_id),
            "items": [{"name": name, "data": data} for name, data in items.items()],
            "version_key": version_key,
            "guest_state_key": guest_state_key,
            "remove_prefix": remove_prefix,
            "intrinsic_names": list(DEFAULT_INTRINSIC_ITEMS),
        }
        return self._call("start_and_announce", StartAnnounced, params)

    def stop_vm(self, vm_id: str) -> PowerResult:
        """Turn a VM off (no guest shutdown). An Off VM is success with ``changed`` False."""
        return self._call("stop_vm", PowerResult, {"vm_id": _vm_id(vm_id)})

    def shutdown_vm(self, vm_id: str, *, timeout_seconds: int = 120) -> PowerResult:
        """Shut the guest down through its integration service and wait until Off.

        An Off VM is success with ``changed`` False. Raises ``InvalidVmState`` (not Running, or no integration
        service) and ``OperationTimeout`` (still not Off after ``timeout_seconds``).
        """
        params = {"vm_id": _vm_id(vm_id), "timeout_seconds": int(timeout_seconds)}
        return self._call("shutdown_vm", PowerResult, params)

    def restart_vm(self, vm_id: str) -> PowerResult:
        """Hard-reset a Running VM. Other states raise ``InvalidVmState``."""
        return self._call("restart_vm", PowerResult, {"vm_id": _vm_id(vm_id)})

    # -- removing --------------------------------------------------------------------------------------------------

    def remove_vm(
        self,
        vm_id: str | None,
        *,
        vm_name: str | None = None,
        job_id: str | None = None,
        storage_roots: Sequence[str] | None = None,
    ) -> RemoveResult:
        """Remove a VM, its disks, provisioning ISO copies and (when nothing unknown is left) its folder.

        A missing VM is success (``existed`` False). With ``vm_name`` and ``job_id`` the folder that job prepared is
        cleaned up too, so a create that failed before the VM existed can be compensated with ``vm_id=None``.
        A clustered VM raises ``ClusterError`` (call :meth:`remove_from_cluster` first).
        """
        params: JsonObject = {"vm_id": None if vm_id is None else _vm_id(vm_id)}
        if vm_name is not None and job_id is not None:
            params.update(vm_name=vm_name, job_id=job_id)
        if storage_roots is not None:
            params["storage_roots"] = list(storage_roots)
        return self._call("remove_vm", RemoveResult, params)

    def remove_owned(self, job_id: str, vm_name: str, *, storage_roots: Sequence[str] | None = None) -> OwnedRemoval:
        """Remove everything job ``job_id`` owns on the host, found by its ownership marks (a create's compensation).

        A VM is the job's when its notes carry ``aetherv-job: <job_id>`` or its configuration lives in the job's
        marked folder; it loses its cluster role and is removed with its disks, then the job's folders go when
        nothing unknown is left in them. Nothing without the mark is touched (reported in ``not_owned``).
        Repeatable: what is gone is no longer found.
        """
        params: JsonObject = {"job_id": job_id, "vm_name": vm_name}
        if storage_roots is not None:
            params["storage_roots"] = list(storage_roots)
        return self._call("remove_owned", OwnedRemoval, params)

    def eject_iso(self, vm_id: str) -> EjectResult:
        """Remove the provisioning DVD drive(s) (and emptied ones) and delete the VM's ISO copy. Repeatable."""
        return self._call("eject_iso", EjectResult, {"vm_id": _vm_id(vm_id)})

    # -- provisioning library ----------------------------------------------------------------------------------------

    def finish_guest(self, vm_id: str, remove_prefix: str) -> EjectResult:
        """:meth:`eject_iso`, then remove every host KVP item under ``remove_prefix``: one command."""
        vm = _vm_id(vm_id)
        write = {"vm_id": vm, "items": [], "remove_prefix": remove_prefix, "remove": []}
        results = self._runner.run_many([("eject_iso", {"vm_id": vm}), ("write_host_kvp", write)])
        return self._parse("eject_iso", EjectResult, results[0])

    def upload_status(self, name: str, size: int, *, install_dir: str | None = None) -> UploadStatus:
        """Where an upload of ``name`` (``size`` bytes) into the install directory stands. Changes nothing.

        The installed file's SHA-256 comes only when its length is ``size``; the partial upload's always.
        """
        params: JsonObject = {"name": name, "size": int(size)}
        if install_dir is not None:
            params["install_dir"] = install_dir
        return self._call("upload_status", UploadStatus, params)

    def upload_chunk(
        self,
        name: str,
        offset: int,
        data: bytes,
        *,
        size: int,
        sha256: str | None = None,
        restart: bool = False,
        install_dir: str | None = None,
    ) -> ChunkWritten:
        """Write ``data`` at ``offset`` of ``name``'s upload (``<name>.partial``) after the host checked its SHA-256.

        ``sha256`` is what the chunk should hash to (default: the hash of ``data``, computed here); a chunk that
        arrives otherwise is refused with ``InvalidParameters`` and nothing is written. Repeatable: bytes the upload
        already holds are compared, not written again. Bytes that differ, a gap or an overrun of ``size`` are
        ``InvalidParameters``; ``restart`` first cuts the upload at ``offset`` (0: start over).
        """
        params: JsonObject = {
            "name": name,
            "offset": int(offset),
            "size": int(size),
            "data": base64.b64encode(data).decode("ascii"),
            "sha256": sha256 if sha256 is not None else hashlib.sha256(data).hexdigest(),
            "restart": restart,
        }
        if install_dir is not None:
            params["install_dir"] = install_dir
        return self._call("upload_chunk", ChunkWritten, params)

    def install_uploads(
        self, files: Sequence[LibraryFile], *, version: str | None = None, install_dir: str | None = None
    ) -> LibraryInstall:
        """Verify every file's upload on the host, replace the files, then write ``version`` (last).

        Nothing is replaced unless every file is verified or already installed (see the states of
        :class:`~functions.hyperv.library.LibraryInstall`); an upload that hashes otherwise is deleted and reported
        ``mismatch``. A file in a DVD drive of a VM that is not Off raises ``InvalidVmState`` naming the VMs, with
        nothing changed. ``version`` needs every provisioning ISO of the library among ``files``. Repeatable.
        """
        params: JsonObject = {"files": [file.model_dump(mode="json") for file in files]}
        if version is not None:
            params["version"] = version
        if install_dir is not None:
            params["install_dir"] = install_dir
        return self._call("install_uploads", LibraryInstall, params)

    # -- KVP -------------------------------------------------------------------------------------------------------

    def read_guest_kvp(self, vm_id: str, *, intrinsic_names: Iterable[str] = DEFAULT_INTRINSIC_ITEMS) -> GuestKvp:
        """The VM's guest pool and the selected intrinsic items (empty while the guest's KVP service is down)."""
        params = {"vm_id": _vm_id(vm_id), "intrinsic_names": list(intrinsic_names)}
        return self._call("read_guest_kvp", GuestKvp, params)

    def write_host_kvp(
        self,
        vm_id: str,
        items: Mapping[str, str],
        remove_prefix: str | None = None,
        *,
        remove: Iterable[str] = (),
    ) -> None:
        """Write host KVP items (in the mapping's order) after removing stale ones, in one script run.

        Removed first: every existing host item whose name starts with ``remove_prefix`` (e.g. ``"hlvmm."``, which
        also drops stale ``<key>._N`` chunk keys), the names in ``remove``, and the names about to be written.
        """
        params = {
            "vm_id": _vm_id(vm_id),
            "items": [{"name": name, "data": data} for name, data in items.items()],
            "remove_prefix": remove_prefix,
            "remove": list(remove),
        }
        self._run("write_host_kvp", params)

    # -- cluster ---------------------------------------------------------------------------------------------------

    def add_to_cluster(self, vm_id: str) -> ClusterChange:
        """Make the VM a clustered role (CIM ``AddVirtualMachine``). Already clustered: ``changed`` False."""
        return self._call("add_to_cluster", ClusterChange, {"vm_id": _vm_id(vm_id)})

    def remove_from_cluster(self, vm_id: str) -> ClusterChange:
        """Remove the VM's cluster role, leaving the VM itself alone. Not clustered: ``changed`` False."""
        return self._call("remove_from_cluster", ClusterChange, {"vm_id": _vm_id(vm_id)})
