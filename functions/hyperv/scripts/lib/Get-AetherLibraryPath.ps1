function Get-AetherLibraryPath([string]$InstallDir, [string]$Name) {
    # The path of a file of the provisioning library (the install directory): $Name must be a plain .iso file name,
    # never a path, so an upload can only ever land next to the provisioning ISOs.
    if (-not (Test-AetherFileName $Name) -or -not $Name.EndsWith('.iso', [System.StringComparison]::OrdinalIgnoreCase)) {
        Fail-AetherV 'InvalidParameters' "name '$Name' is not an .iso file name"
    }
    return [System.IO.Path]::Combine($InstallDir, $Name)
}
