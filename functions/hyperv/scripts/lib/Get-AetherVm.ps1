function Get-AetherVm($Id) {
    $guid = [guid]::Empty
    if (-not [guid]::TryParse([string]$Id, [ref]$guid)) { Fail-AetherV 'InvalidParameters' "vm_id '$Id' is not a GUID" }
    $vm = @(Get-VM | Where-Object { $_.Id -eq $guid })
    if ($vm.Count -eq 0) { Fail-AetherV 'VmNotFound' "no VM with id $guid on this host" }
    return $vm[0]
}
