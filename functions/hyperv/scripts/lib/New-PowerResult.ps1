function New-PowerResult($Vm, [string]$Previous, [bool]$Changed) {
    return [ordered]@{
        id = ([string]$Vm.Id).ToLowerInvariant(); previous_state = $Previous; state = (Get-AetherState $Vm); changed = $Changed
    }
}
