param($Params)
# Applies a checkpoint (Restore-VMSnapshot): the VM's configuration and disks become the checkpoint's, and the VM
# is Off (production checkpoint) or Saved (standard checkpoint holding memory). The VM must be Off or Saved first:
# the snapshot service refuses to apply to a running VM ("Invalid state for this operation"), so stop or save it.
# Idempotent: applying the same checkpoint again leaves the same state.
# Params: vm_id, checkpoint_id. Returns: {vm_id, checkpoint_id, state}.
# Fails: InvalidParameters, VmNotFound, CheckpointNotFound, InvalidVmState.

$vm = Get-AetherVm $Params.vm_id
$found = @(Find-AetherCheckpoint $vm $Params.checkpoint_id)
$id = ([guid][string]$Params.checkpoint_id).ToString()
if ($found.Count -eq 0) { Fail-AetherV 'CheckpointNotFound' "VM $($vm.Id) has no checkpoint $id" }
$state = Get-AetherState $vm
if (@('Off', 'Saved') -notcontains $state) {
    Fail-AetherV 'InvalidVmState' "cannot apply a checkpoint to VM $($vm.Id): it is $state (turn it off or save it first)"
}
Restore-VMSnapshot -VMSnapshot $found[0] -Confirm:$false -ErrorAction Stop
return [ordered]@{ vm_id = ([string]$vm.Id).ToLowerInvariant(); checkpoint_id = $id; state = (Get-AetherState $vm) }
