param($Params)
# Removes one checkpoint (Remove-VMSnapshot without -IncludeAllChildSnapshots): its children move up to its parent
# and Hyper-V merges its differencing disks (in the background, also while the VM runs).
# Idempotent: a checkpoint that is not there is success with existed = false.
# Params: vm_id, checkpoint_id. Returns: {vm_id, checkpoint_id, existed}. Fails: InvalidParameters, VmNotFound.

$vm = Get-AetherVm $Params.vm_id
$found = @(Find-AetherCheckpoint $vm $Params.checkpoint_id)
$id = ([guid][string]$Params.checkpoint_id).ToString()
if ($found.Count -gt 0) { Remove-VMSnapshot -VMSnapshot $found[0] -Confirm:$false -ErrorAction Stop }
return [ordered]@{ vm_id = ([string]$vm.Id).ToLowerInvariant(); checkpoint_id = $id; existed = ($found.Count -gt 0) }
