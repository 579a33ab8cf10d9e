param($Params)
# Makes a VM highly available: MSCluster_Cluster.AddVirtualMachine through CIM (root\MSCluster), which creates the
# resource group with the "Virtual Machine" and "Virtual Machine Configuration" resources. No CredSSP is needed.
# Idempotent: a VM that already has a configuration resource is success with changed = false.
# The VM's files must be on cluster storage (a CSV); register only after guest provisioning finished, because KVP
# provisioning drives the guest through the host it runs on.
# Params: vm_id. Returns: {id, cluster_name, clustered, changed}. Fails: VmNotFound, ClusterError.

$vm = Get-AetherVm $Params.vm_id
$id = ([string]$vm.Id).ToLowerInvariant()
$cluster = Get-AetherCluster
if ((Get-AetherVmConfigResource $id).Count -gt 0) {
    return [ordered]@{ id = $id; cluster_name = [string]$cluster.Name; clustered = $true; changed = $false }
}
if (@(Get-VM | Where-Object { $_.Name -eq $vm.Name }).Count -gt 1) {
    Fail-AetherV 'ClusterError' "VM name '$($vm.Name)' is not unique on this host; the cluster adds VMs by name"
}
try {
    $result = Invoke-CimMethod -InputObject $cluster -MethodName AddVirtualMachine -Arguments @{ VirtualMachine = [string]$vm.Name }
} catch {
    Fail-AetherV 'ClusterError' "the cluster refused VM ${id}: $($_.Exception.Message)"
}
if ($result -and $null -ne $result.ReturnValue -and $result.ReturnValue -ne 0) {
    Fail-AetherV 'ClusterError' "the cluster refused VM $id (return value $($result.ReturnValue))"
}
return [ordered]@{ id = $id; cluster_name = [string]$cluster.Name; clustered = $true; changed = $true }
