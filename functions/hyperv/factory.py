"""Builds a :class:`~functions.hyperv.client.HyperVClient` for one host from the app's settings.

:func:`open_client` is what activities use::

    with open_client(endpoint, settings=winrm_settings) as hyperv:
        inventory = hyperv.collect_inventory()

It builds one WinRM transport (one HTTP session, one remote shell reused for every operation of the ``with``
block) and deletes the shell at the end — or, given a :class:`~functions.hyperv.pool.SessionPool`, borrows a kept
session and gives it back for the next activity on the host. A transport belongs to one thread at a time, so open
one client per activity invocation. The app reaches hosts through
:class:`functions.hyperv.connector.HostConnector`, which knows the configured hosts and calls this.

``addresses`` maps host names to the address to connect to, like curl's ``--resolve``: the simulated lab's hosts
are named ``hv01``… but listen on loopback, and no resolver maps those names to 127.0.0.1. With an override the
endpoint is ``https://<address>:<port>/wsman`` and the host's certificate is checked against that address (the
lab's certificates carry ``127.0.0.1``); errors still name the host.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from functions.hyperv.client import HyperVClient
from functions.hyperv.pool import SessionPool
from functions.hyperv.runner import PowerShellRunner
from functions.hyperv.transport import ConnectionOptions, WinRMTransport
from functions.settings import HostEndpoint, WinRMSettings

__all__ = ["connection_options", "open_client", "resolve_host"]


def resolve_host(host: HostEndpoint | str, configured: tuple[HostEndpoint, ...] = ()) -> HostEndpoint:
    """``host`` as an endpoint: a name is looked up in ``configured`` (for its port) or gets the default port."""
    if isinstance(host, HostEndpoint):
        return host
    for endpoint in configured:
        if endpoint.name.lower() == host.lower():
            return endpoint
    return HostEndpoint(name=host)


def connection_options(settings: WinRMSettings, host: HostEndpoint, *, address: str | None = None) -> ConnectionOptions:
    """The transport options for ``host``, connecting to ``address`` instead of the host name when given."""
    options = ConnectionOptions.from_settings(settings, host)
    if address is None:
        return options
    netloc = f"[{address}]" if ":" in address else address
    endpoint = f"{settings.scheme}://{netloc}:{settings.port_for(host)}/wsman"
    return dataclasses.replace(options, endpoint=endpoint)


@contextmanager
def open_client(
    host: HostEndpoint | str,
    *,
    settings: WinRMSettings,
    addresses: Mapping[str, str] | None = None,
    timeout: float | None = None,
    pool: SessionPool | None = None,
) -> Iterator[HyperVClient]:
    """A client for ``host`` whose session is closed (or, with ``pool``, given back) when the block ends.

    ``timeout`` bounds each operation on top of the WinRM timeouts.
    """
    endpoint = resolve_host(host)
    address = None
    if addresses:
        address = next((value for key, value in addresses.items() if key.lower() == endpoint.name.lower()), None)
    options = connection_options(settings, endpoint, address=address)
    if pool is not None:
        with pool.lend(options) as transport:
            yield HyperVClient(PowerShellRunner(transport, timeout=timeout), host=endpoint.name)
        return
    transport = WinRMTransport(options)
    try:
        yield HyperVClient(PowerShellRunner(transport, timeout=timeout), host=endpoint.name)
    finally:
        transport.close()
