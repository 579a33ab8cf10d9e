param($Params)
# Moves a VM from this host to another, keeping its id. Run on the SOURCE host.
# clustered = true: live migration to another node of the VM's failover cluster, through CIM (root\MSCluster:
#   MSCluster_ResourceGroup.MoveToNewNodeParams with the live-migration type), so no second hop and no CredSSP; the
#   storage stays on the CSV, the role stays and its owner node changes. Waits until the role is on the destination
#   (timeout_seconds, default 300: OperationTimeout, run again to keep waiting).
# clustered = false: shared-nothing live migration with storage (Move-VM -DestinationHost -IncludeStorage
#   -DestinationStoragePath; default path: the destination's default VM path + the VM name). This host talks to the
#   destination with the caller's identity (checks through one CIM session, then Move-VM): Kerberos constrained
#   delegation (or CredSSP) from this host to the destination is required, see docs/hyperv-hosts.md "Migration".
# Idempotent: after a move the VM is no longer here, so a rerun is VmNotFound (the caller then looks on the
# destination). A failed Move-VM leaves the VM complete here and possibly a partial folder at the destination, which
# a new attempt refuses (VmAlreadyExists) until it is removed.
# Params: vm_id, destination, storage_path?, clustered, timeout_seconds?.
# Returns: {vm_id, source, destination, kind ("cluster"|"shared_nothing"), storage_path, state}.
# Fails: InvalidParameters, VmNotFound, InvalidVmState, ClusterError, HostUnreachable, VmAlreadyExists,
# SwitchNotFound, InsufficientResources, OperationTimeout.

$vm = Get-AetherVm $Params.vm_id
$id = ([string]$vm.Id).ToLowerInvariant()
$destination = ([string]$Params.destination).Trim()
if (-not $destination) { Fail-AetherV 'InvalidParameters' 'destination is required' }
$label = $destination.Split('.')[0]
if ($label -eq $env:COMPUTERNAME) { Fail-AetherV 'InvalidParameters' "the destination '$destination' is this host" }
$state = Get-AetherState $vm
if (@('Off', 'Running', 'Saved', 'Paused') -notcontains $state) {
    Fail-AetherV 'InvalidVmState' "cannot migrate VM ${id}: it is $state"
}
$role = @()
try { $role = @(Get-AetherVmConfigResource $id) } catch { $role = @() }
$storage = [string]$Params.storage_path

if ([bool]$Params.clustered) {
    if ($role.Count -eq 0) { Fail-AetherV 'ClusterError' "VM $id is not a clustered role: migrate it with clustered=false" }
    if ($storage) { Fail-AetherV 'InvalidParameters' 'a clustered VM keeps its storage on the Cluster Shared Volume: omit storage_path' }
    $cluster = Get-AetherCluster
    $node = @(Get-CimInstance -Namespace 'root\MSCluster' -ClassName MSCluster_Node -ErrorAction Stop | Where-Object { ([string]$_.Name).Split('.')[0] -eq $label })
    if ($node.Count -eq 0) { Fail-AetherV 'ClusterError' "'$destination' is not a node of cluster '$($cluster.Name)'" }
    if ([int]$node[0].State -ne 0) { Fail-AetherV 'ClusterError' "node '$destination' of cluster '$($cluster.Name)' is not up" }
    $nodeName = [string]$node[0].Name
    $groupName = [string]$role[0].OwnerGroup
    function Get-Group { @(Get-CimInstance -Namespace 'root\MSCluster' -ClassName MSCluster_ResourceGroup -ErrorAction Stop | Where-Object { [string]$_.Name -eq $groupName })[0] }
    $group = Get-Group
    if ([int]$group.State -ne 4) {  # 4: Pending -- a move already under way (a rerun) is waited for, not started again
        try {
            $arguments = @{ NodeName = $nodeName; Parameters = [byte[]](New-AetherLiveMigrationParams); Flags = [uint32]14 }
            [void](Invoke-CimMethod -InputObject $group -MethodName MoveToNewNodeParams -Arguments $arguments -ErrorAction Stop)
        } catch {
            Fail-AetherV 'ClusterError' "the cluster could not live-migrate VM ${id}: $($_.Exception.Message)"
        }
    }
    $timeout = 300
    if ($null -ne $Params.timeout_seconds) { $timeout = [int]$Params.timeout_seconds }
    $started = Get-Date
    while ($true) {
        $group = Get-Group
        $owner = ([string]$group.OwnerNode).Split('.')[0]
        $elapsed = ((Get-Date) - $started).TotalSeconds
        if ($owner -eq $nodeName.Split('.')[0] -and [int]$group.State -ne 4) { break }
        if ($owner -eq $env:COMPUTERNAME -and [int]$group.State -ne 4 -and $elapsed -gt 10) {
            Fail-AetherV 'ClusterError' "the cluster could not live-migrate VM ${id}: the role stayed on $($env:COMPUTERNAME) (see the cluster events)"
        }
        if ($elapsed -gt $timeout) { Fail-AetherV 'OperationTimeout' "VM $id is still migrating to $destination after $timeout s: run again to keep waiting" }
        Start-Sleep -Seconds 2
    }
    return [ordered]@{ vm_id = $id; source = $env:COMPUTERNAME; destination = $destination; kind = 'cluster'; storage_path = $null; state = $state }
}

