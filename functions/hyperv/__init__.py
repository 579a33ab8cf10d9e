"""Hyper-V client: WinRM transport → PowerShell runner → typed Hyper-V operations, with ``scripts/*.ps1``.

Layers (each imports only the ones below it):

- :mod:`functions.hyperv.errors` — the ``HyperVError`` hierarchy every layer raises.
- :mod:`functions.hyperv.transport` — WS-Management over pywinrm (the only module that imports ``winrm``).
- :mod:`functions.hyperv.runner` — runs ``scripts/<operation>.ps1`` through the bootstrap, parameters as data.
"""
