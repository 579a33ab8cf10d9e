param($Params)
# Resets a Running VM (Restart-VM -Force: a hard reset, like the reset button). Other states are InvalidVmState.
# Params: vm_id. Returns: {id, previous_state, state, changed}. Fails: VmNotFound, InvalidVmState.

$vm = Get-AetherVm $Params.vm_id
$previous = Get-AetherState $vm
if ($previous -ne 'Running') { Fail-AetherV 'InvalidVmState' "cannot restart VM $($vm.Id): it is $previous" }
Restart-VM -VM $vm -Force -Confirm:$false
return (New-PowerResult $vm $previous $true)
