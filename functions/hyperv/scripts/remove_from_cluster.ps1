param($Params)
# Removes a VM from its failover cluster without touching the VM itself (see Remove-AetherClusterRole).
# Idempotent: a VM that is not clustered (or a host that is not clustered) is success with changed = false.
# Params: vm_id. Returns: {id, cluster_name, clustered, changed}. Fails: VmNotFound, ClusterError.

$vm = Get-AetherVm $Params.vm_id
$id = ([string]$vm.Id).ToLowerInvariant()
$changed = Remove-AetherClusterRole $id
try {
    $cluster = @(Get-CimInstance -Namespace 'root\MSCluster' -ClassName MSCluster_Cluster -ErrorAction Stop)
} catch {
    $cluster = @()
}
$name = $null
if ($cluster.Count -gt 0) { $name = [string]$cluster[0].Name }
return [ordered]@{ id = $id; cluster_name = $name; clustered = $false; changed = $changed }
