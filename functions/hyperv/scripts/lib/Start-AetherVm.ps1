function Start-AetherVm($VmId, [bool]$IfNeeded) {
    $vm = Get-AetherVm $VmId
    $previous = Get-AetherState $vm
    switch ($previous) {
        'Off' { Start-VM -VM $vm; return (New-PowerResult $vm $previous $true) }
        'Saved' { Start-VM -VM $vm; return (New-PowerResult $vm $previous $true) }
        'Paused' { Resume-VM -VM $vm; return (New-PowerResult $vm $previous $true) }
        { @('Running', 'Starting') -contains $_ -and $IfNeeded } { return (New-PowerResult $vm $previous $false) }
    }
    Fail-AetherV 'InvalidVmState' "cannot start VM $($vm.Id): it is $previous"
}
