param($Params)
# Registers a generation 2 VM around the disk prepare_disk made, in the same folder: static memory, CPU count,
# secure boot (MicrosoftUEFICertificateAuthority template for Linux, MicrosoftWindows for Windows), the disk on SCSI,
# one network adapter on the named switch (access VLAN when given; no adapter without a switch), a DVD drive with
# the VM's own copy of the provisioning ISO, the disk as first boot device, automatic checkpoints off, and notes
# carrying the job id. The VM is not started.
# Idempotent: a VM of this name whose configuration lives in this job's folder is ours; its settings are (re)applied
# while it is Off and it is returned. Any other VM with the name is VmAlreadyExists.
# Params: name, job_id, disk_path, cpu_count, memory_gb, os_family, switch_name?, vlan_id?, attach_provisioning_iso,
#         install_dir?
# Returns: {id, name, created, folder, iso_path}
# Fails: InvalidParameters, VmAlreadyExists, SwitchNotFound, ImageNotFound (provisioning ISO missing).

$name = [string]$Params.name
$jobId = [string]$Params.job_id
$diskPath = [string]$Params.disk_path
$osFamily = [string]$Params.os_family
$switchName = $null
if ($Params.switch_name) { $switchName = [string]$Params.switch_name }
$vlanId = $null
if ($null -ne $Params.vlan_id) { $vlanId = [int]$Params.vlan_id }
$installDir = 'C:\Program Files\Aether-V'
if ($Params.install_dir) { $installDir = [string]$Params.install_dir }
$attachIso = $true
if ($null -ne $Params.attach_provisioning_iso) { $attachIso = [bool]$Params.attach_provisioning_iso }

$problems = New-Object System.Collections.ArrayList
if (-not (Test-AetherFileName $name)) { [void]$problems.Add("name '$name' cannot be used as a folder name") }
if (@('windows', 'linux') -notcontains $osFamily) { [void]$problems.Add("os_family must be windows or linux") }
if ($null -ne $vlanId -and $null -eq $switchName) { [void]$problems.Add('vlan_id needs switch_name') }
$folder = [System.IO.Path]::GetDirectoryName($diskPath)
if (-not $folder -or [System.IO.Path]::GetFileName($folder) -ne $name) {
    [void]$problems.Add("disk_path must lie in the VM's own folder (<volume>\Hyper-V\$name\)")
} elseif (-not (Test-Path -LiteralPath $diskPath -PathType Leaf)) {
    [void]$problems.Add("disk '$diskPath' does not exist; run prepare_disk first")
}
if ($problems.Count -gt 0) { Fail-AetherV 'InvalidParameters' ($problems -join '; ') }
if ((Read-AetherMarker $folder) -ne $jobId) {
    Fail-AetherV 'VmAlreadyExists' "folder '$folder' was not prepared by job $jobId"
}

$vm = $null
foreach ($candidate in @(Get-VM | Where-Object { $_.Name -eq $name })) {
    if ([string]$candidate.ConfigurationLocation.TrimEnd('\') -eq $folder.TrimEnd('\')) { $vm = $candidate }
    else { Fail-AetherV 'VmAlreadyExists' "a VM named '$name' already exists on this host (id $($candidate.Id))" }
}

if ($null -ne $switchName -and @(Get-VMSwitch | Where-Object { $_.Name -eq $switchName }).Count -eq 0) {
    Fail-AetherV 'SwitchNotFound' "virtual switch '$switchName' does not exist on this host"
}

$isoPath = $null
if ($attachIso) {
    $isoName = 'WindowsProvisioning.iso'
    if ($osFamily -eq 'linux') { $isoName = 'LinuxProvisioning.iso' }
    $isoSource = [System.IO.Path]::Combine($installDir, $isoName)
    if (-not (Test-Path -LiteralPath $isoSource -PathType Leaf)) {
        Fail-AetherV 'ImageNotFound' "provisioning ISO '$isoSource' is missing"
    }
    $isoPath = [System.IO.Path]::Combine($folder, $isoName)
    if (-not (Test-Path -LiteralPath $isoPath -PathType Leaf)) {
        Copy-Item -LiteralPath $isoSource -Destination ($isoPath + '.partial') -Force
        Move-Item -LiteralPath ($isoPath + '.partial') -Destination $isoPath
    }
}

$created = $false
if ($null -eq $vm) {
    $memoryBytes = [int64]([math]::Ceiling([double]$Params.memory_gb * 512) * 2mb)
    $vm = New-VM -Name $name -Path ([System.IO.Path]::GetDirectoryName($folder)) -MemoryStartupBytes $memoryBytes -Generation 2 -NoVHD
    $created = $true
}

if ($vm.State -eq 'Off') {
    Set-VM -VM $vm -Notes "Created by Aether-V`naetherv-job: $jobId" -AutomaticCheckpointsEnabled $false
    $memoryBytes = [int64]([math]::Ceiling([double]$Params.memory_gb * 512) * 2mb)
    Set-VMMemory -VM $vm -DynamicMemoryEnabled $false -StartupBytes $memoryBytes
    Set-VMProcessor -VM $vm -Count ([int]$Params.cpu_count)
    $template = 'MicrosoftWindows'
    if ($osFamily -eq 'linux') { $template = 'MicrosoftUEFICertificateAuthority' }
    Set-VMFirmware -VM $vm -EnableSecureBoot On -SecureBootTemplate $template

    $disk = @(Get-VMHardDiskDrive -VM $vm | Where-Object { $_.Path -eq $diskPath })
    if ($disk.Count -eq 0) { $disk = @(Add-VMHardDiskDrive -VM $vm -ControllerType SCSI -Path $diskPath -Passthru) }

    $adapters = @(Get-VMNetworkAdapter -VM $vm)
    if ($null -eq $switchName) {
        foreach ($adapter in $adapters) { Remove-VMNetworkAdapter -VMNetworkAdapter $adapter }
    } else {
        if ($adapters.Count -eq 0) { $adapters = @(Add-VMNetworkAdapter -VM $vm -Name 'Network Adapter' -SwitchName $switchName -Passthru) }
        foreach ($extra in @($adapters | Select-Object -Skip 1)) { Remove-VMNetworkAdapter -VMNetworkAdapter $extra }
        Connect-VMNetworkAdapter -VMNetworkAdapter $adapters[0] -SwitchName $switchName
        if ($null -ne $vlanId) { Set-VMNetworkAdapterVlan -VMNetworkAdapter $adapters[0] -Access -VlanId $vlanId }
        else { Set-VMNetworkAdapterVlan -VMNetworkAdapter $adapters[0] -Untagged }
    }

    if ($null -ne $isoPath -and @(Get-VMDvdDrive -VM $vm | Where-Object { $_.Path -eq $isoPath }).Count -eq 0) {
        Add-VMDvdDrive -VM $vm -Path $isoPath
    }
    Set-VMFirmware -VM $vm -FirstBootDevice $disk[0]
}
if ($created) { Write-AetherVLog "created VM $([string]$vm.Name) ($(([string]$vm.Id).ToLowerInvariant())) in $folder" }
else { Write-AetherVLog "VM $([string]$vm.Name) ($(([string]$vm.Id).ToLowerInvariant())) already existed for this job" }

return [ordered]@{
    id = ([string]$vm.Id).ToLowerInvariant(); name = [string]$vm.Name; created = $created; folder = $folder
    iso_path = $isoPath
}
