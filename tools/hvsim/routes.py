"""The lab's control-plane routes: out-of-band changes to the simulated hosts, as plain handler functions.

Each handler takes the lab (anything shaped like :class:`LabView`) and a
:class:`~tools.hvsim.protocol.control.ControlRequest`, and returns a JSON value or raises
:class:`~tools.hvsim.protocol.control.ControlError`; :data:`ROUTES` lists them and :func:`install` serves them on a
:class:`~tools.hvsim.protocol.control.ControlPlane`. Tests may call a handler directly::

    create_vm(lab, ControlRequest("POST", "/hvsim/hosts/hv01/vms", {"host": "hv01"}, {}, {"name": "oob01"}))

=======  ============================================  ==============================================================
POST     /hvsim/lab/seed                               re-seed every host ``{seed?, vms_per_host?}`` (faults kept)
POST     /hvsim/hosts/{host}/down | /up                refuse connections / accept them again
GET      /hvsim/hosts/{host}/vms                       the host's VMs as the inventory script reports them
POST     /hvsim/hosts/{host}/vms                       create a VM out of band ``{name, image?, memory_gb?,
                                                       cpu_count?, state?, switch?, vlan_id?, notes?}``
PATCH    /hvsim/hosts/{host}/vms/{vm_id}               change it ``{name?, state?, notes?, memory_gb?, cpu_count?}``
DELETE   /hvsim/hosts/{host}/vms/{vm_id}               remove it out of band (its disks too)
GET      /hvsim/hosts/{host}/vms/{vm_id}/kvp           ``{state, online, host, guest, intrinsic, agent_state}``
GET      /hvsim/hosts/{host}/vms/{vm_id}/guest         the guest's own state: agent, what it applied, sandbox files
GET      /hvsim/hosts/{host}/background                the host's background work: copy speed, faults, tasks
PUT      /hvsim/hosts/{host}/background                ``{copy_mb_per_second?, faults?}``: copy speed, copy faults
PUT      /hvsim/lab/guest-behaviour                    the lab's default guest behaviour
PUT      /hvsim/hosts/{host}/guest-behaviour           default guest agent behaviour of the host's new guests
PUT      /hvsim/hosts/{host}/vms/{vm_id}/guest-behaviour   behaviour of that VM's guest agent
=======  ============================================  ==============================================================
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tools.hvsim.guest import GuestBehaviour
from tools.hvsim.models import MB, Backend, CopyFault, FakeHost, FakeVm
from tools.hvsim.operations import vm_record
from tools.hvsim.protocol.control import ControlError, ControlPlane, ControlRequest
from tools.hvsim.protocol.server import WinRMHostServer
from tools.hvsim.seed import IMAGES, add_vm

__all__ = ["ROUTES", "LabHostView", "LabView", "Route", "install"]


class LabHostView(Protocol):
    """One host of the lab, as the routes use it."""

    @property
    def name(self) -> str:
        """The host's name."""
        ...

    @property
    def server(self) -> WinRMHostServer:
        """The host's WinRM server (its faults)."""
        ...


class LabView(Protocol):
    """The lab, as the routes use it (:class:`tools.hvsim.lab.Lab` is one)."""

    @property
    def backend(self) -> Backend:
        """The host models."""
        ...

    @property
    def hosts(self) -> Sequence[LabHostView]:
        """The lab's hosts and their servers."""
        ...

    @property
    def vms_per_host(self) -> int:
        """How many VMs seeding puts on each host."""
        ...

    def reseed(self, *, seed: int | None = None, vms_per_host: int | None = None) -> None:
        """Replace every host model with freshly seeded ones."""
        ...


LabHandler = Callable[[LabView, ControlRequest], Any]


@dataclass(frozen=True)
class Route:
    """A control-plane route: method, path template (``{name}`` matches one segment) and handler."""

    method: str
    path: str
    handler: LabHandler


# -- request helpers ---------------------------------------------------------------------------------------------


def _body(request: ControlRequest) -> dict[str, Any]:
    if request.body is None:
        return {}
    if not isinstance(request.body, dict):
        raise ControlError(400, "expected a JSON object")
    return request.body


def _model(lab: LabView, request: ControlRequest) -> FakeHost:
    try:
        return lab.backend.host(request.params.get("host", ""))
    except KeyError:
        raise ControlError(404, f"no simulated host named {request.params.get('host')!r}") from None


def _vm(lab: LabView, request: ControlRequest) -> tuple[FakeHost, FakeVm]:
    model = _model(lab, request)
    vm = model.find_vm(request.params.get("vm_id", ""))
    if vm is None:
        raise ControlError(404, f"no VM {request.params.get('vm_id')!r} on {model.name}")
    return model, vm


def _server(lab: LabView, request: ControlRequest) -> WinRMHostServer:
    name = _model(lab, request).name.lower()
    return next(host.server for host in lab.hosts if host.name.lower() == name)