if ($role.Count -gt 0) {
    Fail-AetherV 'ClusterError' "VM $id is a clustered role: migrate it within its cluster (clustered=true), or remove it from the cluster first"
}
if (@(Get-VMDvdDrive -VM $vm | Where-Object { $_.Path }).Count -gt 0) {
    Fail-AetherV 'InvalidVmState' "VM $id has an ISO in a DVD drive, which a move does not take along: eject it first"
}
try {
    $session = New-CimSession -ComputerName $destination -ErrorAction Stop
    $target = Get-VMHost -CimSession $session -ErrorAction Stop
} catch {
    Fail-AetherV 'HostUnreachable' "the destination host '$destination' cannot be reached: $($_.Exception.Message)"
}
try {
    if (-not $storage) { $storage = [System.IO.Path]::Combine([string]$target.VirtualMachinePath, [string]$vm.Name) }
    if ($storage -notmatch '^[A-Za-z]:\\') { Fail-AetherV 'InvalidParameters' "storage_path '$storage' is not an absolute path" }
    if (@(Get-VM -CimSession $session | Where-Object { $_.Name -eq $vm.Name -or $_.Id -eq $vm.Id }).Count -gt 0) {
        Fail-AetherV 'VmAlreadyExists' "a VM named '$($vm.Name)' (or with id $id) already exists on the destination"
    }
    $switches = @(Get-VMSwitch -CimSession $session | ForEach-Object { [string]$_.Name })
    foreach ($adapter in @(Get-VMNetworkAdapter -VM $vm)) {
        if ($adapter.SwitchName -and $switches -notcontains [string]$adapter.SwitchName) {
            Fail-AetherV 'SwitchNotFound' "the destination has no virtual switch '$($adapter.SwitchName)' (used by VM $id)"
        }
    }
    # Every file the move copies: the configuration and checkpoint files, and each disk chain (drives and checkpoints).
    $sizes = @{}
    foreach ($folder in @('Virtual Machines', 'Snapshots')) {
        $path = [System.IO.Path]::Combine([string]$vm.ConfigurationLocation, $folder)
        if (Test-Path -LiteralPath $path) {
            foreach ($file in @(Get-ChildItem -LiteralPath $path -Recurse -File)) { $sizes[$file.FullName.ToLowerInvariant()] = [int64]$file.Length }
        }
    }
    $heads = @(Get-VMHardDiskDrive -VM $vm | ForEach-Object { [string]$_.Path })
    $heads += @(Get-VMSnapshot -VM $vm | Get-VMHardDiskDrive | ForEach-Object { [string]$_.Path })
    foreach ($head in $heads) {
        $path = $head
        while ($path -and -not $sizes.ContainsKey($path.ToLowerInvariant())) {
            $vhd = Get-VHD -Path $path -ErrorAction Stop
            $sizes[$path.ToLowerInvariant()] = [int64]$vhd.FileSize
            $path = [string]$vhd.ParentPath
        }
    }
    $needed = [int64]0
    foreach ($size in $sizes.Values) { $needed += $size }
    $free = Get-AetherFreeBytes $storage @(Get-CimInstance -CimSession $session -ClassName Win32_Volume -Filter 'DriveType=3')
    if ($needed -gt $free) {
        Fail-AetherV 'InsufficientResources' "the destination volume of '$storage' has $free bytes free, VM $id needs $needed"
    }
    if (@('Running', 'Paused') -contains $state) {
        $os = Get-CimInstance -CimSession $session -ClassName Win32_OperatingSystem
        $memory = [math]::Max([double]$vm.MemoryAssigned, [double]$vm.MemoryStartup)
        if ($memory -gt [double]$os.FreePhysicalMemory * 1024) {
            Fail-AetherV 'InsufficientResources' "the destination has not enough free memory for running VM $id"
        }
    }
    $share = '\\' + $destination + '\' + $storage.Substring(0, 1) + '$' + $storage.Substring(2)
    if ((Test-Path -LiteralPath $share) -and @(Get-ChildItem -LiteralPath $share -Recurse -File | Select-Object -First 1).Count -gt 0) {
        Fail-AetherV 'VmAlreadyExists' "'$storage' on the destination already holds files (an earlier attempt's copy?): remove it first"
    }
} finally {
    Remove-CimSession -CimSession $session -ErrorAction SilentlyContinue
}
Move-VM -VM $vm -DestinationHost $destination -IncludeStorage -DestinationStoragePath $storage -Confirm:$false -ErrorAction Stop
return [ordered]@{ vm_id = $id; source = $env:COMPUTERNAME; destination = $destination; kind = 'shared_nothing'; storage_path = $storage.TrimEnd('\'); state = $state }
