function Get-AetherCheckpointRecord($Vm, $Snapshot) {
    # One checkpoint (a VMSnapshot of Get-VMSnapshot) as the scripts return it. $Vm must be read after any change
    # (Get-VM -Id), since its ParentSnapshotId names the current checkpoint (the one the running state derives from).
    $parent = $null
    if ($Snapshot.ParentSnapshotId) { $parent = ([string]$Snapshot.ParentSnapshotId).ToLowerInvariant() }
    $type = 'Standard'
    if ([string]$Snapshot.SnapshotType -like 'Production*') { $type = 'Production' }
    $current = $false
    if ($Vm.ParentSnapshotId) { $current = ([string]$Vm.ParentSnapshotId -eq [string]$Snapshot.Id) }
    return [ordered]@{
        id = ([string]$Snapshot.Id).ToLowerInvariant(); vm_id = ([string]$Vm.Id).ToLowerInvariant()
        name = [string]$Snapshot.Name; created = ([datetime]$Snapshot.CreationTime).ToUniversalTime().ToString('o')
        parent_id = $parent; checkpoint_type = $type; is_current = $current
        processor_count = [int]$Snapshot.ProcessorCount
        startup_memory_gb = [math]::Round([double]$Snapshot.MemoryStartup / 1gb, 2)
    }
}
