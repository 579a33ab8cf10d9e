param($Params)
# Grows a disk of the VM to size_gb (Resize-VHD). Shrinking is refused (Hyper-V can shrink a VHDX down to its minimum
# size; Aether-V never does). Resize-VHD: "If the virtual disk file connects to a virtual machine's IDE chain, you
# cannot resize the virtual disk while the virtual machine is online. If [it] connects to a virtual machine's SCSI
# chain, you can resize the virtual disk while the virtual machine is online"
# (https://learn.microsoft.com/powershell/module/hyper-v/resize-vhd); online resize needs a .vhdx. So: Off, or Running
# with a .vhdx on SCSI. A VM with checkpoints runs on differencing disks chained to its disks: refused.
# Idempotent: a disk already of size_gb is success with nothing changed (checked before the state rules).
# Params: vm_id, disk_id, size_gb.  Returns: the disk (as in the VM record).
# Fails: InvalidParameters, VmNotFound, DiskNotFound, InvalidVmState, InsufficientResources (a fixed disk's growth).

$vm = Get-AetherVm $Params.vm_id
$problems = New-Object System.Collections.ArrayList
$diskId = [string]$Params.disk_id
$sizeGb = Get-AetherIntParam $Params.size_gb 'size_gb' $problems
if ($null -eq $sizeGb -or $sizeGb -lt 1 -or $sizeGb -gt 65536) {
    [void]$problems.Add('size_gb must be 1..65536 (a VHDX holds at most 64 TB)')
}
if ($problems.Count -gt 0) { Fail-AetherV 'InvalidParameters' ($problems -join '; ') }

$disk = $null
foreach ($candidate in @((Get-AetherVmRecord $vm).disks)) {
    if ([string]$candidate.id -eq $diskId) { $disk = $candidate }
}
if ($null -eq $disk) { Fail-AetherV 'DiskNotFound' "VM $($vm.Id) has no disk $diskId" }
$path = [string]$disk.path
if (-not (Test-Path -LiteralPath $path -PathType Leaf)) { Fail-AetherV 'DiskNotFound' "the file '$path' of disk $diskId is missing" }
$vhd = Get-VHD -Path $path -ErrorAction Stop
$current = [int64]$vhd.Size
$wanted = [int64]$sizeGb * 1gb
$isVhd = $path.EndsWith('.vhd', [System.StringComparison]::OrdinalIgnoreCase)
if ($wanted -lt $current) {
    Fail-AetherV 'InvalidParameters' "disk $diskId is $([math]::Round($current / 1gb, 2)) GB; it cannot shrink to $sizeGb GB"
}
if ($isVhd -and $sizeGb -gt 2040) { Fail-AetherV 'InvalidParameters' 'a .vhd holds at most 2040 GB' }
if ($wanted -eq $current) { return $disk }

if (@(Get-VMSnapshot -VM $vm).Count -gt 0) {
    Fail-AetherV 'InvalidVmState' "VM $($vm.Id) has checkpoints: its disks are differencing chains and cannot be resized (delete the checkpoints first)"
}
$state = Get-AetherState $vm
if ($state -ne 'Off') {
    $reasons = New-Object System.Collections.ArrayList
    if ($state -ne 'Running') { [void]$reasons.Add("the VM is $state") }
    if ($disk.controller_type -ne 'SCSI') { [void]$reasons.Add('the disk is on an IDE controller') }
    if ($isVhd) { [void]$reasons.Add('the disk is a .vhd file') }
    if ($reasons.Count -gt 0) {
        Fail-AetherV 'InvalidVmState' "disk $diskId can only be expanded while VM $($vm.Id) is Off ($($reasons -join ', ')): online resize needs a .vhdx on a SCSI controller of a running VM"
    }
}
if ([string]$vhd.VhdType -eq 'Fixed') {
    $volumes = @(Get-CimInstance -ClassName Win32_Volume -Filter 'DriveType=3')
    $free = Get-AetherFreeBytes ([System.IO.Path]::GetDirectoryName($path)) $volumes
    if ($free -lt $wanted - $current) {
        Fail-AetherV 'InsufficientResources' "growing fixed disk $diskId needs $([math]::Round(($wanted - $current) / 1gb, 2)) GB, the volume has $([math]::Round($free / 1gb, 2)) GB"
    }
}
Resize-VHD -Path $path -SizeBytes $wanted -ErrorAction Stop
foreach ($candidate in @((Get-AetherVmRecord $vm).disks)) {
    if ([string]$candidate.id -eq $diskId) { return $candidate }
}
Fail-AetherV 'DiskNotFound' "VM $($vm.Id) has no disk $diskId"
