function Get-AetherDiskPlan($Params) {
    # What the OS disk of a new VM will be, checked before anything changes: the job's own folder
    # <volume>\Hyper-V\<vm name>\ (see Find-AetherJobFolder), the golden image to copy (none: a blank disk) and the
    # virtual size wanted (disk_gb, never less than the image's). Makes the folder with its marker (.aetherv-job, the
    # job id) when there is none yet, on the volume (a CSV, or the standalone storage root) with the most free space,
    # which must hold the copy.
    # Returns: {folder, path, source, source_bytes, desired, image_name}
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
    $folder = Find-AetherJobFolder $vmName $jobId $roots

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

    $sourcePath = $null
    $sourceBytes = [int64]0
    if ($source) { $sourcePath = $source.FullName; $sourceBytes = [int64]$source.Length }
    return [ordered]@{
        folder = $folder; path = [System.IO.Path]::Combine($folder, $vmName + '.vhdx'); source = $sourcePath
        source_bytes = $sourceBytes; desired = [int64]$desired; image_name = $imageName
    }
}
