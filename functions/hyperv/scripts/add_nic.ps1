param($Params)
# Adds a network adapter named `name` to the VM, connected to `switch` (Add-VMNetworkAdapter -SwitchName -Name), with
# an access VLAN (Set-VMNetworkAdapterVlan -Access -VlanId) or untagged. A generation 1 VM only while Off (hot add is
# generation 2 only, Windows Server 2016+); at most 8 adapters per VM (Aether-V's limit, stricter than Windows Server
# 2016+: https://learn.microsoft.com/windows-server/virtualization/hyper-v/plan/plan-for-hyper-v-scalability-in-windows-server).
# Idempotent: `name` is the caller's, one per job; a rerun finds the adapter by name and (re)applies the switch and
# VLAN, so a run that stopped between the add and the VLAN is completed. Two adapters of that name: InvalidParameters.
# Params: vm_id, switch, vlan_id?, name.  Returns: the adapter (as in the VM record).
# Fails: InvalidParameters, VmNotFound, SwitchNotFound, InvalidVmState, InsufficientResources.

$vm = Get-AetherVm $Params.vm_id
$problems = New-Object System.Collections.ArrayList
$name = ([string]$Params.name).Trim()
$switchName = [string]$Params.switch
$vlanId = Get-AetherIntParam $Params.vlan_id 'vlan_id' $problems
if (-not $name -or $name.Length -gt 100) { [void]$problems.Add('name must be 1..100 characters') }
if (-not $switchName) { [void]$problems.Add('switch is required') }
if ($null -ne $vlanId -and ($vlanId -lt 1 -or $vlanId -gt 4094)) { [void]$problems.Add('vlan_id must be 1..4094') }
if ($problems.Count -gt 0) { Fail-AetherV 'InvalidParameters' ($problems -join '; ') }
$switch = @(Get-VMSwitch | Where-Object { $_.Name -eq $switchName })
if ($switch.Count -eq 0) { Fail-AetherV 'SwitchNotFound' "virtual switch '$switchName' does not exist on this host" }

$adapters = @(Get-VMNetworkAdapter -VM $vm)
$named = @($adapters | Where-Object { $_.Name -eq $name })
if ($named.Count -gt 1) { Fail-AetherV 'InvalidParameters' "VM $($vm.Id) has $($named.Count) network adapters named '$name'" }
if ($named.Count -eq 1) {
    $adapter = $named[0]  # a rerun: complete what the first run began
    Connect-VMNetworkAdapter -VMNetworkAdapter $adapter -SwitchName $switch[0].Name -ErrorAction Stop
} else {
    Confirm-AetherNicHotPlug $vm (Get-AetherState $vm) 'added to'
    if ($adapters.Count -ge 8) {
        Fail-AetherV 'InsufficientResources' "VM $($vm.Id) already has $($adapters.Count) network adapters (at most 8)"
    }
    $adapter = Add-VMNetworkAdapter -VM $vm -Name $name -SwitchName $switch[0].Name -Passthru -ErrorAction Stop
}
if ($null -ne $vlanId) { Set-VMNetworkAdapterVlan -VMNetworkAdapter $adapter -Access -VlanId ([int]$vlanId) -ErrorAction Stop }
else { Set-VMNetworkAdapterVlan -VMNetworkAdapter $adapter -Untagged -ErrorAction Stop }
return (Get-AetherNicRecord $vm ([string]$adapter.Id))
