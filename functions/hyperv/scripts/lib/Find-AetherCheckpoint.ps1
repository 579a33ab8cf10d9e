function Find-AetherCheckpoint($Vm, $Id) {
    # The VM's checkpoints whose id is $Id (none or one). Fails InvalidParameters when $Id is not a GUID.
    $guid = [guid]::Empty
    if (-not [guid]::TryParse([string]$Id, [ref]$guid)) { Fail-AetherV 'InvalidParameters' "checkpoint_id '$Id' is not a GUID" }
    return @(Get-VMSnapshot -VM $Vm -ErrorAction Stop | Where-Object { $_.Id -eq $guid })
}
