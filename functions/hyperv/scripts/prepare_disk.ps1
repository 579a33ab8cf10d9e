param($Params)
# Makes the OS disk of a new VM in its own folder, <volume>\Hyper-V\<vm name>\ (volume = the CSV, or when the host has
# no CSV the standalone storage root, with the most free space): a copy of the golden image, grown to disk_gb when
# that is larger, or a new dynamic VHDX of disk_gb. The folder gets a marker file (.aetherv-job) with the job id.
# The copy runs inside this call, so it lasts as long as the image takes to copy: workflows started by this build
# use start_operation (a background copy they poll) instead; this script serves instances started before.
# Idempotent: a folder whose marker holds this job id is reused (the disk is made or completed if missing);
# a folder with any other marker, or none, belongs to someone else: VmAlreadyExists, nothing is touched.
# Params: vm_name, job_id, image_name?, disk_gb?, storage_roots?, image_paths?
# Returns: {folder, path, size_gb, image_name, created}
# Fails: InvalidParameters, ImageNotFound, VmAlreadyExists, InsufficientResources.

$plan = Get-AetherDiskPlan $Params
$path = $plan.path
$created = $false
if (-not (Test-Path -LiteralPath $path -PathType Leaf)) {
    if ($plan.source) {
        $partial = $path + '.partial'
        Copy-Item -LiteralPath $plan.source -Destination $partial -Force
        Move-Item -LiteralPath $partial -Destination $path
    } else {
        [void](New-VHD -Path $path -SizeBytes $plan.desired -Dynamic)
    }
    $created = $true
}
$size = [int64](Get-VHD -Path $path).Size
if ($size -lt $plan.desired) {
    Resize-VHD -Path $path -SizeBytes $plan.desired
    $size = $plan.desired
}

return [ordered]@{
    folder = $plan.folder; path = $path; size_gb = [math]::Round($size / 1gb, 2); image_name = $plan.image_name; created = $created
}
