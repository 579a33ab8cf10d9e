param($Params)
# Inventory of one host: host facts and every VM, from batched CIM queries on root\virtualization\v2
# (one query per class for all VMs, never one per VM). Non-fatal query failures become warnings.
# Params: none. Returns: { host: {...}, vms: [...], collected_at, warnings: [...] }

# -- shared VM projection (identical in get_vm.ps1; tests/unit/hvsim_model checks they stay identical) --------
# -- end of shared VM projection -----------------------------------------------------------------------------

$warnings = New-Object 'System.Collections.Generic.List[string]'

$computer = Get-CimInstance -ClassName Win32_ComputerSystem
$os = Get-CimInstance -ClassName Win32_OperatingSystem
$logical = (@(Get-CimInstance -ClassName Win32_Processor) | Measure-Object -Property NumberOfLogicalProcessors -Sum).Sum

$clusterName = $null
try {
    $cluster = @(Get-CimInstance -Namespace 'root\MSCluster' -ClassName MSCluster_Cluster -ErrorAction Stop)
    if ($cluster.Count -gt 0 -and $cluster[0].Name) { $clusterName = [string]$cluster[0].Name }
} catch {
    # Not a cluster node.
}

$volumes = New-Object System.Collections.ArrayList
foreach ($volume in @(Get-CimInstance -ClassName Win32_Volume -Filter 'DriveType=3')) {
    $path = [string]$volume.Name
    if (-not $path -or $path.StartsWith('\\?\')) { continue }
    [void]$volumes.Add([ordered]@{
        path = $path; label = [string]$volume.Label
        capacity_gb = [math]::Round([double]$volume.Capacity / 1gb, 2)
        free_gb = [math]::Round([double]$volume.FreeSpace / 1gb, 2)
        cluster_shared = $path.StartsWith('C:\ClusterStorage\', [System.StringComparison]::OrdinalIgnoreCase)
    })
}

$switches = New-Object System.Collections.ArrayList
foreach ($switch in @(Get-VMSwitch)) {
    [void]$switches.Add([ordered]@{
        name = [string]$switch.Name; id = ([string]$switch.Id).ToLowerInvariant()
        type = [string]$switch.SwitchType; notes = [string]$switch.Notes
    })
}

$vmHost = Get-VMHost
$vms = @(Get-AetherVmRecords -OnlyId '' -Warnings $warnings)

return [ordered]@{
    host = [ordered]@{
        computer_name = [string]$env:COMPUTERNAME
        cluster_name = $clusterName
        logical_processors = [int]$logical
        total_memory_gb = [math]::Round([double]$computer.TotalPhysicalMemory / 1gb, 2)
        free_memory_gb = [math]::Round([double]$os.FreePhysicalMemory / 1mb, 2)
        volumes = @($volumes)
        switches = @($switches)
        default_vm_path = [string]$vmHost.VirtualMachinePath
        default_vhd_path = [string]$vmHost.VirtualHardDiskPath
    }
    vms = $vms
    collected_at = [datetime]::UtcNow.ToString('o')
    warnings = @($warnings)
}
