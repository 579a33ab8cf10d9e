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
    function Get-InstanceRef([string]$Path) {
        # The InstanceID a CIM object path names (Parent of a RASD), unescaped and lower case; '' without one.
        if ($Path -match 'InstanceID="((?:[^"\\]|\\.)*)"') { return ($Matches[1] -replace '\\(.)', '$1').ToLowerInvariant() }
        return ''
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
    # Where each disk sits: the SASD's Parent is its drive RASD (AddressOnParent = location), whose Parent is the
    # controller RASD (ResourceType 5 = IDE, Address = controller number; 6 = SCSI, numbered in the VM's order).
    $drives = @{}; $controllers = @{}; $scsiControllers = @{}
    foreach ($row in @(Get-Rows $ns 'Msvm_ResourceAllocationSettingData' 'ResourceType=5 OR ResourceType=6 OR ResourceType=17')) {
        $key = ([string]$row.InstanceID).ToLowerInvariant()
        if ([int]$row.ResourceType -eq 17) { $drives[$key] = $row; continue }
        $controllers[$key] = $row
        if ([int]$row.ResourceType -eq 6 -and [string]$row.InstanceID -match $vmKey) { Add-ToMap $scsiControllers $Matches[1] $row }
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
                $controllerType = 'Unknown'; $controllerNumber = $null; $location = $null
                $drive = $drives[(Get-InstanceRef ([string]$disk.Parent))]
                if ($drive) {
                    if ([string]$drive.AddressOnParent -match '^\d+$') { $location = [int]$drive.AddressOnParent }
                    $controller = $controllers[(Get-InstanceRef ([string]$drive.Parent))]
                    if ($controller -and [int]$controller.ResourceType -eq 5) {
                        $controllerType = 'IDE'
                        if ([string]$controller.Address -match '^\d+$') { $controllerNumber = [int]$controller.Address }
                    } elseif ($controller) {
                        $controllerType = 'SCSI'
                        if ($scsiControllers.ContainsKey($id)) { $controllerNumber = $scsiControllers[$id].IndexOf($controller) }
                    }
                }
                [void]$vmDisks.Add([ordered]@{
                    id = $diskId; name = [System.IO.Path]::GetFileName($path); path = $path; type = $type
                    capacity_gb = $capacity; file_size_gb = $fileSize; controller_type = $controllerType
                    controller_number = $controllerNumber; controller_location = $location; boot = $false
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
        # The boot disk. A VM's only disk is its boot disk. With more: generation 2, the first hard disk drive in the
        # firmware's boot order (entries of DVD drives, network adapters and files are skipped), else the disk at
        # SCSI 0:0; generation 1, the disk at IDE 0:0 (the BIOS boots from IDE). Get-VMFirmware costs a call, so it is
        # asked only about a generation 2 VM with data disks.
        $bootId = $null
        if ($generation -ge 2 -and $vmDisks.Count -gt 1) {
            try {
                $order = @((Get-VMFirmware -VM (Get-VM -Id $id -ErrorAction Stop) -ErrorAction Stop).BootOrder)
                $first = @($order | Where-Object { $_.Device -and $_.Device.GetType().Name -eq 'HardDiskDrive' }) | Select-Object -First 1
                if ($first) { $bootId = ([string]$first.Device.Id).ToLowerInvariant() }
            } catch {
                $Warnings.Add("boot order of VM $id is not readable: $($_.Exception.Message)")
            }
        }
        $bootDisk = $null
        if ($vmDisks.Count -eq 1) { $bootDisk = $vmDisks[0] }
        foreach ($candidate in $vmDisks) {
            if ($bootId -and ([string]$candidate.id).ToLowerInvariant() -eq $bootId) { $bootDisk = $candidate }
        }
        if (-not $bootDisk) {
            $bootController = 'SCSI'
            if ($generation -lt 2) { $bootController = 'IDE' }
            foreach ($candidate in $vmDisks) {
                if (-not $bootDisk -and $candidate.controller_type -eq $bootController -and $candidate.controller_number -eq 0 -and $candidate.controller_location -eq 0) { $bootDisk = $candidate }
            }
        }
        if ($bootDisk) { $bootDisk['boot'] = $true }
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
