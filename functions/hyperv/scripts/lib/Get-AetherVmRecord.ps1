function Get-AetherVmRecord($Vm) {
    # The inventory record of one VM (Get-AetherVmRecords), as get_vm.ps1 returns it.
    $warnings = New-Object 'System.Collections.Generic.List[string]'
    $records = @(Get-AetherVmRecords -OnlyId ([string]$Vm.Id).ToLowerInvariant() -Warnings $warnings)
    if ($records.Count -eq 0) { Fail-AetherV 'VmNotFound' "no VM with id $($Vm.Id) on this host" }
    return $records[0]
}
