function Remove-AetherClusterRole([string]$Id) {
    # Removes the VM's cluster role (its "Virtual Machine" resource, its configuration resource, then the emptied
    # group) through CIM, leaving the VM itself alone. Returns $true when a role was removed, $false when the VM (or
    # the host) is not clustered. Fails with ClusterError.
    try {
        $cluster = @(Get-CimInstance -Namespace 'root\MSCluster' -ClassName MSCluster_Cluster -ErrorAction Stop)
    } catch {
        $cluster = @()
    }
    if ($cluster.Count -eq 0) { return $false }
    try { $configuration = @(Get-AetherVmConfigResource $Id) } catch { $configuration = @() }
    if ($configuration.Count -eq 0) { return $false }
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
        Fail-AetherV 'ClusterError' "removing VM $Id from cluster '$($cluster[0].Name)' failed: $($_.Exception.Message)"
    }
    return $true
}
