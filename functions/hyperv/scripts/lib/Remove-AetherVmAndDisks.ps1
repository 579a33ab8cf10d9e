function Remove-AetherVmAndDisks($Vm, $Deleted) {
    # Turns the VM off and removes it with its DVD drives and disks. Deletes its provisioning ISO copies (in its own
    # folder) and its disk files -- never a shared disk, a disk another VM uses, or a file in an image library.
    # Returns the VM's configuration folder.
    $id = [guid]$Vm.Id
    if ($Vm.State -ne 'Off') { Stop-VM -VM $Vm -TurnOff -Force -Confirm:$false }
    $folder = ([string]$Vm.ConfigurationLocation).TrimEnd('\')
    $toDelete = New-Object System.Collections.ArrayList
    foreach ($drive in @(Get-VMDvdDrive -VM $Vm)) {
        $path = [string]$drive.Path
        Remove-VMDvdDrive -VMDvdDrive $drive
        if ($path -and [System.IO.Path]::GetFileName($path) -like '*Provisioning*.iso' -and
            [System.IO.Path]::GetDirectoryName($path) -eq $folder) { [void]$toDelete.Add($path) }
    }
    $others = @{}
    foreach ($drive in @(Get-VM | Where-Object { $_.Id -ne $id } | Get-VMHardDiskDrive)) {
        if ($drive.Path) { $others[([string]$drive.Path).ToLowerInvariant()] = $true }
    }
    # A VM with checkpoints runs on differencing disks (.avhdx): its checkpoints' disks and every parent in the chains
    # are its disks too (Remove-VM deletes the checkpoints' configuration and saved memory, never a disk file).
    $snapshots = @(Get-VMSnapshot -VM $Vm)
    if ($snapshots.Count -gt 0) {
        $heads = @($snapshots | Get-VMHardDiskDrive) + @(Get-VMHardDiskDrive -VM $Vm | Where-Object { -not $_.SupportPersistentReservations })
        foreach ($head in $heads) {
            $path = [string]$head.Path
            while ($path -and -not $others.ContainsKey($path.ToLowerInvariant()) -and $path -notmatch '\\DiskImages\\') {
                if (-not $toDelete.Contains($path)) { [void]$toDelete.Add($path) }
                $path = [string](Get-VHD -Path $path -ErrorAction SilentlyContinue).ParentPath
            }
        }
    }
    foreach ($drive in @(Get-VMHardDiskDrive -VM $Vm)) {
        $path = [string]$drive.Path
        Remove-VMHardDiskDrive -VMHardDiskDrive $drive
        if (-not $path -or $drive.SupportPersistentReservations) { continue }
        if ($others.ContainsKey($path.ToLowerInvariant()) -or $path -match '\\DiskImages\\') { continue }
        if (-not $toDelete.Contains($path)) { [void]$toDelete.Add($path) }
    }
    Remove-VM -VM $Vm -Force
    foreach ($path in $toDelete) {
        if (Test-Path -LiteralPath $path -PathType Leaf) {
            Remove-Item -LiteralPath $path -Force
            [void]$Deleted.Add($path)
        }
    }
    return $folder
}
