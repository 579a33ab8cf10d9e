function Get-AetherVmFolder($Vm, $Record) {
    # The VM's own folder: the folder of its boot disk (create_vm.ps1 keeps it in <volume>\Hyper-V\<vm name>\),
    # else its configuration folder.
    foreach ($disk in @($Record.disks)) {
        if ($disk.boot) { return [System.IO.Path]::GetDirectoryName([string]$disk.path) }
    }
    return ([string]$Vm.ConfigurationLocation).TrimEnd('\')
}
