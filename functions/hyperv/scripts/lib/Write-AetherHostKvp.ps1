function Write-AetherHostKvp($VmId, $HostItems, $RemovePrefix, $Remove) {
    # PowerShell names are case-insensitive: the parameters must not share a name with a variable below.
    function Wait-AetherWmiJob($Result, [string]$What) {
        if ($Result.ReturnValue -eq 0) { return }
        if ($Result.ReturnValue -ne 4096) { Fail-AetherV 'ScriptFailed' "$What failed (return value $($Result.ReturnValue))" }
        $job = [wmi]$Result.Job
        $deadline = [datetime]::UtcNow.AddSeconds(60)
        while (@(2, 3, 4) -contains [int]$job.JobState) {
            if ([datetime]::UtcNow -ge $deadline) { Fail-AetherV 'OperationTimeout' "$What did not finish within 60 s" }
            Start-Sleep -Milliseconds 50
            $job = [wmi]$Result.Job
        }
        if ([int]$job.JobState -ne 7) { Fail-AetherV 'ScriptFailed' "$What failed: $($job.ErrorDescription)" }
    }
    function New-AetherKvpItem($Service, [string]$Name, [string]$Data) {
        $path = '\\' + $Service.ClassPath.Server + '\' + $Service.ClassPath.NamespacePath + ':Msvm_KvpExchangeDataItem'
        $class = [wmiclass]$path
        $item = $class.CreateInstance()
        $item.Name = $Name
        $item.Data = $Data
        $item.Source = 0
        return $item.PSBase.GetText(1)
    }
    function Invoke-AetherKvpBatches($Service, $Vm, [string]$Method, $Texts) {
        for ($start = 0; $start -lt $Texts.Count; $start += 128) {
            $batch = [string[]]@($Texts[$start..([math]::Min($start + 127, $Texts.Count - 1))])
            Wait-AetherWmiJob ($Service.$Method($Vm, $batch)) $Method
        }
    }

    $guid = [guid]::Empty
    if (-not [guid]::TryParse([string]$VmId, [ref]$guid)) {
        Fail-AetherV 'InvalidParameters' "vm_id '$VmId' is not a GUID"
    }
    $items = @()
    if ($null -ne $HostItems) { $items = @($HostItems) }
    $problems = New-Object System.Collections.ArrayList
    $names = @{}
    foreach ($item in $items) {
        $name = [string]$item.name
        if (-not $name -or $name.Length -gt 1024) { [void]$problems.Add("item name '$name' must be 1-1024 characters") }
        elseif ($names.ContainsKey($name)) { [void]$problems.Add("item '$name' is given twice") }
        if ($null -eq $item.data -or ([string]$item.data).Length -gt 1024) { [void]$problems.Add("item '$name' needs data of at most 1024 characters") }
        $names[$name] = $true
    }
    if ($problems.Count -gt 0) { Fail-AetherV 'InvalidParameters' ($problems -join '; ') }

    $ns = 'root\virtualization\v2'
    $id = $guid.ToString().ToUpperInvariant()
    $vm = Get-WmiObject -Namespace $ns -Class Msvm_ComputerSystem -Filter "Name='$id'"
    if (-not $vm) { Fail-AetherV 'VmNotFound' "no VM with id $guid on this host" }
    $service = Get-WmiObject -Namespace $ns -Class Msvm_VirtualSystemManagementService
    # Through the realized settings, not the KVP device: the device exists only while the VM runs; items persist.
    $system = @($vm.GetRelated('Msvm_VirtualSystemSettingData') | Where-Object { $_.VirtualSystemType -eq 'Microsoft:Hyper-V:System:Realized' })
    $settings = @($system[0].GetRelated('Msvm_KvpExchangeComponentSettingData'))[0]

    $existing = New-Object System.Collections.ArrayList
    foreach ($text in @($settings.HostExchangeItems)) {
        if (-not $text) { continue }
        $node = ([xml]$text).SelectSingleNode("/INSTANCE/PROPERTY[@NAME='Name']/VALUE")
        if ($node) { [void]$existing.Add($node.InnerText) }
    }
    $explicit = @()
    if ($null -ne $Remove) { $explicit = @($Remove | ForEach-Object { [string]$_ }) }
    $prefix = [string]$RemovePrefix
    $toRemove = New-Object System.Collections.ArrayList
    foreach ($name in $existing) {
        if (($prefix -and $name.StartsWith($prefix, [System.StringComparison]::Ordinal)) -or
            $explicit -ccontains $name -or $names.ContainsKey($name)) { [void]$toRemove.Add($name) }
    }

    $removeTexts = @($toRemove | ForEach-Object { New-AetherKvpItem $service $_ '' })
    Invoke-AetherKvpBatches $service $vm 'RemoveKvpItems' $removeTexts
    $addTexts = @($items | ForEach-Object { New-AetherKvpItem $service ([string]$_.name) ([string]$_.data) })
    Invoke-AetherKvpBatches $service $vm 'AddKvpItems' $addTexts

    return [ordered]@{ removed = @($toRemove); written = @($items | ForEach-Object { [string]$_.name }) }
}
