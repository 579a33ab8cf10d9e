param($Params)
# Checks a create request without changing anything, and reports EVERY failed check (not just the first):
# name free (no VM with that name, case-insensitive, and no VM folder of that name), image present, switch present,
# enough free memory for the startup memory, enough free space on the volume prepare_disk would choose.
# Params: name, image_name?, switch_name?, memory_gb, disk_gb?, storage_roots?, image_paths?
# Returns: {checks: [{name, ok, message}], target_volume}

function New-Check([string]$Name, [bool]$Ok, [string]$Message) {
    return [ordered]@{ name = $Name; ok = $Ok; message = $Message }
}

$name = [string]$Params.name
$checks = New-Object System.Collections.ArrayList
$roots = @(Get-AetherStorageRoots $Params.storage_roots)

# name_free
if (-not (Test-AetherFileName $name)) {
    [void]$checks.Add((New-Check 'name_free' $false "VM name '$name' cannot be used as a folder name"))
} else {
    $taken = @(Get-VM | Where-Object { $_.Name -eq $name })
    $folders = @($roots | ForEach-Object { [System.IO.Path]::Combine($_, 'Hyper-V', $name) } | Where-Object { Test-Path -LiteralPath $_ })
    if ($taken.Count -gt 0) {
        [void]$checks.Add((New-Check 'name_free' $false "a VM named '$name' already exists on this host"))
    } elseif ($folders.Count -gt 0) {
        [void]$checks.Add((New-Check 'name_free' $false "the VM folder '$($folders[0])' already exists"))
    } else {
        [void]$checks.Add((New-Check 'name_free' $true ''))
    }
}

# image_present
$image = $null
if ($Params.image_name) {
    $imageName = [string]$Params.image_name
    if (Test-AetherFileName $imageName) { $image = Find-AetherImage $imageName $Params.image_paths }
    if ($image) {
        [void]$checks.Add((New-Check 'image_present' $true ''))
    } else {
        [void]$checks.Add((New-Check 'image_present' $false "image '$imageName' is not in the host's image library"))
    }
} else {
    [void]$checks.Add((New-Check 'image_present' $true 'blank disk: no image needed'))
}

# switch_present
if ($Params.switch_name) {
    $switchName = [string]$Params.switch_name
    if (@(Get-VMSwitch | Where-Object { $_.Name -eq $switchName }).Count -gt 0) {
        [void]$checks.Add((New-Check 'switch_present' $true ''))
    } else {
        [void]$checks.Add((New-Check 'switch_present' $false "virtual switch '$switchName' does not exist on this host"))
    }
} else {
    [void]$checks.Add((New-Check 'switch_present' $true 'no network adapter requested'))
}

# memory_available
$freeGb = [math]::Round([double](Get-CimInstance -ClassName Win32_OperatingSystem).FreePhysicalMemory / 1mb, 2)
$memoryGb = [double]$Params.memory_gb
if ($freeGb -ge $memoryGb) {
    [void]$checks.Add((New-Check 'memory_available' $true ''))
} else {
    [void]$checks.Add((New-Check 'memory_available' $false "needs $memoryGb GB of memory, the host has $freeGb GB free"))
}

# disk_space_available: the clone's file size, or 1 GB for a new dynamic disk
$volumes = @(Get-CimInstance -ClassName Win32_Volume -Filter 'DriveType=3')
$target = $null; $targetFree = [int64]-1
foreach ($root in $roots) {
    $free = Get-AetherFreeBytes $root $volumes
    if ($free -gt $targetFree) { $target = $root; $targetFree = $free }
}
$needed = [int64]1gb
if ($image) { $needed = [int64]$image.Length }
if ($null -ne $target -and $targetFree -ge $needed) {
    [void]$checks.Add((New-Check 'disk_space_available' $true ''))
} else {
    $neededGb = [math]::Round($needed / 1gb, 2)
    $freeText = [math]::Round([math]::Max($targetFree, 0) / 1gb, 2)
    [void]$checks.Add((New-Check 'disk_space_available' $false "needs $neededGb GB on '$target', $freeText GB free"))
}

return [ordered]@{ checks = @($checks); target_volume = $target }
