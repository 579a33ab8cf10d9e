param($Params)
# Changes a network adapter of the VM in any state: `switch` connects it to that switch (Connect-VMNetworkAdapter;
# null keeps the connection); `vlan_id` sets the access VLAN (Set-VMNetworkAdapterVlan -Access -VlanId), null makes
# it untagged (-Untagged).
# Idempotent: it sets the wanted values, whatever they were.
# Params: vm_id, nic_id, switch?, vlan_id?.  Returns: the adapter (as in the VM record).
# Fails: InvalidParameters, VmNotFound, NicNotFound, SwitchNotFound.

$vm = Get-AetherVm $Params.vm_id
$problems = New-Object System.Collections.ArrayList
$nicId = [string]$Params.nic_id
$vlanId = Get-AetherIntParam $Params.vlan_id 'vlan_id' $problems
if (-not $nicId) { [void]$problems.Add('nic_id is required') }
if ($null -ne $vlanId -and ($vlanId -lt 1 -or $vlanId -gt 4094)) { [void]$problems.Add('vlan_id must be 1..4094') }
if ($problems.Count -gt 0) { Fail-AetherV 'InvalidParameters' ($problems -join '; ') }
$adapter = @(Get-VMNetworkAdapter -VM $vm | Where-Object { $_.Id -eq $nicId })
if ($adapter.Count -eq 0) { Fail-AetherV 'NicNotFound' "VM $($vm.Id) has no network adapter $nicId" }
if ($null -ne $Params.switch) {
    $switchName = [string]$Params.switch
    $switch = @(Get-VMSwitch | Where-Object { $_.Name -eq $switchName })
    if ($switch.Count -eq 0) { Fail-AetherV 'SwitchNotFound' "virtual switch '$switchName' does not exist on this host" }
    Connect-VMNetworkAdapter -VMNetworkAdapter $adapter[0] -SwitchName $switch[0].Name -ErrorAction Stop
}
if ($null -ne $vlanId) { Set-VMNetworkAdapterVlan -VMNetworkAdapter $adapter[0] -Access -VlanId ([int]$vlanId) -ErrorAction Stop }
else { Set-VMNetworkAdapterVlan -VMNetworkAdapter $adapter[0] -Untagged -ErrorAction Stop }
return (Get-AetherNicRecord $vm ([string]$adapter[0].Id))
