"""The one place that knows the configured Hyper-V hosts: their endpoints, their addresses, and how to reach them.

Everything that talks to a host — workflow steps, the inventory sync, the host library routes, the host probe —
asks the :class:`HostConnector` built by the composition root: ``is_configured(name)``, ``endpoint(name)``,
``open(name)``, ``probe(name)``. A name that is not configured raises
:class:`~functions.errors.HostNotConfigured` (never a connection attempt to an arbitrary name).

The connector owns the worker's :class:`~functions.hyperv.pool.SessionPool`: ``open`` lends a kept WinRM session
(``AETHERV_WINRM_SESSION_IDLE_SECONDS``; 0 opens and closes one per call). The probe always connects afresh: it
reports each stage of a new connection.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from functions.errors import HostNotConfigured
from functions.hyperv.client import HyperVClient
from functions.hyperv.factory import open_client
from functions.hyperv.pool import SessionPool
from functions.hyperv.probe import PROBE_TIME_LIMIT, probe_host
from functions.hyperv.probe_report import ProbeReport
from functions.settings import HostEndpoint, WinRMSettings

__all__ = ["HostConnector"]


class HostConnector:
    """Opens Hyper-V clients for the configured hosts (``addresses`` overrides name resolution, like ``--resolve``)."""

    def __init__(
        self,
        winrm: WinRMSettings,
        hosts: tuple[HostEndpoint, ...],
        addresses: Mapping[str, str] | None = None,
        *,
        pool: SessionPool | None = None,
    ) -> None:
        self.winrm = winrm
        self.pool = pool if pool is not None else SessionPool(idle_seconds=winrm.session_idle_seconds)
        self._hosts = {host.name.lower(): host for host in hosts}
        self._addresses = {name.lower(): address for name, address in (addresses or {}).items()}

    @property
    def names(self) -> tuple[str, ...]:
        """The configured host names, as configured."""
        return tuple(host.name for host in self._hosts.values())

    def is_configured(self, name: str) -> bool:
        """Whether ``name`` is a configured host (case-insensitive)."""
        return name.lower() in self._hosts

    def endpoint(self, name: str) -> HostEndpoint:
        """The configured endpoint of ``name``; raises :class:`HostNotConfigured`."""
        try:
            return self._hosts[name.lower()]
        except KeyError:
            raise HostNotConfigured(name) from None

    def address(self, name: str) -> str | None:
        """The ``AETHERV_HOST_ADDRESSES`` override of ``name`` (connected to instead of the name), if any."""
        return self._addresses.get(name.lower())

    def probe(self, name: str, *, time_limit: float = PROBE_TIME_LIMIT) -> ProbeReport:
        """Probe the configured host ``name`` stage by stage (:mod:`functions.hyperv.probe`).

        Raises :class:`HostNotConfigured` for a name that is not configured, before any connection attempt.
        """
        endpoint = self.endpoint(name)
        return probe_host(endpoint, settings=self.winrm, address=self.address(name), time_limit=time_limit)

    @contextmanager
    def open(self, name: str, *, timeout: float | None = None) -> Iterator[HyperVClient]:
        """A client for the configured host ``name`` on a pooled session (given back when the block ends)."""
        endpoint = self.endpoint(name)
        with open_client(
            endpoint, settings=self.winrm, addresses=self._addresses, timeout=timeout, pool=self.pool
        ) as client:
            yield client
