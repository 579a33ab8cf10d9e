param($Params)
# The provisioning ISOs of the install directory and the protocol version its `version` file holds.
# Params: install_dir (optional; default C:\Program Files\Aether-V).
# Returns: {install_dir, version, isos: [{os_family, path, size_gb}]}

return (Get-AetherIsoLibrary $Params.install_dir)
