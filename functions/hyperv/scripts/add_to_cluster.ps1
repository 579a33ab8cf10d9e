param($Params)
# Makes a VM highly available: MSCluster_Cluster.AddVirtualMachine through CIM (root\MSCluster), which creates the
# resource group with the "Virtual Machine" and "Virtual Machine Configuration" resources. No CredSSP is needed.
# Idempotent: a VM that already has a configuration resource is success with changed = false.
# The VM's files must be on cluster storage (a CSV); register only after guest provisioning finished, because KVP
# provisioning drives the guest through the host it runs on.
# Params: vm_id. Returns: {id, cluster_name, clustered, changed}. Fails: VmNotFound, ClusterError.

function Get-AetherVm($Id) {
    $guid = [guid]::Empty
    if (-not [guid]::TryParse([string]$Id, [ref]$guid)) { Fail-AetherV 'InvalidParameters' "vm_id '$Id' is not a GUID" }
    $vm = @(Get-VM | Where-Object { $_.Id -eq $guid })
    if ($vm.Count -eq 0) { Fail-AetherV 'VmNotFound' "no VM with id $guid on this host" }
    return $vm[0]
}
function Get-AetherCluster {
    try {
        $cluster = @(Get-CimInstance -Namespace 'root\MSCluster' -ClassName MSCluster_Cluster -ErrorAction Stop)
    } catch {
        $cluster = @()
    }
    if ($cluster.Count -eq 0) { Fail-AetherV 'ClusterError' "this host is not a member of a failover cluster" }
    return $cluster[0]
}
function Get-AetherVmConfigResource([string]$Id) {
    $resources = @(Get-CimInstance -Namespace 'root\MSCluster' -ClassName MSCluster_Resource -Filter "Type='Virtual Machine Configuration'")
    return @($resources | Where-Object { ([string]$_.PrivateProperties.VmID).ToLowerInvariant() -eq $Id })
}
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
