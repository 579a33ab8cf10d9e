param($Params)
# Starts a VM (Off or Saved: Start-VM; Paused: Resume-VM). A Running or Starting VM is InvalidVmState, unless
# if_needed is true (a retried workflow step), then it is success with changed = false.
# Params: vm_id, if_needed? Returns: {id, previous_state, state, changed}. Fails: VmNotFound, InvalidVmState.

$vm = Get-AetherVm $Params.vm_id
$previous = Get-AetherState $vm
switch ($previous) {
    'Off' { Start-VM -VM $vm; return (New-PowerResult $vm $previous $true) }
    'Saved' { Start-VM -VM $vm; return (New-PowerResult $vm $previous $true) }
    'Paused' { Resume-VM -VM $vm; return (New-PowerResult $vm $previous $true) }
    { @('Running', 'Starting') -contains $_ -and [bool]$Params.if_needed } { return (New-PowerResult $vm $previous $false) }
}
Fail-AetherV 'InvalidVmState' "cannot start VM $($vm.Id): it is $previous"