def _behaviour(body: dict[str, Any]) -> GuestBehaviour | None:
    """A guest behaviour from JSON (None for an empty body: the default behaviour)."""
    if not body:
        return None
    try:
        return GuestBehaviour(**body)
    except (TypeError, ValueError) as exc:
        raise ControlError(400, f"invalid guest behaviour: {exc}") from None


# -- handlers ----------------------------------------------------------------------------------------------------


def seed(lab: LabView, request: ControlRequest) -> Any:
    """Re-seed every host (servers, ports and faults stay)."""
    body = _body(request)
    lab.reseed(seed=body.get("seed"), vms_per_host=body.get("vms_per_host"))
    return {"hosts": [host.name for host in lab.hosts], "vms_per_host": lab.vms_per_host}


def host_down(lab: LabView, request: ControlRequest) -> Any:
    """The host refuses connections."""
    server = _server(lab, request)
    server.faults.update({"refuse_connections": True})
    return server.faults.to_dict()


def host_up(lab: LabView, request: ControlRequest) -> Any:
    """The host accepts connections again."""
    server = _server(lab, request)
    server.faults.update({"refuse_connections": False})
    return server.faults.to_dict()


def list_vms(lab: LabView, request: ControlRequest) -> Any:
    """The host's VMs as the inventory script reports them."""
    model = _model(lab, request)
    with model.lock:
        return [vm_record(vm) for vm in model.vms.values()]


def create_vm(lab: LabView, request: ControlRequest) -> Any:
    """Create a VM out of band (as an operator in Hyper-V Manager would)."""
    model = _model(lab, request)
    body = _body(request)
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise ControlError(400, "name is required")
    image = None
    if body.get("image"):
        image = next((spec for spec in IMAGES if spec.name == body["image"]), None)
        if image is None:
            raise ControlError(400, f"unknown image {body['image']!r}")
    with model.lock:
        vm = add_vm(
            model,
            name,
            image=image,
            memory_gb=float(body.get("memory_gb", 4)),
            cpu_count=int(body.get("cpu_count", 2)),
            state=str(body.get("state", "Off")),
            switch=body.get("switch", "External"),
            vlan_id=body.get("vlan_id"),
            notes=str(body.get("notes", "")),
        )
        return vm_record(vm)


def change_vm(lab: LabView, request: ControlRequest) -> Any:
    """Change a VM out of band: name, notes, memory, processors, state."""
    model, vm = _vm(lab, request)
    body = _body(request)
    with model.lock:
        if "name" in body:
            vm.name = str(body["name"])
        if "notes" in body:
            vm.notes = str(body["notes"])
        if "memory_gb" in body:
            vm.memory_mb = int(float(body["memory_gb"]) * 1024)
        if "cpu_count" in body:
            vm.cpu_count = int(body["cpu_count"])
        if "state" in body:
            vm.set_state(str(body["state"]))
        return vm_record(vm)


def delete_vm(lab: LabView, request: ControlRequest) -> Any:
    """Remove a VM out of band, with its disks and cluster role."""
    model, vm = _vm(lab, request)
    with model.lock:
        for drive in vm.disks:
            model.fs.remove(drive.path)
        model.remove_vm(vm)
        if model.cluster is not None:
            model.cluster.remove_role(vm)
    return {"deleted": vm.id}


def read_kvp(lab: LabView, request: ControlRequest) -> Any:
    """The VM's KVP pools as the host sees them and its agent's state, without ticking the agent."""
    model, vm = _vm(lab, request)
    with model.lock:
        agent = vm.guest.agent if vm.guest is not None else None
        return {
            "state": vm.state,
            "online": vm.integration_services,
            "host": dict(vm.host_items),
            "guest": vm.guest_items,
            "intrinsic": vm.intrinsic_items,
            "agent_state": None if agent is None else str(getattr(agent, "state", None)),
        }


def read_guest(lab: LabView, request: ControlRequest) -> Any:
    """The guest's own state: its OS, its agent and what the agent applied (a real agent's sandbox too)."""
    model, vm = _vm(lab, request)
    with model.lock:
        guest = vm.guest
        if guest is None:
            raise ControlError(404, f"VM {vm.id} has no guest operating system")
        return {
            "vm": vm.id,
            "state": vm.state,
            "os_family": guest.os_family,
            "os_name": guest.os_name,
            "hostname": guest.hostname,
            "online": vm.integration_services,
            "addresses": [address for nic in vm.nics for address in nic.addresses],
            "agent": _describe_agent(guest.agent),
        }


