"""WS-Management plumbing of the simulated hosts: TLS, NTLM/Basic auth, shells, faults, dispatch, control plane.

- :mod:`~tools.hvsim.protocol.server` — :class:`WinRMHostServer`, one simulated host's WinRM service.
- :mod:`~tools.hvsim.protocol.tls` — :class:`CertificateAuthority` for the hosts' HTTPS certificates.
- :mod:`~tools.hvsim.protocol.dispatch` — ``register(operation)`` for handlers, :class:`OperationContext`.
- :mod:`~tools.hvsim.protocol.errors` — :class:`ScriptError` for handlers, :class:`WSManFault`.
- :mod:`~tools.hvsim.protocol.faults` — per-host faults, latency and counters.
- :mod:`~tools.hvsim.protocol.control` — :class:`ControlPlane`, the lab's small JSON HTTP API.
"""
