function Confirm-AetherNicHotPlug($Vm, [string]$State, [string]$Verb) {
    # Network adapters hot-add and hot-remove only on generation 2 VMs (Windows Server 2016+: "Hot add and remove for
    # network adapters and memory", https://learn.microsoft.com/windows-server/virtualization/hyper-v/what-s-new-in-hyper-v-on-windows);
    # Aether-V also refuses states other than Off and Running.
    if ([int]$Vm.Generation -lt 2 -and $State -ne 'Off') {
        Fail-AetherV 'InvalidVmState' "a network adapter can only be $Verb generation 1 VM $($Vm.Id) while it is Off (it is $State); hot add and remove need generation 2"
    }
    if (@('Off', 'Running') -notcontains $State) {
        Fail-AetherV 'InvalidVmState' "a network adapter can only be $Verb VM $($Vm.Id) while it is Off or Running (it is $State)"
    }
}
