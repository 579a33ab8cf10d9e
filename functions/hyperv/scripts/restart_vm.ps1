param($Params)
# Resets a Running VM (Restart-VM -Force: a hard reset, like the reset button). Other states are InvalidVmState.
# Params: vm_id. Returns: {id, previous_state, state, changed}. Fails: VmNotFound, InvalidVmState.

function Get-AetherVm($Id) {
    $guid = [guid]::Empty
    if (-not [guid]::TryParse([string]$Id, [ref]$guid)) { Fail-AetherV 'InvalidParameters' "vm_id '$Id' is not a GUID" }
    $vm = @(Get-VM | Where-Object { $_.Id -eq $guid })
    if ($vm.Count -eq 0) { Fail-AetherV 'VmNotFound' "no VM with id $guid on this host" }
    return $vm[0]
}
function Get-AetherState($Vm) {
    $state = [string](Get-VM -Id $Vm.Id).State
    if (@('Running', 'Off', 'Saved', 'Paused', 'Starting', 'Pausing', 'Resuming', 'Saving', 'Stopping') -contains $state) { return $state }
    return 'Unknown'
}
function New-PowerResult($Vm, [string]$Previous, [bool]$Changed) {
    return [ordered]@{
        id = ([string]$Vm.Id).ToLowerInvariant(); previous_state = $Previous; state = (Get-AetherState $Vm); changed = $Changed
    }
}

$vm = Get-AetherVm $Params.vm_id
$previous = Get-AetherState $vm
if ($previous -ne 'Running') { Fail-AetherV 'InvalidVmState' "cannot restart VM $($vm.Id): it is $previous" }
Restart-VM -VM $vm -Force -Confirm:$false
return (New-PowerResult $vm $previous $true)
