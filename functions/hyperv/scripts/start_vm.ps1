param($Params)
# Starts a VM (Off or Saved: Start-VM; Paused: Resume-VM). A Running or Starting VM is InvalidVmState, unless
# if_needed is true (a retried workflow step), then it is success with changed = false.
# Params: vm_id, if_needed? Returns: {id, previous_state, state, changed}. Fails: VmNotFound, InvalidVmState.

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
switch ($previous) {
    'Off' { Start-VM -VM $vm; return (New-PowerResult $vm $previous $true) }
    'Saved' { Start-VM -VM $vm; return (New-PowerResult $vm $previous $true) }
    'Paused' { Resume-VM -VM $vm; return (New-PowerResult $vm $previous $true) }
    { @('Running', 'Starting') -contains $_ -and [bool]$Params.if_needed } { return (New-PowerResult $vm $previous $false) }
}
Fail-AetherV 'InvalidVmState' "cannot start VM $($vm.Id): it is $previous"
