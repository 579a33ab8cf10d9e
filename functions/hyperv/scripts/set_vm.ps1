param($Params)
# Changes a VM's processor count (Set-VMProcessor -Count), startup memory (Set-VMMemory -StartupBytes) and notes
# (Set-VM -Notes). Processor count and memory change only while the VM is Off: Hyper-V refuses a processor change on
# a running VM, and although it can resize the memory of some running guests (runtime memory resize, Windows Server
# 2016+ with Windows 10 / Server 2016+ guests: https://learn.microsoft.com/windows-server/virtualization/hyper-v/what-s-new-in-hyper-v-on-windows)
# Aether-V is deliberately stricter. Notes change in any state; the VM's 'aetherv-job:' ownership line is kept.
# Limits (https://learn.microsoft.com/windows-server/virtualization/hyper-v/plan/plan-for-hyper-v-scalability-in-windows-server):
# 64 virtual processors (generation 1) / 240 (generation 2), never more than the host's logical processors; memory in
# multiples of 2 MB, 32 MB .. 1 TB (generation 1) / 12 TB (generation 2), never more than the host's memory.
# Every problem is reported at once; nothing changes unless all checks pass.
# Idempotent: values equal to the current ones change nothing (and need no particular state).
# Params: vm_id, cpu_cores?, memory_mb?, notes?  Returns: the VM record (as get_vm).
# Fails: InvalidParameters, VmNotFound, InsufficientResources (more memory than the host has), InvalidVmState.

$vm = Get-AetherVm $Params.vm_id
$state = Get-AetherState $vm
$invalid = New-Object System.Collections.ArrayList
$short = New-Object System.Collections.ArrayList
$wrongState = New-Object System.Collections.ArrayList
$cpu = Get-AetherIntParam $Params.cpu_cores 'cpu_cores' $invalid
$memory = Get-AetherIntParam $Params.memory_mb 'memory_mb' $invalid
$notes = $null
if ($null -ne $Params.notes) { $notes = [string]$Params.notes }

$generation = [int]$vm.Generation
$maxCpu = 240; $maxMemoryMb = [int64]12 * 1024 * 1024
if ($generation -lt 2) { $maxCpu = 64; $maxMemoryMb = [int64]1024 * 1024 }
$hostInfo = Get-VMHost
$logical = [int]$hostInfo.LogicalProcessorCount
$hostMemoryMb = [int64]((Get-CimInstance -ClassName Win32_ComputerSystem).TotalPhysicalMemory / 1mb)
$memorySettings = Get-VMMemory -VM $vm
$currentMb = [int64]($memorySettings.Startup / 1mb)
$currentCpu = [int](Get-VMProcessor -VM $vm).Count

if ($null -ne $cpu) {
    $limit = [math]::Min($logical, $maxCpu)
    if ($cpu -lt 1 -or $cpu -gt $limit) {
        [void]$invalid.Add("cpu_cores must be 1..$limit (the host has $logical logical processors, a generation $generation VM at most $maxCpu)")
    }
    if ($cpu -ne $currentCpu -and $state -ne 'Off') {
        [void]$wrongState.Add("the processor count of VM $($vm.Id) can only change while it is Off (it is $state)")
    }
}
if ($null -ne $memory) {
    if ($memory -lt 32 -or $memory % 2 -ne 0) {
        [void]$invalid.Add('memory_mb must be a multiple of 2 MB of at least 32 MB')
    } elseif ($memory -gt $maxMemoryMb) {
        [void]$invalid.Add("memory_mb is more than a generation $generation VM can have ($maxMemoryMb MB)")
    } elseif ($memory -gt $hostMemoryMb) {
        [void]$short.Add("memory_mb $memory is more than the host's memory ($hostMemoryMb MB)")
    } elseif ($memorySettings.DynamicMemoryEnabled -and ($memory * 1mb -lt $memorySettings.Minimum -or $memory * 1mb -gt $memorySettings.Maximum)) {
        [void]$invalid.Add("memory_mb must lie within the dynamic memory range $([int64]($memorySettings.Minimum / 1mb))..$([int64]($memorySettings.Maximum / 1mb)) MB")
    }
    if ($memory -ne $currentMb -and $state -ne 'Off') {
        [void]$wrongState.Add("the memory of VM $($vm.Id) can only change while it is Off (it is $state)")
    }
}
$problems = (@($invalid) + @($short) + @($wrongState)) -join '; '
if ($invalid.Count -gt 0) { Fail-AetherV 'InvalidParameters' $problems }
if ($short.Count -gt 0) { Fail-AetherV 'InsufficientResources' $problems }
if ($wrongState.Count -gt 0) { Fail-AetherV 'InvalidVmState' $problems }

if ($null -ne $cpu -and $cpu -ne $currentCpu) { Set-VMProcessor -VM $vm -Count ([int]$cpu) -ErrorAction Stop }
if ($null -ne $memory -and $memory -ne $currentMb) { Set-VMMemory -VM $vm -StartupBytes ([int64]$memory * 1mb) -ErrorAction Stop }
if ($null -ne $notes) {
    $wanted = @($notes -split "`r?`n")
    $marks = @(([string]$vm.Notes -split "`r?`n") | Where-Object { $_.StartsWith('aetherv-job:') -and $wanted -notcontains $_ })
    $lines = @()
    if ($notes) { $lines += $notes }
    $merged = (@($lines) + @($marks)) -join "`n"
    if ($merged -ne [string]$vm.Notes) { Set-VM -VM $vm -Notes $merged -ErrorAction Stop }
}
return (Get-AetherVmRecord $vm)
