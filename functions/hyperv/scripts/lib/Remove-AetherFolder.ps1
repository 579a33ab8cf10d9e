function Remove-AetherFolder([string]$Folder, $InUse, $Deleted, $Kept) {
    # Deletes the known content of a VM folder Aether-V made (its disks not in use, provisioning ISO copies, partial
    # copies, background operations' status files and workers, the marker); the folder itself only when nothing
    # unknown is left in it. Unknown files are kept and reported in $Kept. Returns $true when the folder is gone.
    # A background operation still running in the folder is stopped first: its worker holds its copy open.
    foreach ($status in @(Get-ChildItem -LiteralPath $Folder -Force -File -Filter '.aetherv-op.*.json')) {
        [void](Stop-AetherOperation $status.FullName)
    }
    $known = New-Object System.Collections.ArrayList
    $unknown = New-Object System.Collections.ArrayList
    foreach ($file in @(Get-ChildItem -LiteralPath $Folder -Recurse -Force -File)) {
        $relative = $file.FullName.Substring($Folder.TrimEnd('\').Length + 1)
        $isTop = $relative -notmatch '\\'
        $isKnown = $isTop -and (
            ($file.Name -like '*.vhdx' -and -not $InUse.ContainsKey($file.FullName.ToLowerInvariant())) -or
            $file.Name -like '*Provisioning*.iso' -or $file.Name -like '*.partial' -or $file.Name -like '.aetherv-op.*' -or
            $file.Name -eq '.aetherv-job')
        if ($isKnown) { [void]$known.Add($file) } else { [void]$unknown.Add($file.FullName) }
    }
    if ($unknown.Count -gt 0) {
        foreach ($file in $known) {
            if ($file.Name -ne '.aetherv-job') { Remove-Item -LiteralPath $file.FullName -Force; [void]$Deleted.Add($file.FullName) }
        }
        foreach ($path in $unknown) { [void]$Kept.Add($path) }
        return $false
    }
    foreach ($file in $known) {
        Remove-Item -LiteralPath $file.FullName -Force
        if ($file.Name -ne '.aetherv-job') { [void]$Deleted.Add($file.FullName) }
    }
    Remove-Item -LiteralPath $Folder -Recurse -Force
    return $true
}
