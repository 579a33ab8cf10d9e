r"""A simulated Hyper-V lab on loopback: seeded host models, one WinRM server per host and a control plane.

Python API (tests, benchmarks, the local run)::

    with Lab.start(hosts=3, vms_per_host=5, latency_ms=0) as lab:
        settings = lab.winrm_settings()                      # WinRMSettings for the lab (CA, credentials)
        with open_client(lab.hosts[0].endpoint_setting, settings=settings, addresses=lab.addresses) as hv:
            hv.collect_inventory()

Host names are ``hv01``, ``hv02``, …; every server listens on ``127.0.0.1`` with its own port and a certificate
from the lab's CA for its name and ``127.0.0.1``. Nothing resolves ``hv01`` to loopback, so the app connects to
``lab.addresses[name]`` (see :mod:`functions.hyperv.factory`); ``AETHERV_HOSTS`` is ``lab.aetherv_hosts``.

Control-plane routes added to the protocol's :class:`~tools.hvsim.protocol.control.ControlPlane` (JSON):

    POST   /hvsim/lab/seed                        {"seed"?, "vms_per_host"?} re-seed every host (faults kept)
    POST   /hvsim/hosts/{host}/down | /up         refuse connections / accept them again
    GET    /hvsim/hosts/{host}/vms                the host's VMs as the inventory script reports them
    POST   /hvsim/hosts/{host}/vms                create a VM out of band: {name, image?, memory_gb?, cpu_count?,
                                                  state?, switch?, vlan_id?, notes?}
    PATCH  /hvsim/hosts/{host}/vms/{vm_id}        change it out of band: {name?, state?, notes?, memory_gb?,
                                                  cpu_count?}
    DELETE /hvsim/hosts/{host}/vms/{vm_id}        remove it out of band (its disks too)
    GET    /hvsim/hosts/{host}/vms/{vm_id}/kvp    {state, host, guest, intrinsic}: the VM's KVP pools
    PUT    /hvsim/hosts/{host}/guest-behaviour    default guest agent behaviour of the host's new guests
    PUT    /hvsim/hosts/{host}/vms/{vm_id}/guest-behaviour   behaviour of that VM's guest agent

``POST /hvsim/reset`` (built in) also re-seeds the lab with its original seed and restores the latency.
"""

from __future__ import annotations

import importlib
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from functions.settings import HostEndpoint, Secret, WinRMSettings
from tools.hvsim import operations
from tools.hvsim.models import Backend, FakeHost, FakeVm, GuestFactory, TransitionTimes, default_guest_factory
from tools.hvsim.operations import vm_record
from tools.hvsim.protocol.control import ControlError, ControlPlane, ControlRequest
from tools.hvsim.protocol.server import WinRMHostServer
from tools.hvsim.protocol.tls import CertificateAuthority
from tools.hvsim.seed import IMAGES, add_vm, seed_lab

__all__ = ["LOOPBACK", "Lab", "LabHost"]

LOOPBACK = "127.0.0.1"
DEFAULT_USERNAME = "LAB\\aetherv"


@dataclass
class LabHost:
    """One simulated host of a lab: its name, endpoint, credentials, model and server."""

    name: str
    port: int
    endpoint: str
    username: str
    password: str
    ca_cert: str
    control: str
    server: WinRMHostServer
    lab: Lab

    @property
    def model(self) -> FakeHost:
        """The host's Hyper-V model (replaced when the lab is re-seeded)."""
        return self.lab.backend.host(self.name)

    @property
    def endpoint_setting(self) -> HostEndpoint:
        """The host as the app configures it (name and port)."""
        return HostEndpoint(name=self.name, port=self.port)

    def to_json(self) -> dict[str, Any]:
        """What ``python -m tools.hvsim --json`` prints for the host."""
        return {
            "name": self.name,
            "endpoint": self.endpoint,
            "address": LOOPBACK,
            "port": self.port,
            "username": self.username,
            "password": self.password,
            "ca_cert": self.ca_cert,
            "control": self.control,
        }


