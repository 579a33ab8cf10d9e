param($Params)
# Adds a data disk: a new dynamic VHDX named file_name in the VM's own folder (the folder of its boot disk), attached
# with Add-VMHardDiskDrive to SCSI controller 0 at its first free location. Works while the VM is Off or Running
# (SCSI disks hot-plug); a VM without a SCSI controller (generation 1) gets one, only while Off (Add-VMScsiController).
# Limits (https://learn.microsoft.com/windows-server/virtualization/hyper-v/plan/plan-for-hyper-v-scalability-in-windows-server):
# a VHDX holds at most 64 TB (size_gb 1..65536), a SCSI controller has 64 locations. Needs 1 GB free on the volume.
# Idempotent: file_name is the caller's, one per job. A file of that name attached to this VM is returned as it is;
# one that exists unattached (an earlier run stopped after New-VHD) is attached; one attached to another VM is
# VmAlreadyExists.
# Params: vm_id, size_gb, file_name.  Returns: the disk (as in the VM record).
# Fails: InvalidParameters, VmNotFound, VmAlreadyExists, InvalidVmState, InsufficientResources.

$vm = Get-AetherVm $Params.vm_id
$problems = New-Object System.Collections.ArrayList
$fileName = [string]$Params.file_name
$sizeGb = Get-AetherIntParam $Params.size_gb 'size_gb' $problems
if (-not (Test-AetherFileName $fileName) -or -not $fileName.EndsWith('.vhdx', [System.StringComparison]::OrdinalIgnoreCase) -or $fileName.Length -le 5) {
    [void]$problems.Add("file_name '$fileName' is not a .vhdx file name")
}
if ($null -eq $sizeGb -or $sizeGb -lt 1 -or $sizeGb -gt 65536) {
    [void]$problems.Add('size_gb must be 1..65536 (a VHDX holds at most 64 TB)')
}
if ($problems.Count -gt 0) { Fail-AetherV 'InvalidParameters' ($problems -join '; ') }

$record = Get-AetherVmRecord $vm
$folder = Get-AetherVmFolder $vm $record
$path = [System.IO.Path]::Combine($folder, $fileName)
foreach ($disk in @($record.disks)) {
    if ([string]$disk.path -eq $path) { return $disk }  # a rerun: this job's disk is already attached
}
foreach ($other in @(Get-VM | Where-Object { $_.Id -ne $vm.Id })) {
    if (@(Get-VMHardDiskDrive -VM $other | Where-Object { $_.Path -eq $path }).Count -gt 0) {
        Fail-AetherV 'VmAlreadyExists' "disk file '$path' is attached to another VM ($(([string]$other.Id).ToLowerInvariant()))"
    }
}
$exists = Test-Path -LiteralPath $path -PathType Leaf
if ($exists) {
    try { [void](Get-VHD -Path $path -ErrorAction Stop) }
    catch { Fail-AetherV 'InvalidParameters' "'$path' exists and is not a virtual hard disk" }
}

$state = Get-AetherState $vm
if (@('Off', 'Running') -notcontains $state) {
    Fail-AetherV 'InvalidVmState' "a disk can only be added to VM $($vm.Id) while it is Off or Running (it is $state)"
}
$controller = @(Get-VMScsiController -VM $vm | Where-Object { $_.ControllerNumber -eq 0 })
if ($controller.Count -eq 0 -and $state -ne 'Off') {
    Fail-AetherV 'InvalidVmState' "VM $($vm.Id) has no SCSI controller; one can only be added while it is Off (it is $state)"
}
$used = @()
if ($controller.Count -gt 0) { $used = @($controller[0].Drives | ForEach-Object { [int]$_.ControllerLocation }) }
$location = $null
foreach ($candidate in 0..63) {
    if ($used -notcontains $candidate) { $location = $candidate; break }
}
if ($null -eq $location) {
    Fail-AetherV 'InsufficientResources' "SCSI controller 0 of VM $($vm.Id) has no free location (64 in use)"
}
if (-not $exists) {
    $volumes = @(Get-CimInstance -ClassName Win32_Volume -Filter 'DriveType=3')
    $free = Get-AetherFreeBytes $folder $volumes
    if ($free -lt 1gb) {
        Fail-AetherV 'InsufficientResources' "needs 1 GB free on the volume of '$folder', it has $([math]::Round([math]::Max($free, 0) / 1gb, 2)) GB"
    }
    [void](New-VHD -Path $path -SizeBytes ([int64]$sizeGb * 1gb) -Dynamic -ErrorAction Stop)
}
if ($controller.Count -eq 0) { Add-VMScsiController -VM $vm -ErrorAction Stop }
$drive = Add-VMHardDiskDrive -VM $vm -ControllerType SCSI -ControllerNumber 0 -ControllerLocation $location -Path $path -Passthru -ErrorAction Stop
$diskId = ([string]$drive.Id).ToLowerInvariant()
foreach ($disk in @((Get-AetherVmRecord $vm).disks)) {
    if (([string]$disk.id).ToLowerInvariant() -eq $diskId -or [string]$disk.path -eq $path) { return $disk }
}
Fail-AetherV 'ScriptFailed' "disk '$path' was attached but is not in the inventory of VM $($vm.Id)"
