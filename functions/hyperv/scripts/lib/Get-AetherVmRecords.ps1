function Get-AetherVmRecords {
    param([string]$OnlyId, [System.Collections.Generic.List[string]]$Warnings)
    $ns = 'root\virtualization\v2'
    $vmKey = '^Microsoft:([0-9A-Fa-f]+(?:-[0-9A-Fa-f]+)+)'  # the VM GUID in InstanceIDs
    $portKey = '^Microsoft:([^\\]+)\\([^\\]+)'
    $guestKey = '^Microsoft:GuestNetwork\\([^\\]+)\\([^\\]+)'
    $stateNames = @{
        2 = 'Running'; 3 = 'Off'; 6 = 'Saved'; 9 = 'Paused'; 10 = 'Starting'; 32773 = 'Starting'
        32768 = 'Pausing'; 32769 = 'Resuming'; 32770 = 'Saving'; 32776 = 'Saving'; 32774 = 'Stopping'; 32777 = 'Stopping'
    }

    function Get-Rows([string]$Namespace, [string]$Class, [string]$Filter) {
        try {
            if ($Filter) { return @(Get-CimInstance -Namespace $Namespace -ClassName $Class -Filter $Filter) }
            return @(Get-CimInstance -Namespace $Namespace -ClassName $Class)
        } catch {
            $Warnings.Add("$Class query failed: $($_.Exception.Message)")
            return @()
        }
    }
    function Add-ToMap($Map, [string]$Key, $Row) {
        $Key = $Key.ToLowerInvariant()
        if (-not $Map.ContainsKey($Key)) { $Map[$Key] = New-Object System.Collections.ArrayList }
        [void]$Map[$Key].Add($Row)
    }
    function Get-Gb($Megabytes) {
        if ($null -eq $Megabytes) { return $null }
        return [math]::Round([double]$Megabytes / 1024, 2)
    }

    $filter = "Caption='Virtual Machine'"
    if ($OnlyId) { $filter = "Caption='Virtual Machine' AND Name='$OnlyId'" }
    $systems = @(Get-CimInstance -Namespace $ns -ClassName Msvm_ComputerSystem -Filter $filter)
    if ($systems.Count -eq 0) { return }

    $settings = @{}
    foreach ($row in @(Get-Rows $ns 'Msvm_VirtualSystemSettingData' "VirtualSystemType='Microsoft:Hyper-V:System:Realized'")) {
        $settings[([string]$row.VirtualSystemIdentifier).ToLowerInvariant()] = $row
    }
    # Checkpoints: one realized snapshot setting per checkpoint, keyed by its VM's VirtualSystemIdentifier
    # (Msvm_VirtualSystemSettingData.VirtualSystemType, learn.microsoft.com/windows/win32/hyperv_v2/msvm-virtualsystemsettingdata).
    $checkpointCounts = @{}
    foreach ($row in @(Get-Rows $ns 'Msvm_VirtualSystemSettingData' "VirtualSystemType='Microsoft:Hyper-V:Snapshot:Realized'")) {
        $owner = ([string]$row.VirtualSystemIdentifier).ToLowerInvariant()
        $checkpointCounts[$owner] = 1 + [int]$checkpointCounts[$owner]
    }
    $memory = @{}; $processors = @{}; $ports = @{}; $disks = @{}
    foreach ($row in @(Get-Rows $ns 'Msvm_MemorySettingData' '')) {
        if ([string]$row.InstanceID -match $vmKey) { Add-ToMap $memory $Matches[1] $row }
    }
    foreach ($row in @(Get-Rows $ns 'Msvm_ProcessorSettingData' '')) {
        if ([string]$row.InstanceID -match $vmKey) { Add-ToMap $processors $Matches[1] $row }
    }
    foreach ($row in @(Get-Rows $ns 'Msvm_SyntheticEthernetPortSettingData' '')) {
        if ([string]$row.InstanceID -match $vmKey) { Add-ToMap $ports $Matches[1] $row }
    }
    foreach ($row in @(Get-Rows $ns 'Msvm_StorageAllocationSettingData' "ResourceSubType='Microsoft:Hyper-V:Virtual Hard Disk'")) {
        if ([string]$row.InstanceID -match $vmKey) { Add-ToMap $disks $Matches[1] $row }
    }
    $assigned = @{}
    foreach ($row in @(Get-Rows $ns 'Msvm_Memory' '')) {
        if ($row.SystemName) { Add-ToMap $assigned ([string]$row.SystemName) $row }
    }
    $kvp = @{}
    foreach ($row in @(Get-Rows $ns 'Msvm_KvpExchangeComponent' '')) {
        if ($row.SystemName) { $kvp[([string]$row.SystemName).ToLowerInvariant()] = $row }
    }
    $switchNames = @{}
    foreach ($row in @(Get-Rows $ns 'Msvm_VirtualEthernetSwitch' '')) {
        $switchNames[([string]$row.Name).ToLowerInvariant()] = [string]$row.ElementName
    }
    $connections = @{}
    foreach ($row in @(Get-Rows $ns 'Msvm_EthernetPortAllocationSettingData' '')) {
        if ([string]$row.InstanceID -match $portKey) { $connections["$($Matches[1])\$($Matches[2])".ToLowerInvariant()] = $row }
    }
    $vlans = @{}
    foreach ($row in @(Get-Rows $ns 'Msvm_EthernetSwitchPortVlanSettingData' '')) {
        if ([string]$row.InstanceID -match $portKey) { $vlans["$($Matches[1])\$($Matches[2])".ToLowerInvariant()] = $row }
    }
    $guestNets = @{}
    foreach ($row in @(Get-Rows $ns 'Msvm_GuestNetworkAdapterConfiguration' '')) {
        if ([string]$row.InstanceID -match $guestKey) { $guestNets["$($Matches[1])\$($Matches[2])".ToLowerInvariant()] = $row }
    }
    $clustered = @{}
    try {
        $resources = @(Get-CimInstance -Namespace 'root\MSCluster' -ClassName MSCluster_Resource -Filter "Type='Virtual Machine Configuration'" -ErrorAction Stop)
        foreach ($resource in $resources) {
            $vmId = [string]$resource.PrivateProperties.VmID
            if ($vmId) { $clustered[$vmId.ToLowerInvariant()] = $true }
        }
    } catch {
        # Not a cluster node: no VM is clustered.
    }

    foreach ($system in $systems) {
        $id = ([string]$system.Name).ToLowerInvariant()
        $vssd = $settings[$id]
        $state = $stateNames[[int]$system.EnabledState]
        if (-not $state) { $state = 'Unknown' }

        $mem = $null
        if ($memory.ContainsKey($id)) { $mem = $memory[$id][0] }
        $startupGb = 0
        $minGb = $null; $maxGb = $null; $dynamic = $false
        if ($mem) {
            $startupGb = Get-Gb $mem.VirtualQuantity
            $dynamic = [bool]$mem.DynamicMemoryEnabled
            if ($dynamic) { $minGb = Get-Gb $mem.Reservation; $maxGb = Get-Gb $mem.Limit }
        }
        $memoryGb = $startupGb
        if ($state -eq 'Running' -and $assigned.ContainsKey($id)) {
            $blocks = ($assigned[$id] | Measure-Object -Property NumberOfBlocks -Maximum).Maximum
            if ($blocks) { $memoryGb = Get-Gb $blocks }
        }
        $cpuCount = 0
        if ($processors.ContainsKey($id)) { $cpuCount = [int]$processors[$id][0].VirtualQuantity }

        $osName = $null
        if ($kvp.ContainsKey($id)) {
            foreach ($item in @($kvp[$id].GuestIntrinsicExchangeItems)) {
                if (-not $item) { continue }
                $xml = [xml]$item
                $itemName = $xml.SelectSingleNode("/INSTANCE/PROPERTY[@NAME='Name']/VALUE")
                if ($itemName -and $itemName.InnerText -eq 'OSName') {
                    $osName = $xml.SelectSingleNode("/INSTANCE/PROPERTY[@NAME='Data']/VALUE").InnerText
                }
            }
        }

        $networks = New-Object System.Collections.ArrayList
        $allIps = New-Object System.Collections.ArrayList
        if ($ports.ContainsKey($id)) {
            foreach ($port in $ports[$id]) {
                [void]([string]$port.InstanceID -match $portKey)
                $adapterKey = "$($Matches[1])\$($Matches[2])".ToLowerInvariant()
                $switch = $null; $vlan = $null
                $connection = $connections[$adapterKey]
                if ($connection -and $connection.HostResource) {
                    if ([string]@($connection.HostResource)[0] -match 'Name="([^"]+)"') { $switch = $switchNames[$Matches[1].ToLowerInvariant()] }
                }
                $vlanRow = $vlans[$adapterKey]
                if ($vlanRow -and $vlanRow.AccessVlanId) { $vlan = [int]$vlanRow.AccessVlanId }
                $ips = New-Object System.Collections.ArrayList
                $guestNet = $guestNets[$adapterKey]
                if ($guestNet) {
                    foreach ($ip in @($guestNet.IPAddresses)) {
                        if ($ip -and -not ([string]$ip).ToLowerInvariant().StartsWith('fe80')) {
                            [void]$ips.Add([string]$ip)
                            if (-not $allIps.Contains([string]$ip)) { [void]$allIps.Add([string]$ip) }
                        }
                    }
                }
                $mac = $null
                if ($port.Address) { $mac = ([string]$port.Address -replace '(..)(?!$)', '$1:').ToUpperInvariant() }
                [void]$networks.Add([ordered]@{
                    id = [string]$port.InstanceID; name = [string]$port.ElementName; switch = $switch
                    vlan_id = $vlan; mac_address = $mac; ip_addresses = @($ips)
                })
            }
        }

        $vmDisks = New-Object System.Collections.ArrayList
        if ($disks.ContainsKey($id)) {
            foreach ($disk in $disks[$id]) {
                $path = [string]@($disk.HostResource)[0]
                $type = 'Unknown'; $capacity = $null; $fileSize = $null
                try {
                    $vhd = Get-VHD -Path $path -ErrorAction Stop
                    $type = [string]$vhd.VhdType
                    $capacity = [math]::Round($vhd.Size / 1gb, 2)
                    $fileSize = [math]::Round($vhd.FileSize / 1gb, 2)
                } catch {
                    $Warnings.Add("disk '$path' of VM $id is not readable: $($_.Exception.Message)")
                }
                $diskId = [string]$disk.InstanceID -replace '\\L$', '\D'
                [void]$vmDisks.Add([ordered]@{
                    id = $diskId; name = [System.IO.Path]::GetFileName($path); path = $path; type = $type
                    capacity_gb = $capacity; file_size_gb = $fileSize; controller_type = 'Unknown'
                })
            }
        }

        $created = $null; $notes = ''; $version = $null; $generation = 1; $configPath = $null
        if ($vssd) {
            if ($vssd.CreationTime) { $created = ([datetime]$vssd.CreationTime).ToUniversalTime().ToString('o') }
            $notes = (@($vssd.Notes) | Where-Object { $null -ne $_ }) -join "`n"
            $version = [string]$vssd.Version
            if ([string]$vssd.VirtualSystemSubType -match 'SubType:(\d+)$') { $generation = [int]$Matches[1] }
            $configPath = [string]$vssd.ConfigurationDataRoot
        }
        $uptime = 0
        if ($system.OnTimeInMilliseconds) { $uptime = [int64]([uint64]$system.OnTimeInMilliseconds / 1000) }

        [ordered]@{
            id = $id; name = [string]$system.ElementName; state = $state; creation_time = $created; notes = $notes
            version = $version; generation = $generation; startup_memory_gb = $startupGb; minimum_memory_gb = $minGb
            maximum_memory_gb = $maxGb; dynamic_memory_enabled = $dynamic; memory_gb = $memoryGb
            processor_count = $cpuCount; os_name = $osName; networks = @($networks); ip_addresses = @($allIps)
            disks = @($vmDisks); uptime_seconds = $uptime; clustered = [bool]$clustered[$id]
            configuration_path = $configPath; checkpoint_count = [int]$checkpointCounts[$id]
        }
    }
}
