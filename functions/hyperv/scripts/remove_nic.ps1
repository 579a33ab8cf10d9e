param($Params)
# Removes a network adapter of the VM (Remove-VMNetworkAdapter). A generation 1 VM only while Off (hot remove is
# generation 2 only, Windows Server 2016+); a generation 2 VM while Off or Running.
# Idempotent: an adapter that is not there is success with existed = false. Without nic_id the adapter is the one
# named name (undoing an add_nic, whose adapter carries the job's own name).
# Params: vm_id, nic_id (or name).  Returns: existed (whether the adapter was there).  Fails: InvalidParameters, VmNotFound, InvalidVmState.

$vm = Get-AetherVm $Params.vm_id
$nicId = [string]$Params.nic_id
$name = [string]$Params.name
if (-not $nicId -and -not $name) { Fail-AetherV 'InvalidParameters' 'nic_id or name is required' }
if ($nicId) {
    $adapter = @(Get-VMNetworkAdapter -VM $vm | Where-Object { $_.Id -eq $nicId })
} else {
    $adapter = @(Get-VMNetworkAdapter -VM $vm | Where-Object { $_.Name -eq $name })
    if ($adapter.Count -gt 1) { Fail-AetherV 'InvalidParameters' "VM $($vm.Id) has $($adapter.Count) adapters named '$name'" }
}
if ($adapter.Count -eq 0) { return [ordered]@{ existed = $false } }
Confirm-AetherNicHotPlug $vm (Get-AetherState $vm) 'removed from'
Remove-VMNetworkAdapter -VMNetworkAdapter $adapter[0] -ErrorAction Stop
return [ordered]@{ existed = $true }
