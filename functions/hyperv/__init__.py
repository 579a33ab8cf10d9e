"""Hyper-V client: WinRM transport → PowerShell runner → typed Hyper-V operations, with ``scripts/*.ps1``.

Layers (each imports only the ones below it):

- :mod:`functions.hyperv.errors` — the ``HyperVError`` hierarchy every layer raises.
- :mod:`functions.hyperv.transport` — WS-Management over pywinrm (the only module that imports ``winrm``).
- :mod:`functions.hyperv.runner` — runs ``scripts/<operation>.ps1`` through the bootstrap, parameters as data.
- :mod:`functions.hyperv.client` — the typed facade, one method per script; :mod:`functions.hyperv.factory` builds one.
- :mod:`functions.hyperv.probe` — the host probe: each stage of reaching a host (name, TCP, TLS, authentication,
  a script through the runner), timed and in plain words; its report is :mod:`functions.hyperv.probe_report`.
- :mod:`functions.hyperv.connector` — the configured hosts: opens clients and runs probes for them only.
"""
