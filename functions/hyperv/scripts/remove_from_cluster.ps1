param($Params)
# Removes a VM from its failover cluster without touching the VM itself: finds the "Virtual Machine Configuration"
# resource whose PrivateProperties.VmID is the VM, deletes the group's "Virtual Machine" resource, then the
# configuration resource, then the (now empty) resource group, all through CIM (root\MSCluster).
# Idempotent: a VM that is not clustered (or a host that is not clustered) is success with changed = false.
# Params: vm_id. Returns: {id, cluster_name, clustered, changed}. Fails: VmNotFound, ClusterError.

$vm = Get-AetherVm $Params.vm_id
$id = ([string]$vm.Id).ToLowerInvariant()
try {
    $cluster = @(Get-CimInstance -Namespace 'root\MSCluster' -ClassName MSCluster_Cluster -ErrorAction Stop)
} catch {
    $cluster = @()
}
if ($cluster.Count -eq 0) { return [ordered]@{ id = $id; cluster_name = $null; clustered = $false; changed = $false } }
$configuration = @(Get-AetherVmConfigResource $id)
if ($configuration.Count -eq 0) {
    return [ordered]@{ id = $id; cluster_name = [string]$cluster[0].Name; clustered = $false; changed = $false }
}
try {
    $groupName = [string]$configuration[0].OwnerGroup
    $groupResources = @(Get-CimInstance -Namespace 'root\MSCluster' -ClassName MSCluster_Resource | Where-Object { [string]$_.OwnerGroup -eq $groupName })
    foreach ($resource in @($groupResources | Where-Object { $_.Type -eq 'Virtual Machine' })) {
        [void](Invoke-CimMethod -InputObject $resource -MethodName DeleteResource)
    }
    [void](Invoke-CimMethod -InputObject $configuration[0] -MethodName DeleteResource)
    foreach ($group in @(Get-CimInstance -Namespace 'root\MSCluster' -ClassName MSCluster_ResourceGroup | Where-Object { [string]$_.Name -eq $groupName })) {
        [void](Invoke-CimMethod -InputObject $group -MethodName DeleteGroup)
    }
} catch {
    Fail-AetherV 'ClusterError' "removing VM $id from cluster '$($cluster[0].Name)' failed: $($_.Exception.Message)"
}
return [ordered]@{ id = $id; cluster_name = [string]$cluster[0].Name; clustered = $false; changed = $true }
