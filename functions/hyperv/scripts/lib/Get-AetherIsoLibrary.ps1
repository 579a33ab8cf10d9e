function Get-AetherIsoLibrary($Directory) {
    $installDir = 'C:\Program Files\Aether-V'
    if ($Directory) { $installDir = [string]$Directory }

    $version = $null
    $versionFile = [System.IO.Path]::Combine($installDir, 'version')
    if (Test-Path -LiteralPath $versionFile -PathType Leaf) {
        $text = [System.IO.File]::ReadAllText($versionFile).Trim([char[]]@([char]0xFEFF, [char]0, ' ', "`t", "`r", "`n"))
        if ($text) { $version = $text }
    }

    $isos = New-Object System.Collections.ArrayList
    foreach ($entry in @(@('windows', 'WindowsProvisioning.iso'), @('linux', 'LinuxProvisioning.iso'))) {
        $path = [System.IO.Path]::Combine($installDir, $entry[1])
        if (Test-Path -LiteralPath $path -PathType Leaf) {
            $file = Get-Item -LiteralPath $path
            [void]$isos.Add([ordered]@{ os_family = $entry[0]; path = $file.FullName; size_gb = [math]::Round($file.Length / 1gb, 2) })
        }
    }
    return [ordered]@{ install_dir = $installDir; version = $version; isos = @($isos) }
}
