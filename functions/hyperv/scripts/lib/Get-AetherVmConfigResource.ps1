function Get-AetherVmConfigResource([string]$Id) {
    $resources = @(Get-CimInstance -Namespace 'root\MSCluster' -ClassName MSCluster_Resource -Filter "Type='Virtual Machine Configuration'")
    return @($resources | Where-Object { ([string]$_.PrivateProperties.VmID).ToLowerInvariant() -eq $Id })
}
