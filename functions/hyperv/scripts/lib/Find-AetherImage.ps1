function Find-AetherImage([string]$ImageName, $Requested) {
    $folders = New-Object System.Collections.ArrayList
    if (Test-Path -LiteralPath 'C:\ClusterStorage') {
        foreach ($volume in @(Get-ChildItem -LiteralPath 'C:\ClusterStorage' -Directory)) {
            [void]$folders.Add([System.IO.Path]::Combine($volume.FullName, 'DiskImages'))
        }
    }
    $standalone = @('C:\Hyper-V\DiskImages')
    if ($null -ne $Requested) { $standalone = @($Requested) }
    foreach ($path in $standalone) { [void]$folders.Add([string]$path) }
    foreach ($folder in $folders) {
        $candidate = [System.IO.Path]::Combine($folder, $ImageName + '.vhdx')
        if (Test-Path -LiteralPath $candidate -PathType Leaf) { return (Get-Item -LiteralPath $candidate) }
    }
    return $null
}
