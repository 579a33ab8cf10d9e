param($Params)
# Checkpoints a VM (Checkpoint-VM) with the type its CheckpointType setting makes: Production falls back to a standard
# checkpoint when the guest cannot make a production one, ProductionOnly fails then, Standard always saves memory
# too (learn.microsoft.com/virtualization/hyper-v-on-windows/user-guide/checkpoints). The record says which type
# was made.
# Idempotent by name: a checkpoint of this name already on the VM is returned instead of making another.
# Refused: checkpoints Disabled, a VM in a transition (only Off, Running, Saved, Paused), 50 checkpoints already
# (Hyper-V's maximum per VM), not enough room next to the VM's files (new .avhdx per disk, the configuration, and the
# memory whenever a standard checkpoint may be made of a VM that is not Off).
# Params: vm_id, name. Returns: the checkpoint record (see list_checkpoints.ps1).
# Fails: InvalidParameters, VmNotFound, InvalidVmState, InsufficientResources.

$vm = Get-AetherVm $Params.vm_id
$name = [string]$Params.name
if ([string]::IsNullOrWhiteSpace($name) -or $name.Length -gt 100) {
    Fail-AetherV 'InvalidParameters' 'checkpoint name must be 1 to 100 characters and not blank'
}
$existing = @(Get-VMSnapshot -VM $vm -ErrorAction Stop | Where-Object { $_.Name -eq $name })
if ($existing.Count -gt 0) { return (Get-AetherCheckpointRecord (Get-VM -Id $vm.Id) $existing[0]) }

$setting = [string]$vm.CheckpointType
if ($setting -eq 'Disabled') {
    Fail-AetherV 'InvalidVmState' "cannot checkpoint VM $($vm.Id): checkpoints are disabled on it (CheckpointType Disabled)"
}
$state = Get-AetherState $vm
if (@('Off', 'Running', 'Saved', 'Paused') -notcontains $state) {
    Fail-AetherV 'InvalidVmState' "cannot checkpoint VM $($vm.Id): it is $state"
}
$count = @(Get-VMSnapshot -VM $vm -ErrorAction Stop).Count
if ($count -ge 50) {
    Fail-AetherV 'InsufficientResources' "cannot checkpoint VM $($vm.Id): it has $count checkpoints, Hyper-V's maximum is 50"
}
$needed = [int64](@(Get-VMHardDiskDrive -VM $vm).Count * 4194304 + 65536)  # 4 MB per new .avhdx, 64 KB of configuration
if ($state -ne 'Off' -and @('Standard', 'Production') -contains $setting) {
    $needed += [int64][math]::Max([double]$vm.MemoryStartup, [double]$vm.MemoryAssigned)
}
$folder = [string]$vm.ConfigurationLocation
$free = Get-AetherFreeBytes $folder @(Get-CimInstance -ClassName Win32_Volume -Filter 'DriveType=3')
if ($needed -gt $free) {
    Fail-AetherV 'InsufficientResources' "cannot checkpoint VM $($vm.Id): it needs $needed bytes on the volume of '$folder', $free are free"
}
try {
    Checkpoint-VM -VM $vm -SnapshotName $name -Confirm:$false -ErrorAction Stop
} catch {
    if ($setting -eq 'ProductionOnly') {
        Fail-AetherV 'InvalidVmState' "cannot checkpoint VM $($vm.Id): its checkpoint type is ProductionOnly and the guest cannot make a production checkpoint ($($_.Exception.Message))"
    }
    throw
}
$made = @(Get-VMSnapshot -VM $vm -ErrorAction Stop | Where-Object { $_.Name -eq $name } | Sort-Object CreationTime -Descending)
return (Get-AetherCheckpointRecord (Get-VM -Id $vm.Id) $made[0])
