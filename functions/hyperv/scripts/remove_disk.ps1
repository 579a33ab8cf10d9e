param($Params)
# Removes a data disk: Remove-VMHardDiskDrive, then deletes its file -- only when no VM on the host has the file
# attached and it lies in this VM's own folder (the folder of its boot disk); otherwise the file stays and `warning`
# says why. The boot disk is refused, so is any disk of a VM with checkpoints (differencing chains), an IDE disk while
# the VM is not Off (only SCSI disks hot-unplug), and any disk while the VM is neither Off nor Running.
# Idempotent: `path` is the disk's path from the inventory, so a rerun after the drive was detached (but before the
# file was deleted) still deletes the file; a drive already gone is success with existed = false. Without disk_id the
# drive is the one holding path (undoing an add_disk whose outcome is unknown: detached if attached, file deleted).
# Params: vm_id, disk_id (may be empty), path.  Returns: {existed, path, file_deleted, warning}.
# Fails: InvalidParameters (path not a virtual hard disk, or not the drive's), VmNotFound, InvalidVmState.

$vm = Get-AetherVm $Params.vm_id
$diskId = [string]$Params.disk_id
$path = [string]$Params.path
if (-not ($path.EndsWith('.vhdx', [System.StringComparison]::OrdinalIgnoreCase) -or $path.EndsWith('.vhd', [System.StringComparison]::OrdinalIgnoreCase)) -or -not $path.Contains('\')) {
    Fail-AetherV 'InvalidParameters' "path '$path' is not the full path of a virtual hard disk"
}
$record = Get-AetherVmRecord $vm
$folder = Get-AetherVmFolder $vm $record
$disk = $null
foreach ($candidate in @($record.disks)) {
    if (($diskId -and [string]$candidate.id -eq $diskId) -or (-not $diskId -and [string]$candidate.path -eq $path)) { $disk = $candidate }
}
if (@(Get-VMSnapshot -VM $vm).Count -gt 0) {
    Fail-AetherV 'InvalidVmState' "VM $($vm.Id) has checkpoints: its disks cannot be removed (delete the checkpoints first)"
}
if ($null -ne $disk) {
    if ([string]$disk.path -ne $path) { Fail-AetherV 'InvalidParameters' "disk $diskId of VM $($vm.Id) is '$($disk.path)', not '$path'" }
    if ($disk.boot) { Fail-AetherV 'InvalidVmState' "the boot disk $diskId of VM $($vm.Id) cannot be removed" }
    $state = Get-AetherState $vm
    if ($disk.controller_type -ne 'SCSI' -and $state -ne 'Off') {
        Fail-AetherV 'InvalidVmState' "an IDE disk can only be removed while VM $($vm.Id) is Off (it is $state)"
    }
    if (@('Off', 'Running') -notcontains $state) {
        Fail-AetherV 'InvalidVmState' "a disk can only be removed from VM $($vm.Id) while it is Off or Running (it is $state)"
    }
    $drive = @(Get-VMHardDiskDrive -VM $vm | Where-Object { $_.Path -eq $path })
    foreach ($item in $drive) { Remove-VMHardDiskDrive -VMHardDiskDrive $item -ErrorAction Stop }
}
$deleted = $false
$warning = $null
if (Test-Path -LiteralPath $path -PathType Leaf) {
    $owner = $null
    foreach ($other in @(Get-VM)) {
        if ($null -eq $owner -and @(Get-VMHardDiskDrive -VM $other | Where-Object { $_.Path -eq $path }).Count -gt 0) { $owner = $other }
    }
    if ($null -ne $owner) {
        $warning = "'$path' is attached to VM $(([string]$owner.Id).ToLowerInvariant()); it was not deleted"
    } elseif ([System.IO.Path]::GetDirectoryName($path) -ne $folder) {
        $warning = "'$path' is not in the VM's folder '$folder'; it was not deleted"
    } else {
        Remove-Item -LiteralPath $path -Force -ErrorAction Stop
        $deleted = $true
    }
}
return [ordered]@{ existed = ($null -ne $disk); path = $path; file_deleted = $deleted; warning = $warning }
