function Get-AetherStorageRoots($Requested) {
    if (Test-Path -LiteralPath 'C:\ClusterStorage') {
        $csv = @(Get-ChildItem -LiteralPath 'C:\ClusterStorage' -Directory | ForEach-Object { $_.FullName })
        if ($csv.Count -gt 0) { return $csv }
    }
    if ($null -ne $Requested) { return @($Requested | ForEach-Object { [string]$_ }) }
    return @('C:\')
}
