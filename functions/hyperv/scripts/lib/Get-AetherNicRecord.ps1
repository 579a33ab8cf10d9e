function Get-AetherNicRecord($Vm, [string]$NicId) {
    # The adapter as the VM record (Get-AetherVmRecords) projects it.
    foreach ($network in @((Get-AetherVmRecord $Vm).networks)) {
        if ([string]$network.id -eq $NicId) { return $network }
    }
    Fail-AetherV 'NicNotFound' "VM $($Vm.Id) has no network adapter $NicId"
}
