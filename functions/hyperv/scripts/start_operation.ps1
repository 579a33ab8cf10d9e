param($Params)
# Starts long work on this host as a background operation that outlives this call: the worker runs as a scheduled
# task (see Start-AetherOperationTask for why), reports progress and its result in a status file in the job's VM
# folder (<folder>\.aetherv-op.<operation id>.json), and is watched with operation_status and ended early with
# stop_operation. The caller names the operation: starting an id that exists in the job's folder finds it and
# returns it as it is -- never a second copy. An earlier operation of the job still running in the folder is
# stopped (a new attempt supersedes it).
# Kinds: prepare_disk -- the OS disk of a new VM, as prepare_disk.ps1 makes it (same folder, marker, checks and
# result), the image copy done by the worker. A disk that is already there, or a blank disk (a new dynamic VHDX is
# only metadata), needs no worker: the operation has succeeded when this call returns.
# Params: kind, operation_id, job_id, vm_name, image_name?, disk_gb?, storage_roots?, image_paths?,
#         time_limit_seconds? (the task's ExecutionTimeLimit, 60..604800, default 86400)
# Returns: {id, kind, job_id, folder, state, bytes_done, bytes_total, percent, started, updated, result, error}
# Fails: InvalidParameters, ImageNotFound, VmAlreadyExists, InsufficientResources.

$kind = [string]$Params.kind
$id = [string]$Params.operation_id
$jobId = [string]$Params.job_id
$vmName = [string]$Params.vm_name
$limit = 86400
$problems = New-Object System.Collections.ArrayList
if ($kind -cne 'prepare_disk') { [void]$problems.Add("kind '$kind' is not a background operation this host runs") }
if ($id -cnotmatch '^[A-Za-z0-9][A-Za-z0-9._-]{0,149}\z') { [void]$problems.Add("operation_id '$id' is not a valid operation id") }
if ($null -ne $Params.time_limit_seconds) {
    $limit = [int]$Params.time_limit_seconds
    if ($limit -lt 60 -or $limit -gt 604800) { [void]$problems.Add('time_limit_seconds must be between 60 and 604800') }
}
if ($problems.Count -gt 0) { Fail-AetherV 'InvalidParameters' ($problems -join '; ') }

if ((Test-AetherFileName $vmName) -and $jobId) {
    $folder = Find-AetherJobFolder $vmName $jobId @(Get-AetherStorageRoots $Params.storage_roots)
    if ($folder) {
        $statusPath = Get-AetherOperationFile $folder $id
        $existing = Read-AetherOperation $statusPath
        if ($null -ne $existing) {
            if ([string]$existing.state -eq 'starting' -and -not (Get-AetherOperationTask $id)) {
                Start-AetherOperationTask $statusPath $limit  # the call that wrote it ended before it started the task
            }
            return (Resolve-AetherOperation $statusPath)
        }
    }
}

$plan = Get-AetherDiskPlan $Params
foreach ($other in @(Get-ChildItem -LiteralPath $plan.folder -Force -File -Filter '.aetherv-op.*.json')) {
    [void](Stop-AetherOperation $other.FullName)
}
$statusPath = Get-AetherOperationFile $plan.folder $id
$now = [DateTime]::UtcNow.ToString('o')
$op = [ordered]@{
    id = $id; kind = $kind; job_id = $jobId; folder = $plan.folder; state = 'starting'; bytes_done = [int64]0
    bytes_total = $plan.source_bytes; started = $now; updated = $now; pid = $null; result = $null; error = $null
    spec = [ordered]@{
        source = $plan.source; partial = $plan.path + '.partial'; path = $plan.path; desired = $plan.desired
        image_name = $plan.image_name
    }
}
$exists = Test-Path -LiteralPath $plan.path -PathType Leaf
if ($exists -or -not $plan.source) {
    if (-not $exists) { [void](New-VHD -Path $plan.path -SizeBytes $plan.desired -Dynamic) }
    $size = [int64](Get-VHD -Path $plan.path).Size
    if ($size -lt $plan.desired) {
        Resize-VHD -Path $plan.path -SizeBytes $plan.desired
        $size = $plan.desired
    }
    $op.state = 'succeeded'
    $op.bytes_done = $plan.source_bytes
    $op.result = [ordered]@{
        folder = $plan.folder; path = $plan.path; size_gb = [math]::Round($size / 1gb, 2); image_name = $plan.image_name
        created = -not $exists
    }
    Write-AetherOperation $statusPath $op
} else {
    Write-AetherOperation $statusPath $op
    Start-AetherOperationTask $statusPath $limit
}
return (Resolve-AetherOperation $statusPath)
