param($Params)
# Puts uploaded files in place in the provisioning library, then writes the version file, last:
# 1. Every file's upload (<name>.partial) must hold exactly size bytes with the expected SHA-256 ('verified'). A
#    complete (or longer) upload with another SHA-256 is deleted, so the next upload starts over ('mismatch'); a
#    shorter one is kept for the upload to resume ('incomplete'); a file whose installed copy already has the expected
#    SHA-256 needs no upload ('unchanged'); neither is 'missing'. Unless every file is 'unchanged' or 'verified',
#    nothing is replaced and no version is written.
# 2. A file to replace may not be in a DVD drive of a VM that is not Off: Hyper-V holds a running VM's ISO open, so
#    Windows refuses to replace it, and a Saved or Paused VM would resume with media whose bytes changed under it.
#    Refused with the VMs named and nothing changed; the verified uploads stay for the next attempt. VMs that are
#    Off and hold the file are reported (they boot the new file).
# 3. Each verified upload replaces its file in one rename ([System.IO.File]::Replace; Move without a file): readers
#    see the old or the new file, never a mix.
# 4. With version: <install dir>\version is written (through version.partial and a rename) only now, so a host
#    never announces a version whose ISOs are not in place, and only when every provisioning ISO the library holds
#    (LinuxProvisioning.iso, WindowsProvisioning.iso) is among the files.
# Params: files [{name, size, sha256}], version?, install_dir?
# Returns: {installed, files: [{name, path, state (replaced|unchanged|verified|incomplete|mismatch|missing), sha256,
#           attached_vms}], version (the version file's content afterwards), version_written}
# Fails: InvalidParameters, InvalidVmState (a file to replace is in use by a VM), ScriptFailed (a rename failed).

$installDir = 'C:\Program Files\Aether-V'
if ($Params.install_dir) { $installDir = [string]$Params.install_dir }
$version = $null
if ($null -ne $Params.version) { $version = [string]$Params.version }

$problems = New-Object System.Collections.ArrayList
$files = New-Object System.Collections.ArrayList
$seen = @{}
foreach ($item in @($Params.files)) {
    if ($null -eq $item) { continue }
    $name = [string]$item.name
    $path = Get-AetherLibraryPath $installDir $name
    if ($seen.ContainsKey($name.ToLowerInvariant())) { [void]$problems.Add("file '$name' is listed twice"); continue }
    $seen[$name.ToLowerInvariant()] = $true
    $size = [int64]-1
    if ($null -ne $item.size) { $size = [int64]$item.size }
    if ($size -lt 0) { [void]$problems.Add("size of '$name' must be a number of bytes") }
    if (-not (Test-AetherDigest ([string]$item.sha256))) { [void]$problems.Add("sha256 of '$name' must be 64 hex digits") }
    [void]$files.Add(@{ name = $name; path = $path; size = $size; sha256 = ([string]$item.sha256).ToLowerInvariant() })
}
if ($files.Count -eq 0) { [void]$problems.Add('files must name at least one file') }
if ($null -ne $version -and $version -notmatch '^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$') {
    [void]$problems.Add('version must be 1-64 letters, digits and . _ + - (starting with a letter or digit)')
}
if ($null -ne $version) {
    foreach ($iso in @('LinuxProvisioning.iso', 'WindowsProvisioning.iso')) {
        $present = Test-Path -LiteralPath ([System.IO.Path]::Combine($installDir, $iso)) -PathType Leaf
        if ($present -and -not $seen.ContainsKey($iso.ToLowerInvariant())) {
            [void]$problems.Add("a version can only be written with every provisioning ISO of the library: $iso is not among the files")
        }
    }
}
if ($problems.Count -gt 0) { Fail-AetherV 'InvalidParameters' ($problems -join '; ') }

