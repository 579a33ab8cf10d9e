param($Params)
# Removes the DVD drive(s) holding the provisioning ISO -- and empty DVD drives, which a Windows guest leaves after
# ejecting the CD -- then deletes the ISO copies in the VM's own folder (never the install directory's originals).
# Idempotent: nothing to remove is success. Works while the VM runs (generation 2 SCSI DVD drives).
# Params: vm_id. Returns: {removed_drives, deleted_files}. Fails: InvalidParameters, VmNotFound.

$vm = Get-AetherVm $Params.vm_id
$folder = ([string]$vm.ConfigurationLocation).TrimEnd('\')
$removed = 0
$deleted = New-Object System.Collections.ArrayList
foreach ($drive in @(Get-VMDvdDrive -VM $vm)) {
    $path = [string]$drive.Path
    if (-not $path -or [System.IO.Path]::GetFileName($path) -like '*Provisioning*.iso') {
        Remove-VMDvdDrive -VMDvdDrive $drive
        $removed++
    }
}
if ($folder -and (Test-Path -LiteralPath $folder -PathType Container)) {
    foreach ($file in @(Get-ChildItem -LiteralPath $folder -File -Filter '*Provisioning*.iso')) {
        Remove-Item -LiteralPath $file.FullName -Force
        [void]$deleted.Add($file.FullName)
    }
}
return [ordered]@{ removed_drives = $removed; deleted_files = @($deleted) }
