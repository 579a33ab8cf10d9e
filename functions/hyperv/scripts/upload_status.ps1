param($Params)
# Where an upload of one file to the provisioning library (the install directory) stands, so the caller can skip it,
# resume it or start it over: the installed file (its length, and its SHA-256 when the length is the expected one)
# and the upload beside it, <name>.partial (its length and the SHA-256 of what it holds). Changes nothing.
# Params: name (an .iso file name), size (bytes the complete file has), install_dir?
# Returns: {path, partial_path, installed_bytes, installed_sha256, partial_bytes, partial_sha256}
#          (installed_* null without an installed file; partial_bytes 0 and partial_sha256 null without an upload)
# Fails: InvalidParameters.

$installDir = 'C:\Program Files\Aether-V'
if ($Params.install_dir) { $installDir = [string]$Params.install_dir }
$path = Get-AetherLibraryPath $installDir ([string]$Params.name)
$size = [int64]-1
if ($null -ne $Params.size) { $size = [int64]$Params.size }
if ($size -lt 0) { Fail-AetherV 'InvalidParameters' 'size must be a number of bytes (0 or more)' }
$partial = $path + '.partial'

$installedBytes = $null; $installedSha = $null
if (Test-Path -LiteralPath $path -PathType Leaf) {
    $installedBytes = [int64](Get-Item -LiteralPath $path).Length
    if ($installedBytes -eq $size) { $installedSha = Get-AetherDigest $path }
}
$partialBytes = [int64]0; $partialSha = $null
if (Test-Path -LiteralPath $partial -PathType Leaf) {
    $partialBytes = [int64](Get-Item -LiteralPath $partial).Length
    $partialSha = Get-AetherDigest $partial
}
return [ordered]@{
    path = $path; partial_path = $partial; installed_bytes = $installedBytes; installed_sha256 = $installedSha
    partial_bytes = $partialBytes; partial_sha256 = $partialSha
}
