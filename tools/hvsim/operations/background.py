"""Background operations: ``start_operation``, ``operation_status`` and ``stop_operation``.

``start_operation`` checks the request and prepares what must exist first (for ``prepare_disk``: the job's folder
and its marker, see :func:`~tools.hvsim.operations.disks.disk_plan`), then registers and starts the scheduled task
whose worker copies the image (:mod:`tools.hvsim.models.background`). An operation id that already has a status
file in the job's folder is found, never started again. A disk that is already there (an earlier attempt made it)
or a blank disk needs no worker: the operation is ``succeeded`` at once. ``operation_status`` reads the status
file and checks the task: a worker that ended without a result is reported ``failed`` (``HostOperationFailed``,
transient), and a finished task is unregistered. ``stop_operation`` stops the worker and records ``canceled``.
:func:`stop_operations_in` is what ``Remove-AetherFolder`` does first: no worker may hold a file it deletes.
"""

from __future__ import annotations

import re
from typing import Any

from tools.hvsim.exceptions import InvalidParameters, OperationNotFound
from tools.hvsim.models import FakeFile, FakeHost, FakeTask, leaf_name
from tools.hvsim.models.background import TERMINAL_STATES, status_path, worker_path
from tools.hvsim.operations.disks import disk_plan, find_job_folder, grow
from tools.hvsim.operations.params import gb, list_param, read_marker, text

__all__ = ["KINDS", "operation_status", "start_operation", "stop_operation", "stop_operations_in"]

KINDS = ("prepare_disk",)
"""The kinds of background operation the host runs."""
_OPERATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,149}")
_STATUS_FILE = re.compile(r"\.aetherv-op\.(.+)\.json", re.IGNORECASE)
_DEFAULT_LIMIT = 86400
_LIMITS = (60, 604800)


def _operation_id(value: Any) -> str:
    operation_id = text(value)
    if not _OPERATION_ID.fullmatch(operation_id):
        raise InvalidParameters(f"operation_id '{operation_id}' is not a valid operation id")
    return operation_id


def view(document: dict[str, Any]) -> dict[str, Any]:
    """``Get-AetherOperationView``: what the scripts return for an operation (``starting`` shows as ``running``)."""
    done, total = int(document.get("bytes_done") or 0), int(document.get("bytes_total") or 0)
    state = "running" if document["state"] == "starting" else document["state"]
    percent = round(100.0 * done / total, 1) if total else (100.0 if state == "succeeded" else 0.0)
    return {
        "id": document["id"],
        "kind": document["kind"],
        "job_id": document["job_id"],
        "folder": document["folder"],
        "state": state,
        "bytes_done": done,
        "bytes_total": total,
        "percent": percent,
        "started": document.get("started"),
        "updated": document.get("updated"),
        "result": document.get("result"),
        "error": document.get("error"),
    }


def resolve(host: FakeHost, path: str) -> dict[str, Any]:
    """``Resolve-AetherOperation``: the status file, checked against its task; a finished task is unregistered."""
    work = host.background
    document = work.read(path)
    assert document is not None
    task = work.task(str(document["id"]))
    if document["state"] not in TERMINAL_STATES and (task is None or not task.running):
        code = task.last_result if task is not None else None
        result = "no task" if code is None else f"task result 0x{code:08X}"
        message = (
            f"the host-side worker of operation {document['id']} ended without a result ({result}); "
            "the host may have restarted"
        )
        document.update(
            state="failed", updated=work.stamp(), error={"category": "HostOperationFailed", "message": message}
        )
        work.write(path, document)
    if document["state"] in TERMINAL_STATES and task is not None:
        work.unregister(str(document["id"]))
    return view(document)


def _stop(host: FakeHost, path: str) -> tuple[bool, str | None]:
    """``Stop-AetherOperation``: stop the worker, unregister its task, record ``canceled`` if it had not ended."""
    work = host.background
    document = work.read(path)
    if document is None:
        return False, None
    stopped = work.stop(str(document["id"]))
    work.unregister(str(document["id"]))
    document = work.read(path) or document
    if document["state"] not in TERMINAL_STATES:
        document.update(state="canceled", updated=work.stamp())
        work.write(path, document)
    return stopped, str(document["state"])


def stop_operations_in(host: FakeHost, folder: str) -> None:
    """Stop every operation whose status file is in ``folder`` (before the folder's files are deleted)."""
    _, files = host.fs.list_dir(folder)
    for file in files:
        if _STATUS_FILE.fullmatch(leaf_name(file.path)):
            _stop(host, file.path)


