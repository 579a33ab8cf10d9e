r"""A simulated Hyper-V lab on loopback: seeded host models, one WinRM server per host and a control plane.

Python API (tests, benchmarks, the local run)::

    with Lab.start(hosts=3, vms_per_host=5, latency_ms=0) as lab:
        settings = lab.winrm_settings()                      # WinRMSettings for the lab (CA, credentials)
        with open_client(lab.hosts[0].endpoint_setting, settings=settings, addresses=lab.addresses) as hv:
            hv.collect_inventory()

Host names are ``hv01``, ``hv02``, …; every server listens on ``127.0.0.1`` with its own port and a certificate
from the lab's CA for its name and ``127.0.0.1``. Nothing resolves ``hv01`` to loopback, so the app connects to
``lab.addresses[name]`` (see :mod:`functions.hyperv.factory`); ``AETHERV_HOSTS`` is ``lab.aetherv_hosts``.

The lab serves the control-plane routes of :mod:`tools.hvsim.routes` (re-seeding, hosts down and up, VMs and
guest behaviour out of band) on the protocol's :class:`~tools.hvsim.protocol.control.ControlPlane`;
``POST /hvsim/reset`` (built in) also re-seeds the lab with its original seed and restores the latency and the
lab's default guest behaviour.

Guests: a Linux VM booted with the provisioning ISO runs the project's real agent as a process in a sandbox (it
runs in real time); ``guest_behaviour`` sets the lab-wide default :class:`~tools.hvsim.guest.GuestBehaviour`
(e.g. ``GuestBehaviour(real_linux_agent=False)`` for a lab on a :class:`~tools.hvsim.models.ManualClock`, or a
``boot_delay``). :meth:`Lab.close` stops every agent process.

Image copies take the hosts' copy time: ``copy_mb_per_second`` (None: at once) is the lab's speed; a host's own
(``lab.host(name).model.background.rate``, or ``PUT /hvsim/hosts/{host}/background``) wins, and copy faults are set
the same way (:class:`~tools.hvsim.models.CopyFault`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from functions.settings import HostEndpoint, Secret, WinRMSettings
from tools.hvsim import operations, routes
from tools.hvsim.guest import GuestBehaviour
from tools.hvsim.models import MB, Backend, FakeHost, GuestFactory, TransitionTimes, default_guest_factory
from tools.hvsim.protocol.control import ControlPlane
from tools.hvsim.protocol.server import WinRMHostServer
from tools.hvsim.protocol.tls import CertificateAuthority
from tools.hvsim.seed import seed_lab

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
        guest_behaviour: GuestBehaviour | None = None,
        copy_mb_per_second: float | None = None,
    ) -> None:
        self.host_count = hosts
        self.vms_per_host = vms_per_host
        self.latency_ms = latency_ms
        self.seed = seed
        self.username = username
        self.password = password or secrets.token_urlsafe(18)
        self.ticker_interval = ticker_interval
        self.guest_behaviour = guest_behaviour
        backend_args: dict[str, Any] = {
            "times": times,
            "guest_factory": guest_factory,
            "guest_behaviour": guest_behaviour,
            "copy_rate": None if copy_mb_per_second is None else copy_mb_per_second * MB,
        }
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
        routes.install(self.control, self)
        self.control.on_reset(self._after_reset)
        if self.ticker_interval:
            self.backend.start_ticker(self.ticker_interval)
        self._opened = True
        return self

    def close(self) -> None:
        """Stop everything (idempotent): the guest ticker, every guest agent process, the servers."""
        self.backend.close()
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
        self.backend.guest_behaviour = self.guest_behaviour  # the lab's own default again
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
