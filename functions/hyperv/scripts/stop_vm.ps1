param($Params)
# Turns a VM off (Stop-VM -TurnOff: like pulling the plug) from Running, Starting, Paused, Saved or Stopping.
# An Off VM is success with changed = false (idempotent). Other states (Saving, Pausing, ...) are InvalidVmState.
# Params: vm_id. Returns: {id, previous_state, state, changed}. Fails: VmNotFound, InvalidVmState.

$vm = Get-AetherVm $Params.vm_id
$previous = Get-AetherState $vm
if ($previous -eq 'Off') { return (New-PowerResult $vm $previous $false) }
if (@('Running', 'Starting', 'Paused', 'Saved', 'Stopping') -notcontains $previous) {
    Fail-AetherV 'InvalidVmState' "cannot turn off VM $($vm.Id): it is $previous"
}
Stop-VM -VM $vm -TurnOff -Force -Confirm:$false
return (New-PowerResult $vm $previous $true)