def start_operation(host: FakeHost, params: dict[str, Any]) -> Any:
    """``start_operation.ps1``."""
    kind = text(params.get("kind"))
    operation_id = text(params.get("operation_id"))
    problems: list[str] = []
    if kind not in KINDS:
        problems.append(f"kind '{kind}' is not a background operation this host runs")
    if not _OPERATION_ID.fullmatch(operation_id):
        problems.append(f"operation_id '{operation_id}' is not a valid operation id")
    limit = _DEFAULT_LIMIT
    if params.get("time_limit_seconds") is not None:
        limit = int(params["time_limit_seconds"])
        if not _LIMITS[0] <= limit <= _LIMITS[1]:
            problems.append(f"time_limit_seconds must be between {_LIMITS[0]} and {_LIMITS[1]}")
    if problems:
        raise InvalidParameters("; ".join(problems))

    roots = host.storage_roots(list_param(params.get("storage_roots")))
    folder = find_job_folder(host, text(params.get("vm_name")), text(params.get("job_id")), roots)
    if folder is not None and host.background.read(status_path(folder, operation_id)) is not None:
        return resolve(host, status_path(folder, operation_id))  # started before: found, never started twice

    plan = disk_plan(host, params)
    stop_operations_in(host, plan.folder)  # an earlier attempt of the job that still runs is superseded
    path = status_path(plan.folder, operation_id)
    work = host.background
    source = plan.source
    document: dict[str, Any] = {
        "id": operation_id,
        "kind": kind,
        "job_id": text(params.get("job_id")),
        "folder": plan.folder,
        "state": "starting",
        "bytes_done": 0,
        "bytes_total": source.size if source is not None else 0,
        "started": work.stamp(),
        "updated": work.stamp(),
        "pid": None,
        "result": None,
        "error": None,
        "spec": {
            "source": source.path if source is not None else None,
            "partial": plan.path + ".partial",
            "path": plan.path,
            "desired": plan.desired,
            "image_name": plan.image_name,
        },
    }
    if host.fs.is_file(plan.path) or source is None:  # nothing to copy: done in this call
        created = not host.fs.is_file(plan.path)
        if created:
            host.fs.write(FakeFile(plan.path, 4 * 1024**2, kind="vhdx", virtual_size=plan.desired, vhd_type="Dynamic"))
        size = grow(host, plan.path, plan.desired)
        result = {"folder": plan.folder, "path": plan.path, "size_gb": gb(size), "image_name": plan.image_name}
        document.update(state="succeeded", bytes_done=document["bytes_total"], result={**result, "created": created})
        work.write(path, document)
        return view(document)
    host.fs.write(FakeFile(worker_path(plan.folder, operation_id), 6 * 1024, kind="text", text="# worker"))
    work.write(path, document)
    host.fs.write(FakeFile(plan.path + ".partial", source.size))  # preallocated (FileStream.SetLength)
    task = FakeTask(
        id=operation_id,
        kind=kind,
        folder=plan.folder,
        spec=document["spec"],
        total=source.size,
        started=work.clock(),
        rate=work.current_rate(),
        time_limit=limit,
    )
    work.launch(task)
    work.settle()
    return resolve(host, path)


def _existing(host: FakeHost, params: dict[str, Any]) -> tuple[str, str]:
    """The operation's id and status file path; ``OperationNotFound`` unless its folder is an Aether-V folder."""
    operation_id = _operation_id(params.get("operation_id"))
    folder = text(params.get("folder"))
    if not folder or not host.fs.is_dir(folder) or read_marker(host, folder) is None:
        raise OperationNotFound(f"'{folder}' is not an Aether-V folder on this host")
    return operation_id, status_path(folder, operation_id)


def operation_status(host: FakeHost, params: dict[str, Any]) -> Any:
    """``operation_status.ps1``."""
    operation_id, path = _existing(host, params)
    if host.background.read(path) is None:
        raise OperationNotFound(f"no operation {operation_id} in '{text(params.get('folder'))}'")
    return resolve(host, path)


def stop_operation(host: FakeHost, params: dict[str, Any]) -> Any:
    """``stop_operation.ps1``: a missing operation (or folder) is success with ``stopped`` false."""
    operation_id = _operation_id(params.get("operation_id"))
    try:
        _, path = _existing(host, params)
    except OperationNotFound:
        return {"id": operation_id, "state": "missing", "stopped": False}
    stopped, state = _stop(host, path)
    return {"id": operation_id, "state": state or "missing", "stopped": stopped}
