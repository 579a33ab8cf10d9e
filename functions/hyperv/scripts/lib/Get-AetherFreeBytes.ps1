function Get-AetherFreeBytes([string]$Path, $Volumes) {
    $best = $null
    $probe = $Path.TrimEnd('\') + '\'
    foreach ($volume in $Volumes) {
        $name = [string]$volume.Name
        if ($name -and $probe.StartsWith($name, [System.StringComparison]::OrdinalIgnoreCase)) {
            if ($null -eq $best -or $name.Length -gt ([string]$best.Name).Length) { $best = $volume }
        }
    }
    if ($null -eq $best) { return [int64]0 }
    return [int64]$best.FreeSpace
}
