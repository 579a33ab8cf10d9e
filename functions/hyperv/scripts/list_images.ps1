param($Params)
# The host's golden images: every *.vhdx in C:\ClusterStorage\*\DiskImages and in the standalone library folders.
# Params: image_paths (optional list; default C:\Hyper-V\DiskImages). Returns: {images: [{name, path, size_gb, os_family}]}
# os_family follows the HLVMM prefix rules (reference hyperv-host.md 13.5); null when no rule matches.

$folders = New-Object System.Collections.ArrayList
if (Test-Path -LiteralPath 'C:\ClusterStorage') {
    foreach ($volume in @(Get-ChildItem -LiteralPath 'C:\ClusterStorage' -Directory)) {
        [void]$folders.Add([System.IO.Path]::Combine($volume.FullName, 'DiskImages'))
    }
}
$standalone = @('C:\Hyper-V\DiskImages')
if ($null -ne $Params.image_paths) { $standalone = @($Params.image_paths) }
foreach ($path in $standalone) { [void]$folders.Add([string]$path) }

$images = New-Object System.Collections.ArrayList
$seen = @{}
foreach ($folder in $folders) {
    if (-not (Test-Path -LiteralPath $folder -PathType Container)) { continue }
    foreach ($file in @(Get-ChildItem -LiteralPath $folder -File -Filter '*.vhdx')) {
        $key = $file.FullName.ToLowerInvariant()
        if ($seen.ContainsKey($key)) { continue }
        $seen[$key] = $true
        $name = [System.IO.Path]::GetFileNameWithoutExtension($file.Name)
        $family = $null
        if ($name -match '^(Windows|Microsoft Windows)') { $family = 'windows' }
        elseif ($name -match '^(Ubuntu|Red Hat Enterprise Linux|RHEL|CentOS|Rocky Linux|AlmaLinux|Oracle Linux|Debian|SUSE|openSUSE|Fedora)') { $family = 'linux' }
        [void]$images.Add([ordered]@{
            name = $name; path = $file.FullName; size_gb = [math]::Round($file.Length / 1gb, 2); os_family = $family
        })
    }
}
return [ordered]@{ images = @($images) }
