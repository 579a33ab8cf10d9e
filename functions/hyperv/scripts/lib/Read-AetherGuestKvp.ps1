function Read-AetherGuestKvp($VmId, $IntrinsicNames) {
    function ConvertFrom-AetherKvpItems($Items, $Wanted) {
        $result = New-Object 'System.Collections.Generic.Dictionary[string,string]'
        foreach ($item in @($Items)) {
            if (-not $item) { continue }
            $xml = [xml]$item
            $nameNode = $xml.SelectSingleNode("/INSTANCE/PROPERTY[@NAME='Name']/VALUE")
            if (-not $nameNode) { continue }
            if ($null -ne $Wanted -and $Wanted -notcontains $nameNode.InnerText) { continue }
            $dataNode = $xml.SelectSingleNode("/INSTANCE/PROPERTY[@NAME='Data']/VALUE")
            $data = ''
            if ($dataNode) { $data = $dataNode.InnerText }
            $result[$nameNode.InnerText] = $data
        }
        return $result
    }
    $guid = [guid]::Empty
    if (-not [guid]::TryParse([string]$VmId, [ref]$guid)) {
        Fail-AetherV 'InvalidParameters' "vm_id '$VmId' is not a GUID"
    }
    $ns = 'root\virtualization\v2'
    $id = $guid.ToString().ToUpperInvariant()
    $system = @(Get-CimInstance -Namespace $ns -ClassName Msvm_ComputerSystem -Filter "Name='$id'")
    if ($system.Count -eq 0) { Fail-AetherV 'VmNotFound' "no VM with id $guid on this host" }
    $stateNames = @{
        2 = 'Running'; 3 = 'Off'; 6 = 'Saved'; 9 = 'Paused'; 10 = 'Starting'; 32773 = 'Starting'
        32768 = 'Pausing'; 32769 = 'Resuming'; 32770 = 'Saving'; 32776 = 'Saving'; 32774 = 'Stopping'; 32777 = 'Stopping'
    }
    $state = $stateNames[[int]$system[0].EnabledState]
    if (-not $state) { $state = 'Unknown' }

    $wanted = @('OSName', 'OSVersion', 'FullyQualifiedDomainName', 'NetworkAddressIPv4', 'NetworkAddressIPv6', 'IntegrationServicesVersion')
    if ($null -ne $IntrinsicNames) { $wanted = @($IntrinsicNames | ForEach-Object { [string]$_ }) }

    $guest = New-Object 'System.Collections.Generic.Dictionary[string,string]'
    $intrinsic = New-Object 'System.Collections.Generic.Dictionary[string,string]'
    $component = @(Get-CimInstance -Namespace $ns -ClassName Msvm_KvpExchangeComponent -Filter "SystemName='$id'")
    if ($component.Count -gt 0) {
        $guest = ConvertFrom-AetherKvpItems $component[0].GuestExchangeItems $null
        $intrinsic = ConvertFrom-AetherKvpItems $component[0].GuestIntrinsicExchangeItems $wanted
    }
    return [ordered]@{ state = $state; guest = $guest; intrinsic = $intrinsic }
}