# 1. verify
$ready = $true
foreach ($file in $files) {
    $partial = $file.path + '.partial'
    $file.state = 'missing'; $file.actual = $null; $file.attached = New-Object System.Collections.ArrayList
    $uploaded = Test-Path -LiteralPath $partial -PathType Leaf
    $short = $false
    if ($uploaded) {
        $length = [int64](Get-Item -LiteralPath $partial).Length
        $short = $length -lt $file.size
        if ($length -eq $file.size) { $file.actual = Get-AetherDigest $partial }
        if ($file.actual -eq $file.sha256) { $file.state = 'verified'; continue }
        if (-not $short) { Remove-Item -LiteralPath $partial -Force }
    }
    if ((Test-Path -LiteralPath $file.path -PathType Leaf) -and [int64](Get-Item -LiteralPath $file.path).Length -eq $file.size) {
        $installed = Get-AetherDigest $file.path
        if ($installed -eq $file.sha256) { $file.state = 'unchanged'; $file.actual = $installed; continue }
    }
    if ($uploaded) { $file.state = 'mismatch'; if ($short) { $file.state = 'incomplete' } }
    $ready = $false
}

# 2. in use?
$busy = New-Object System.Collections.ArrayList
$toReplace = @($files | Where-Object { $_.state -eq 'verified' })
if ($ready -and $toReplace.Count -gt 0) {
    foreach ($vm in @(Get-VM)) {
        foreach ($drive in @(Get-VMDvdDrive -VM $vm)) {
            if (-not $drive.Path) { continue }
            $held = [System.IO.Path]::GetFullPath([string]$drive.Path)
            foreach ($file in $toReplace) {
                if (-not $held.Equals([System.IO.Path]::GetFullPath($file.path), [System.StringComparison]::OrdinalIgnoreCase)) { continue }
                if ([string]$vm.State -eq 'Off') { [void]$file.attached.Add([string]$vm.Name) }
                else { [void]$busy.Add("$($file.name) is in a DVD drive of $($vm.Name) ($($vm.State))") }
            }
        }
    }
}
if ($busy.Count -gt 0) {
    Fail-AetherV 'InvalidVmState' ((($busy | Sort-Object) -join '; ') + '. Eject it (Set-VMDvdDrive -Path $null) or turn those VMs off, then upload again: the verified upload is kept as <name>.partial and nothing was replaced or announced')
}

# 3. replace, then 4. the version, last
$noBackup = [System.Management.Automation.Language.NullString]::Value
$replaced = New-Object System.Collections.ArrayList
$versionWritten = $false
if ($ready) {
    foreach ($file in $toReplace) {
        $partial = $file.path + '.partial'
        try {
            if (Test-Path -LiteralPath $file.path -PathType Leaf) { [System.IO.File]::Replace($partial, $file.path, $noBackup) }
            else { [System.IO.File]::Move($partial, $file.path) }
        } catch {
            $done = 'nothing was replaced'
            if ($replaced.Count -gt 0) { $done = ($replaced -join ', ') + ' replaced' }
            Fail-AetherV 'ScriptFailed' "could not replace $($file.path): $($_.Exception.Message) ($done; no version written; the verified upload is kept, upload again)"
        }
        $file.state = 'replaced'
        [void]$replaced.Add($file.name)
    }
    if ($null -ne $version) {
        $versionPath = [System.IO.Path]::Combine($installDir, 'version')
        $current = $null
        if (Test-Path -LiteralPath $versionPath -PathType Leaf) {
            $current = [System.IO.File]::ReadAllText($versionPath).Trim([char[]]@([char]0xFEFF, [char]0, ' ', "`t", "`r", "`n"))
        }
        if ($current -ne $version) {
            [System.IO.File]::WriteAllText($versionPath + '.partial', $version + "`r`n", (New-Object System.Text.ASCIIEncoding))
            if (Test-Path -LiteralPath $versionPath -PathType Leaf) { [System.IO.File]::Replace($versionPath + '.partial', $versionPath, $noBackup) }
            else { [System.IO.File]::Move($versionPath + '.partial', $versionPath) }
            $versionWritten = $true
        }
    }
}

$announced = $null
$versionFile = [System.IO.Path]::Combine($installDir, 'version')
if (Test-Path -LiteralPath $versionFile -PathType Leaf) {
    $text = [System.IO.File]::ReadAllText($versionFile).Trim([char[]]@([char]0xFEFF, [char]0, ' ', "`t", "`r", "`n"))
    if ($text) { $announced = $text }
}
$report = New-Object System.Collections.ArrayList
foreach ($file in $files) {
    [void]$report.Add([ordered]@{
        name = $file.name; path = $file.path; state = $file.state; sha256 = $file.actual; attached_vms = @($file.attached | Sort-Object)
    })
}
return [ordered]@{ installed = $ready; files = @($report); version = $announced; version_written = $versionWritten }
