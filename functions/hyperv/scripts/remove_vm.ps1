param($Params)
# Removes a VM and what Aether-V made for it: turns it off, removes its DVD drives, detaches and deletes its VHDs
# (never a shared disk, a disk another VM uses, or a file in an image library), removes the VM, deletes the
# provisioning ISO copies, then deletes the VM folder -- only a folder with the Aether-V marker, and only when nothing
# unknown is left in it (unknown files are reported and the folder is kept).
# A missing VM is success (existed = false). With vm_name and job_id, the folder that job prepared is cleaned up as
# well, which also covers a create that failed before the VM existed (vm_id may then be null).
# A clustered VM is refused (ClusterError): call remove_from_cluster first.
# Params: vm_id?, vm_name?, job_id?, storage_roots?
# Returns: {id, existed, deleted_files, folder_removed, kept_files}
# Fails: InvalidParameters, ClusterError.

$deleted = New-Object System.Collections.ArrayList
$kept = New-Object System.Collections.ArrayList
$folders = New-Object System.Collections.ArrayList
$id = $null
$existed = $false

if ($Params.vm_id) {
    $guid = [guid]::Empty
    if (-not [guid]::TryParse([string]$Params.vm_id, [ref]$guid)) {
        Fail-AetherV 'InvalidParameters' "vm_id '$($Params.vm_id)' is not a GUID"
    }
    $id = $guid.ToString()
    $vm = @(Get-VM | Where-Object { $_.Id -eq $guid })
    if ($vm.Count -gt 0) {
        $existed = $true
        try { $resources = @(Get-AetherVmConfigResource $id) } catch { $resources = @() }
        if ($resources.Count -gt 0) { Fail-AetherV 'ClusterError' "VM $id is clustered; remove it from the cluster first" }
        $folder = Remove-AetherVmAndDisks $vm[0] $deleted
        if ($folder -and (Read-AetherMarker $folder)) { [void]$folders.Add($folder) }
    }
}

if ($Params.vm_name -and $Params.job_id -and (Test-AetherFileName ([string]$Params.vm_name))) {
    $roots = @()
    if (Test-Path -LiteralPath 'C:\ClusterStorage') {
        $roots += @(Get-ChildItem -LiteralPath 'C:\ClusterStorage' -Directory | ForEach-Object { $_.FullName })
    }
    if ($null -ne $Params.storage_roots) { $roots += @($Params.storage_roots | ForEach-Object { [string]$_ }) } else { $roots += 'C:\' }
    foreach ($root in $roots) {
        $candidate = [System.IO.Path]::Combine($root, 'Hyper-V', [string]$Params.vm_name)
        if ((Test-Path -LiteralPath $candidate) -and (Read-AetherMarker $candidate) -eq [string]$Params.job_id) {
            [void]$folders.Add($candidate)
        }
    }
}

$inUse = @{}
foreach ($drive in @(Get-VM | Get-VMHardDiskDrive)) {
    if ($drive.Path) { $inUse[([string]$drive.Path).ToLowerInvariant()] = $true }
}
$folderRemoved = $false
$done = @{}
foreach ($folder in $folders) {
    $key = $folder.TrimEnd('\').ToLowerInvariant()
    if ($done.ContainsKey($key) -or -not (Test-Path -LiteralPath $folder)) { continue }
    $done[$key] = $true
    if (Remove-AetherFolder $folder $inUse $deleted $kept) { $folderRemoved = $true }
}

return [ordered]@{
    id = $id; existed = $existed; deleted_files = @($deleted); folder_removed = $folderRemoved; kept_files = @($kept)
}
