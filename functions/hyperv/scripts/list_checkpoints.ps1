param($Params)
# A VM's checkpoints (Get-VMSnapshot), oldest first: the tree through parent_id, and is_current for the checkpoint
# the VM's running state derives from (the VM's ParentSnapshotId).
# Params: vm_id. Returns: {checkpoints: [{id, vm_id, name, created, parent_id, checkpoint_type, is_current,
# processor_count, startup_memory_gb}]}. Fails: InvalidParameters, VmNotFound.

$vm = Get-AetherVm $Params.vm_id
$records = New-Object System.Collections.ArrayList
foreach ($snapshot in @(Get-VMSnapshot -VM $vm -ErrorAction Stop | Sort-Object CreationTime)) {
    [void]$records.Add((Get-AetherCheckpointRecord $vm $snapshot))
}
return [ordered]@{ checkpoints = @($records) }
