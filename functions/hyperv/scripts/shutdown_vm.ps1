param($Params)
# Shuts a VM down through the guest's shutdown integration service (Msvm_ShutdownComponent.InitiateShutdown) and
# waits up to timeout_seconds for it to be Off. An Off VM is success with changed = false; a VM already Stopping is
# waited for. Params: vm_id, timeout_seconds (default 120). Returns: {id, previous_state, state, changed}.
# Fails: VmNotFound; InvalidVmState (not Running, or the integration service does not answer); OperationTimeout.

$vm = Get-AetherVm $Params.vm_id
$previous = Get-AetherState $vm
$timeout = 120
if ($null -ne $Params.timeout_seconds) { $timeout = [int]$Params.timeout_seconds }
if ($previous -eq 'Off') { return (New-PowerResult $vm $previous $false) }
if ($previous -eq 'Running') {
    $guid = ([string]$vm.Id).ToUpperInvariant()
    $component = @(Get-CimInstance -Namespace 'root\virtualization\v2' -ClassName Msvm_ShutdownComponent -Filter "SystemName='$guid'")
    if ($component.Count -eq 0 -or @($component[0].OperationalStatus)[0] -ne 2) {
        Fail-AetherV 'InvalidVmState' "cannot shut down VM $($vm.Id): the guest's shutdown integration service is not available"
    }
    $result = Invoke-CimMethod -InputObject $component[0] -MethodName InitiateShutdown -Arguments @{ Force = $true; Reason = 'Aether-V shutdown' }
    if ($result.ReturnValue -ne 0) {
        Fail-AetherV 'InvalidVmState' "the guest refused to shut down VM $($vm.Id) (return value $($result.ReturnValue))"
    }
} elseif ($previous -ne 'Stopping') {
    Fail-AetherV 'InvalidVmState' "cannot shut down VM $($vm.Id): it is $previous"
}
$deadline = [datetime]::UtcNow.AddSeconds($timeout)
while ((Get-AetherState $vm) -ne 'Off') {
    if ([datetime]::UtcNow -ge $deadline) {
        Fail-AetherV 'OperationTimeout' "VM $($vm.Id) did not shut down within $timeout s (it is $(Get-AetherState $vm))"
    }
    Start-Sleep -Milliseconds 500
}
return (New-PowerResult $vm $previous $true)
