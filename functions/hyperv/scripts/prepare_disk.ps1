param($Params)
# Makes the OS disk of a new VM in its own folder, <volume>\Hyper-V\<vm name>\ (volume = the CSV, or when the host has
# no CSV the standalone storage root, with the most free space): a copy of the golden image, grown to disk_gb when
# that is larger, or a new dynamic VHDX of disk_gb. The folder gets a marker file (.aetherv-job) with the job id.
# Idempotent: a folder whose marker holds this job id is reused (the disk is made or completed if missing);
# a folder with any other marker, or none, belongs to someone else: VmAlreadyExists, nothing is touched.
# Params: vm_name, job_id, image_name?, disk_gb?, storage_roots?, image_paths?
# Returns: {folder, path, size_gb, image_name, created}
# Fails: InvalidParameters, ImageNotFound, VmAlreadyExists, InsufficientResources.

$vmName = [string]$Params.vm_name
$jobId = [string]$Params.job_id
$imageName = $null
if ($Params.image_name) { $imageName = [string]$Params.image_name }
$diskGb = $null
if ($null -ne $Params.disk_gb) { $diskGb = [int64]$Params.disk_gb }

$problems = New-Object System.Collections.ArrayList
if (-not (Test-AetherFileName $vmName)) { [void]$problems.Add("vm_name '$vmName' cannot be used as a folder name") }
if (-not $jobId) { [void]$problems.Add('job_id is required') }
if ($null -ne $imageName -and -not (Test-AetherFileName $imageName)) { [void]$problems.Add("image_name '$imageName' is not a file name") }
if ($null -eq $imageName -and $null -eq $diskGb) { [void]$problems.Add('a blank disk needs disk_gb') }
if ($problems.Count -gt 0) { Fail-AetherV 'InvalidParameters' ($problems -join '; ') }

$roots = @(Get-AetherStorageRoots $Params.storage_roots)
$folder = $null
foreach ($root in $roots) {
    $candidate = [System.IO.Path]::Combine($root, 'Hyper-V', $vmName)
    if (Test-Path -LiteralPath $candidate) {
        if ((Read-AetherMarker $candidate) -ne $jobId) {
            Fail-AetherV 'VmAlreadyExists' "folder '$candidate' already exists and was not made by job $jobId"
        }
        $folder = $candidate
    }
}

$source = $null
$desired = $null
if ($null -ne $diskGb) { $desired = $diskGb * 1gb }
if ($null -ne $imageName) {
    $source = Find-AetherImage $imageName $Params.image_paths
    if (-not $source) { Fail-AetherV 'ImageNotFound' "image '$imageName' is not in the host's image library" }
    $imageSize = [int64](Get-VHD -Path $source.FullName).Size
    if ($null -eq $desired) { $desired = $imageSize }
    if ($desired -lt $imageSize) {
        Fail-AetherV 'InvalidParameters' "disk_gb $diskGb is smaller than the image ($([math]::Round($imageSize / 1gb, 2)) GB)"
    }
}

$created = $false
if ($null -eq $folder) {
    $volumes = @(Get-CimInstance -ClassName Win32_Volume -Filter 'DriveType=3')
    $best = $null; $bestFree = [int64]-1
    foreach ($root in $roots) {
        $free = Get-AetherFreeBytes $root $volumes
        if ($free -gt $bestFree) { $best = $root; $bestFree = $free }
    }
    $needed = [int64]1gb
    if ($source) { $needed = [int64]$source.Length }
    if ($null -eq $best -or $bestFree -lt $needed) {
        Fail-AetherV 'InsufficientResources' "needs $([math]::Round($needed / 1gb, 2)) GB, the best volume '$best' has $([math]::Round([math]::Max($bestFree, 0) / 1gb, 2)) GB free"
    }
    $folder = [System.IO.Path]::Combine($best, 'Hyper-V', $vmName)
    [void][System.IO.Directory]::CreateDirectory($folder)
    [System.IO.File]::WriteAllText([System.IO.Path]::Combine($folder, '.aetherv-job'), $jobId)
}

$path = [System.IO.Path]::Combine($folder, $vmName + '.vhdx')
if (-not (Test-Path -LiteralPath $path -PathType Leaf)) {
    if ($source) {
        $partial = $path + '.partial'
        Copy-Item -LiteralPath $source.FullName -Destination $partial -Force
        Move-Item -LiteralPath $partial -Destination $path
    } else {
        [void](New-VHD -Path $path -SizeBytes $desired -Dynamic)
    }
    $created = $true
}
$size = [int64](Get-VHD -Path $path).Size
if ($size -lt $desired) {
    Resize-VHD -Path $path -SizeBytes $desired
    $size = $desired
}

return [ordered]@{
    folder = $folder; path = $path; size_gb = [math]::Round($size / 1gb, 2); image_name = $imageName; created = $created
}
