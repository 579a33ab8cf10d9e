param($Params)
# Compensation of a create job: removes what the job owns on this host, found by the job's ownership marks and
# never by a returned id alone -- a VM is the job's when its notes carry the line "aetherv-job: <job_id>" (written
# by create_vm) or its configuration lives in a folder whose marker names the job (so a create that failed inside
# its script after New-VM is found too). For each such VM: its cluster role, then the VM with its DVD drives and
# disks (see Remove-AetherVmAndDisks). Then the job's folders (<root>\Hyper-V\<vm_name> whose marker names the
# job), when nothing unknown is left in them. VMs named like the job's VM but without its mark are reported in
# not_owned and left alone. Safe to run again: what is gone is no longer found.
# Params: job_id, vm_name, storage_roots?
# Returns: {job_id, vms_found, vms_removed, cluster_roles_removed, not_owned, deleted_files, folders_removed,
#           kept_files} (VMs as {id, name})
# Fails: InvalidParameters, ClusterError.

$jobId = [string]$Params.job_id
$vmName = [string]$Params.vm_name
if (-not $jobId -or $jobId -notmatch '^[A-Za-z0-9._:-]{1,200}$') { Fail-AetherV 'InvalidParameters' 'job_id is required' }
if (-not (Test-AetherFileName $vmName)) { Fail-AetherV 'InvalidParameters' "vm_name '$vmName' cannot be a folder name" }

$mark = "aetherv-job: $jobId"
$found = New-Object System.Collections.ArrayList
$removed = New-Object System.Collections.ArrayList
$unclustered = New-Object System.Collections.ArrayList
$notOwned = New-Object System.Collections.ArrayList
$deleted = New-Object System.Collections.ArrayList
$kept = New-Object System.Collections.ArrayList
$folders = New-Object System.Collections.ArrayList

$owned = New-Object System.Collections.ArrayList
foreach ($vm in @(Get-VM)) {
    $byNotes = @(([string]$vm.Notes) -split "`r?`n" | Where-Object { $_.Trim() -eq $mark }).Count -gt 0
    $folder = ([string]$vm.ConfigurationLocation).TrimEnd('\')
    $byFolder = $folder -and (Read-AetherMarker $folder) -eq $jobId
    $entry = [ordered]@{ id = ([string]$vm.Id).ToLowerInvariant(); name = [string]$vm.Name }
    if ($byNotes -or $byFolder) { [void]$owned.Add($vm); [void]$found.Add($entry) }
    elseif ([string]$vm.Name -eq $vmName) { [void]$notOwned.Add($entry) }
}
foreach ($entry in $notOwned) { Write-AetherVLog "left VM $($entry.name) ($($entry.id)) alone: it lacks this job's mark" 'warning' }
foreach ($vm in $owned) {
    $id = ([string]$vm.Id).ToLowerInvariant()
    Write-AetherVLog "removing VM $([string]$vm.Name) ($id): it carries this job's mark"
    if (Remove-AetherClusterRole $id) { [void]$unclustered.Add($id) }
    $folder = Remove-AetherVmAndDisks $vm $deleted
    [void]$removed.Add($id)
    if ($folder -and (Read-AetherMarker $folder) -eq $jobId) { [void]$folders.Add($folder) }
}

foreach ($root in @(Get-AetherStorageRoots $Params.storage_roots)) {
    $candidate = [System.IO.Path]::Combine($root, 'Hyper-V', $vmName)
    if ((Test-Path -LiteralPath $candidate) -and (Read-AetherMarker $candidate) -eq $jobId) { [void]$folders.Add($candidate) }
}
$inUse = @{}
foreach ($drive in @(Get-VM | Get-VMHardDiskDrive)) {
    if ($drive.Path) { $inUse[([string]$drive.Path).ToLowerInvariant()] = $true }
}
$removedFolders = New-Object System.Collections.ArrayList
$done = @{}
foreach ($folder in $folders) {
    $key = $folder.TrimEnd('\').ToLowerInvariant()
    if ($done.ContainsKey($key) -or -not (Test-Path -LiteralPath $folder)) { continue }
    $done[$key] = $true
    if (Remove-AetherFolder $folder $inUse $deleted $kept) { [void]$removedFolders.Add($folder) }
}

return [ordered]@{
    job_id = $jobId; vms_found = @($found); vms_removed = @($removed); cluster_roles_removed = @($unclustered)
    not_owned = @($notOwned); deleted_files = @($deleted); folders_removed = @($removedFolders); kept_files = @($kept)
}
