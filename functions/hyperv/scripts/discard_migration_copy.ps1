param($Params)
# Removes what a failed shared-nothing migration copied into storage_path on this host (the destination). Run only
# after Move-VM itself failed: migrate_vm's checks found no file under storage_path just before, so what is there now
# is that move's partial copy. Nothing a VM of this host uses is touched: if the VM is registered here the move went
# through (nothing is deleted), and a folder holding a configuration or disk of any VM here is left as it is; both
# come back as `warning`. The folder's contents go; the folder itself too when it is named after the VM (the
# default layout), else it stays, empty.
# Idempotent: a folder that is gone (or empty) is success with existed = false.
# Params: vm_id, vm_name, storage_path.  Returns: {existed, files_deleted, warning}.  Fails: InvalidParameters.

$guid = [guid]::Empty
if (-not [guid]::TryParse([string]$Params.vm_id, [ref]$guid)) {
    Fail-AetherV 'InvalidParameters' "vm_id '$($Params.vm_id)' is not a GUID"
}
$storage = ([string]$Params.storage_path).TrimEnd('\')
if ($storage -notmatch '^[A-Za-z]:\\[^\\]+') {
    Fail-AetherV 'InvalidParameters' "storage_path '$storage' is not a folder below a volume's root"
}
$name = [string]$Params.vm_name
if (-not (Test-Path -LiteralPath $storage -PathType Container)) {
    return [ordered]@{ existed = $false; files_deleted = 0; warning = $null }
}
if (@(Get-VM | Where-Object { $_.Id -eq $guid }).Count -gt 0) {
    return [ordered]@{ existed = $true; files_deleted = 0; warning = "VM $guid is registered on this host: the move went through; nothing was deleted" }
}
$prefix = $storage.ToLowerInvariant() + '\'
foreach ($other in @(Get-VM)) {
    $paths = @([string]$other.ConfigurationLocation) + @(Get-VMHardDiskDrive -VM $other | ForEach-Object { [string]$_.Path })
    foreach ($path in $paths) {
        if (($path.ToLowerInvariant().TrimEnd('\') + '\').StartsWith($prefix)) {
            return [ordered]@{ existed = $true; files_deleted = 0; warning = "'$storage' holds files of VM $(([string]$other.Id).ToLowerInvariant()); nothing was deleted" }
        }
    }
}
$files = @(Get-ChildItem -LiteralPath $storage -Recurse -File -Force)
if ($files.Count -eq 0) { return [ordered]@{ existed = $false; files_deleted = 0; warning = $null } }
if ($name -and [System.IO.Path]::GetFileName($storage) -eq $name) {
    Remove-Item -LiteralPath $storage -Recurse -Force -ErrorAction Stop
} else {
    Get-ChildItem -LiteralPath $storage -Force | Remove-Item -Recurse -Force -ErrorAction Stop
}
return [ordered]@{ existed = $true; files_deleted = $files.Count; warning = $null }
