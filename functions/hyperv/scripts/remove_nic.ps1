param($Params)
# Removes a network adapter of the VM (Remove-VMNetworkAdapter). A generation 1 VM only while Off (hot remove is
# generation 2 only, Windows Server 2016+); a generation 2 VM while Off or Running.
# Idempotent: an adapter that is not there is success with existed = false.
# Params: vm_id, nic_id.  Returns: existed (whether the adapter was there).  Fails: InvalidParameters, VmNotFound, InvalidVmState.

$vm = Get-AetherVm $Params.vm_id
$nicId = [string]$Params.nic_id
if (-not $nicId) { Fail-AetherV 'InvalidParameters' 'nic_id is required' }
$adapter = @(Get-VMNetworkAdapter -VM $vm | Where-Object { $_.Id -eq $nicId })
if ($adapter.Count -eq 0) { return [ordered]@{ existed = $false } }
Confirm-AetherNicHotPlug $vm (Get-AetherState $vm) 'removed from'
Remove-VMNetworkAdapter -VMNetworkAdapter $adapter[0] -ErrorAction Stop
return [ordered]@{ existed = $true }
