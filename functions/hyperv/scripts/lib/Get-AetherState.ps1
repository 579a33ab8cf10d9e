function Get-AetherState($Vm) {
    $state = [string](Get-VM -Id $Vm.Id).State
    if (@('Running', 'Off', 'Saved', 'Paused', 'Starting', 'Pausing', 'Resuming', 'Saving', 'Stopping') -contains $state) { return $state }
    return 'Unknown'
}
