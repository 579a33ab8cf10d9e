function Get-AetherCluster {
    try {
        $cluster = @(Get-CimInstance -Namespace 'root\MSCluster' -ClassName MSCluster_Cluster -ErrorAction Stop)
    } catch {
        $cluster = @()
    }
    if ($cluster.Count -eq 0) { Fail-AetherV 'ClusterError' "this host is not a member of a failover cluster" }
    return $cluster[0]
}
