param($Params)
# Turns a VM off (Stop-VM -TurnOff: like pulling the plug) from Running, Starting, Paused, Saved or Stopping.
# An Off VM is success with changed = false (idempotent). Other states (Saving, Pausing, ...) are InvalidVmState.
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
if ($previous -eq 'Off') { return (New-PowerResult $vm $previous $false) }
if (@('Running', 'Starting', 'Paused', 'Saved', 'Stopping') -notcontains $previous) {
    Fail-AetherV 'InvalidVmState' "cannot turn off VM $($vm.Id): it is $previous"
}
Stop-VM -VM $vm -TurnOff -Force -Confirm:$false
return (New-PowerResult $vm $previous $true)