def _describe_agent(agent: object) -> dict[str, Any] | None:
    if agent is None:
        return None
    describe = getattr(agent, "describe", None)
    if callable(describe):
        document: dict[str, Any] = describe()
        return document
    applied = getattr(agent, "applied", None)
    to_json = getattr(applied, "to_json", None)
    return {
        "agent": f"{getattr(agent, 'flavour', 'unknown')}-{getattr(agent, 'os_family', 'guest')}",
        "runtime": "simulated",
        "phase": getattr(agent, "phase", None),
        "state": getattr(agent, "state", None),
        "error_summary": getattr(agent, "error_summary", None),
        "reboots": getattr(agent, "reboots", None),
        "applied": to_json() if callable(to_json) else None,
        "events": [[at, event] for at, event in getattr(agent, "events", [])],
    }


def lab_behaviour(lab: LabView, request: ControlRequest) -> Any:
    """The lab's default guest behaviour (hosts' and VMs' own behaviours win)."""
    lab.backend.guest_behaviour = _behaviour(_body(request))
    return {"lab": True, "behaviour": _body(request)}


def host_behaviour(lab: LabView, request: ControlRequest) -> Any:
    """Default behaviour of the guest agents the host's VMs start from now on."""
    model = _model(lab, request)
    model.guest_behaviour = _behaviour(_body(request))
    return {"host": model.name, "behaviour": _body(request)}


def vm_behaviour(lab: LabView, request: ControlRequest) -> Any:
    """Behaviour of one VM's next guest agent."""
    model, vm = _vm(lab, request)
    with model.lock:
        vm.guest_behaviour = _behaviour(_body(request))
    return {"vm": vm.id, "behaviour": _body(request)}


def _describe_background(model: FakeHost) -> dict[str, Any]:
    work = model.background
    rate = work.current_rate()
    tasks = []
    for task in work.tasks.values():
        status = work.read(task.status_path) or {}
        tasks.append(
            {
                "id": task.id,
                "kind": task.kind,
                "folder": task.folder,
                "running": task.running,
                "last_result": task.last_result,
                "state": status.get("state"),
                "bytes_done": status.get("bytes_done"),
                "bytes_total": task.total,
            }
        )
    return {
        "host": model.name,
        "copy_mb_per_second": None if rate is None else rate / MB,
        "faults": [fault.to_json() for fault in work.faults],
        "tasks": tasks,
        "started": list(work.started),
    }


def read_background(lab: LabView, request: ControlRequest) -> Any:
    """The host's background work: copy speed, pending copy faults, registered tasks with their progress."""
    model = _model(lab, request)
    with model.lock:
        model.background.settle()
        return _describe_background(model)


def set_background(lab: LabView, request: ControlRequest) -> Any:
    """Set the host's copy speed (``copy_mb_per_second``, null: the lab's) and its next copies' faults."""
    model = _model(lab, request)
    body = _body(request)
    unknown = set(body) - {"copy_mb_per_second", "faults"}
    if unknown:
        raise ControlError(400, f"unknown field(s): {', '.join(sorted(unknown))}")
    speed = body.get("copy_mb_per_second")
    if speed is not None and (not isinstance(speed, int | float) or isinstance(speed, bool) or speed <= 0):
        raise ControlError(400, "copy_mb_per_second must be a positive number (or null)")
    try:
        faults = [CopyFault.from_json(item) for item in body.get("faults") or []]
    except (TypeError, ValueError) as exc:
        raise ControlError(400, f"invalid copy fault: {exc}") from None
    with model.lock:
        model.background.settle()
        if "copy_mb_per_second" in body:
            model.background.rate = None if speed is None else float(speed) * MB
        if "faults" in body:
            model.background.faults = faults
        return _describe_background(model)


ROUTES: tuple[Route, ...] = (
    Route("POST", "/hvsim/lab/seed", seed),
    Route("POST", "/hvsim/hosts/{host}/down", host_down),
    Route("POST", "/hvsim/hosts/{host}/up", host_up),
    Route("GET", "/hvsim/hosts/{host}/vms", list_vms),
    Route("POST", "/hvsim/hosts/{host}/vms", create_vm),
    Route("PATCH", "/hvsim/hosts/{host}/vms/{vm_id}", change_vm),
    Route("DELETE", "/hvsim/hosts/{host}/vms/{vm_id}", delete_vm),
    Route("GET", "/hvsim/hosts/{host}/vms/{vm_id}/kvp", read_kvp),
    Route("GET", "/hvsim/hosts/{host}/vms/{vm_id}/guest", read_guest),
    Route("GET", "/hvsim/hosts/{host}/background", read_background),
    Route("PUT", "/hvsim/hosts/{host}/background", set_background),
    Route("PUT", "/hvsim/lab/guest-behaviour", lab_behaviour),
    Route("PUT", "/hvsim/hosts/{host}/guest-behaviour", host_behaviour),
    Route("PUT", "/hvsim/hosts/{host}/vms/{vm_id}/guest-behaviour", vm_behaviour),
)


def install(plane: ControlPlane, lab: LabView) -> None:
    """Serve every route of :data:`ROUTES` for ``lab`` on ``plane``."""
    for route in ROUTES:
        plane.route(route.method, route.path, functools.partial(route.handler, lab))