class Lab:
    """A running lab. Create with :meth:`start` (a context manager) or :meth:`open` / :meth:`close`."""

    def __init__(
        self,
        *,
        hosts: int = 3,
        vms_per_host: int = 5,
        latency_ms: float = 0,
        seed: int = 0,
        times: TransitionTimes | None = None,
        guest_factory: GuestFactory = default_guest_factory,
        username: str = DEFAULT_USERNAME,
        password: str | None = None,
        control_port: int = 0,
        ticker_interval: float | None = 0.2,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.host_count = hosts
        self.vms_per_host = vms_per_host
        self.latency_ms = latency_ms
        self.seed = seed
        self.username = username
        self.password = password or secrets.token_urlsafe(18)
        self.ticker_interval = ticker_interval
        backend_args: dict[str, Any] = {"times": times, "guest_factory": guest_factory}
        if clock is not None:
            backend_args["clock"] = clock
        if sleep is not None:
            backend_args["sleep"] = sleep
        self.backend = Backend(**backend_args)
        self.ca = CertificateAuthority()
        self.control = ControlPlane(port=control_port)
        self.hosts: list[LabHost] = []
        self._opened = False

    # -- lifecycle ------------------------------------------------------------------------------------------------

    @classmethod
    @contextmanager
    def start(cls, **options: Any) -> Iterator[Lab]:
        """Start a lab for the ``with`` block (options as for the constructor)."""
        lab = cls(**options)
        lab.open()
        try:
            yield lab
        finally:
            lab.close()

    def open(self) -> Lab:
        """Seed the models, start every WinRM server, the control plane and the guest ticker."""
        operations.install()
        seed_lab(self.backend, hosts=self.host_count, vms_per_host=self.vms_per_host, seed=self.seed)
        self.control.start()
        for model in self.backend.hosts.values():
            server = WinRMHostServer(
                model.name, model, self.username, self.password, self.ca, latency_ms=self.latency_ms
            )
            server.start()
            self.control.add_host(server)
            port = server.https_port
            assert port is not None
            self.hosts.append(
                LabHost(
                    name=model.name,
                    port=port,
                    endpoint=server.endpoint,
                    username=self.username,
                    password=self.password,
                    ca_cert=str(self.ca.ca_pem_path),
                    control=self.control.url,
                    server=server,
                    lab=self,
                )
            )
        self._add_routes()
        self.control.on_reset(self._after_reset)
        if self.ticker_interval:
            self.backend.start_ticker(self.ticker_interval)
        self._opened = True
        return self

    def close(self) -> None:
        """Stop everything (idempotent)."""
        self.backend.stop_ticker()
        for host in self.hosts:
            host.server.stop()
        self.control.stop()
        self._opened = False

    def reset(self, *, seed: int | None = None, vms_per_host: int | None = None) -> None:
        """Clear faults, counters and shells, then re-seed every host (original seed unless given)."""
        self.control.reset()
        if seed is not None or vms_per_host is not None:
            self.reseed(seed=seed, vms_per_host=vms_per_host)

    def reseed(self, *, seed: int | None = None, vms_per_host: int | None = None) -> None:
        """Replace every host model with freshly seeded ones (servers, ports and faults stay)."""
        if vms_per_host is not None:
            self.vms_per_host = vms_per_host
        seed_lab(
            self.backend,
            hosts=self.host_count,
            vms_per_host=self.vms_per_host,
            seed=self.seed if seed is None else seed,
        )
        for host in self.hosts:
            host.server.backend = self.backend.host(host.name)

    def _after_reset(self) -> None:
        self.reseed()
        for host in self.hosts:
            host.server.faults.update({"latency_ms": self.latency_ms})

    # -- configuration for the app --------------------------------------------------------------------------------

    @property
    def addresses(self) -> dict[str, str]:
        """Host name → address to connect to (every lab host is on loopback)."""
        return {host.name: LOOPBACK for host in self.hosts}

    @property
    def aetherv_hosts(self) -> str:
        """The ``AETHERV_HOSTS`` value for this lab (``hv01:<port>,hv02:<port>,…``)."""
        return ",".join(f"{host.name}:{host.port}" for host in self.hosts)

    def host(self, name: str) -> LabHost:
        """The lab host named ``name``."""
        for host in self.hosts:
            if host.name.lower() == name.lower():
                return host
        raise KeyError(name)

    def winrm_settings(
        self, *, connect_timeout: float = 5, operation_timeout: float = 10, read_timeout: float = 20
    ) -> WinRMSettings:
        """WinRM settings that reach this lab: https + NTLM, the lab's CA and credentials."""
        return WinRMSettings(
            scheme="https",
            port=5986,
            transport="ntlm",
            username=self.username,
            password=Secret(self.password),
            ca_bundle=str(self.ca.ca_pem_path),
            verify_tls=True,
            cert_pem=None,
            cert_key_pem=None,
            connect_timeout=connect_timeout,
            operation_timeout=operation_timeout,
            read_timeout=read_timeout,
        )

    def to_json(self) -> list[dict[str, Any]]:
        """The hosts as ``--json`` prints them."""
        return [host.to_json() for host in self.hosts]

    # -- control plane --------------------------------------------------------------------------------------------

    def _model(self, request: ControlRequest) -> FakeHost:
        try:
            return self.backend.host(request.params.get("host", ""))
        except KeyError:
            raise ControlError(404, f"no simulated host named {request.params.get('host')!r}") from None

    def _vm(self, request: ControlRequest) -> tuple[FakeHost, FakeVm]:
        model = self._model(request)
        vm = model.find_vm(request.params.get("vm_id", ""))
        if vm is None:
            raise ControlError(404, f"no VM {request.params.get('vm_id')!r} on {model.name}")
        return model, vm

    @staticmethod
    def _body(request: ControlRequest) -> dict[str, Any]:
        if request.body is None:
            return {}
        if not isinstance(request.body, dict):
            raise ControlError(400, "expected a JSON object")
        return request.body

    def _add_routes(self) -> None:
        plane = self.control

        def seed(request: ControlRequest) -> Any:
            body = self._body(request)
            self.reseed(seed=body.get("seed"), vms_per_host=body.get("vms_per_host"))
            return {"hosts": [host.name for host in self.hosts], "vms_per_host": self.vms_per_host}

        def set_down(down: bool) -> Callable[[ControlRequest], Any]:
            def handler(request: ControlRequest) -> Any:
                server = self.host(self._model(request).name).server
                server.faults.update({"refuse_connections": down})
                return server.faults.to_dict()

            return handler

        def list_vms(request: ControlRequest) -> Any:
            model = self._model(request)
            with model.lock:
                return [vm_record(vm) for vm in model.vms.values()]

        def create_vm(request: ControlRequest) -> Any:
            model = self._model(request)
            body = self._body(request)
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

        def change_vm(request: ControlRequest) -> Any:
            model, vm = self._vm(request)
            body = self._body(request)
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

        def delete_vm(request: ControlRequest) -> Any:
            model, vm = self._vm(request)
            with model.lock:
                for drive in vm.disks:
                    model.fs.remove(drive.path)
                del model.vms[vm.id]
                if model.cluster is not None:
                    model.cluster.remove_role(vm)
            return {"deleted": vm.id}

        def read_kvp(request: ControlRequest) -> Any:
            model, vm = self._vm(request)
            with model.lock:
                guest_pool = dict(vm.guest.guest_pool) if vm.guest is not None else {}
                agent = vm.guest.agent if vm.guest is not None else None
                return {
                    "state": vm.state,
                    "host": dict(vm.host_items),
                    "guest": guest_pool,
                    "intrinsic": vm.intrinsic_items,
                    "agent_state": None if agent is None else str(getattr(agent, "state", None)),
                }

        def host_behaviour(request: ControlRequest) -> Any:
            model = self._model(request)
            model.guest_behaviour = _behaviour(self._body(request))
            return {"host": model.name, "behaviour": self._body(request)}

        def vm_behaviour(request: ControlRequest) -> Any:
            model, vm = self._vm(request)
            with model.lock:
                vm.guest_behaviour = _behaviour(self._body(request))
            return {"vm": vm.id, "behaviour": self._body(request)}

        plane.route("POST", "/hvsim/lab/seed", seed)
        plane.route("POST", "/hvsim/hosts/{host}/down", set_down(True))
        plane.route("POST", "/hvsim/hosts/{host}/up", set_down(False))
        plane.route("GET", "/hvsim/hosts/{host}/vms", list_vms)
        plane.route("POST", "/hvsim/hosts/{host}/vms", create_vm)
        plane.route("PATCH", "/hvsim/hosts/{host}/vms/{vm_id}", change_vm)
        plane.route("DELETE", "/hvsim/hosts/{host}/vms/{vm_id}", delete_vm)
        plane.route("GET", "/hvsim/hosts/{host}/vms/{vm_id}/kvp", read_kvp)
        plane.route("PUT", "/hvsim/hosts/{host}/guest-behaviour", host_behaviour)
        plane.route("PUT", "/hvsim/hosts/{host}/vms/{vm_id}/guest-behaviour", vm_behaviour)


def _behaviour(body: dict[str, Any]) -> Any:
    """A guest behaviour from JSON: the guest module's ``GuestBehaviour(**body)`` (None for an empty body)."""
    if not body:
        return None
    module = importlib.import_module("tools.hvsim.guest")
    try:
        return module.GuestBehaviour(**body)
    except TypeError as exc:
        raise ControlError(400, f"invalid guest behaviour: {exc}") from None
