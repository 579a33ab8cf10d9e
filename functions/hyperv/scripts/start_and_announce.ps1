param($Params)
# The create's start step in one command: reads the guest pool, starts the VM (Off, Saved; a Running VM is left as it
# is), reads the pool again and the ISO library's protocol version, then announces provisioning -- writes the version
# first, then the given items, after removing every host item under remove_prefix -- unless the library has no
# version, or the VM was started here and its guest pool already holds guest_state_key (a provisioning state left by
# an earlier run on this disk: the caller refuses such a VM).
# Params: vm_id, items: [{name, data}], version_key, guest_state_key, remove_prefix, intrinsic_names?, install_dir?
# Returns: {before, power, after, library, announced}. Fails: InvalidParameters, VmNotFound, InvalidVmState,
#          ScriptFailed.

$before = Read-AetherGuestKvp $Params.vm_id $Params.intrinsic_names
$power = Start-AetherVm $Params.vm_id $true
$after = Read-AetherGuestKvp $Params.vm_id $Params.intrinsic_names
$library = Get-AetherIsoLibrary $Params.install_dir
$leftover = $power.changed -and $after.guest.ContainsKey([string]$Params.guest_state_key)
$announced = $false
if ($library.version -and -not $leftover) {
    $announcement = @([ordered]@{ name = [string]$Params.version_key; data = [string]$library.version })
    if ($null -ne $Params.items) { $announcement += @($Params.items) }
    [void](Write-AetherHostKvp $Params.vm_id $announcement $Params.remove_prefix @())
    $announced = $true
}
return [ordered]@{ before = $before; power = $power; after = $after; library = $library; announced = $announced }
