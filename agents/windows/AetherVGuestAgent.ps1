#Requires -Version 5.1
<#
.SYNOPSIS
    Aether-V provisioning agent for Windows guests on Hyper-V (Windows PowerShell 5.1).

.DESCRIPTION
    Speaks the encrypted Hyper-V KVP provisioning protocol (version handshake, RSA-2048 CAPI key, PKCS#1 v1.5 AES
    key unwrap, AES-256-CBC values reassembled from 100-character chunks, SHA-256 checksum, guest states and error
    summaries) through the registry keys the Hyper-V Data Exchange service maps to the KVP pools.

    Values are taken exactly as decrypted: they are decoded from UTF-8 in memory, never written to or read back
    from files, never trimmed, and reach cmdlets as parameters (passwords as SecureString).

    First run: key exchange, decrypt, verify, apply host name, local administrator, static IPv4, DNS servers, DNS
    suffix and the domain join (Add-Computer -NewName in one step), then reboot with the state still 'applying'.
    Second run (after the reboot): verify what was applied (computer name, domain membership and secure channel,
    administrator, addresses, DNS) and only then report 'provisioningapplied'; any failure is reported as
    'provisioningfailed' with a summary, so a failed join is never reported as applied.

    Installed to C:\ProgramData\AetherV by Install-AetherVGuestAgent.ps1 and run at startup as SYSTEM by the
    scheduled task 'AetherVGuestAgent'.
#>
[CmdletBinding()]
param(
    [string]$StateDir = (Join-Path -Path $env:ProgramData -ChildPath 'AetherV'),
    [double]$PollSeconds = 5,
    [int]$WaitSeconds = 3600,
    [int]$ChecksumRetrySeconds = 30
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

$script:AgentName = 'aetherv-windows'
$script:AgentVersion = '1.0.0'
$script:TaskName = 'AetherVGuestAgent'
$script:ExternalKey = 'SOFTWARE\Microsoft\Virtual Machine\External'
$script:GuestKey = 'SOFTWARE\Microsoft\Virtual Machine\Guest'
$script:Capabilities = @('exact-values', 'chunks', 'hostname', 'admin', 'ipv4', 'dns-suffix', 'domain-join', 'join-outcome', 'nonce')
$script:SupportedDataKeys = @(
    'guest_host_name', 'guest_la_uid', 'guest_la_pw',
    'guest_v4_ip_addr', 'guest_v4_cidr_prefix', 'guest_v4_default_gw', 'guest_v4_dns1', 'guest_v4_dns2',
    'guest_net_dns_suffix',
    'guest_domain_join_target', 'guest_domain_join_uid', 'guest_domain_join_pw', 'guest_domain_join_ou'
)
$script:Utf8 = New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false
$script:StrictUtf8 = New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false, $true
$script:Summary = 'error initializing:service'
$script:Finished = $false

# -- pure helpers (no I/O) -------------------------------------------------------------------------------------------

function ConvertTo-ProtocolVersion {
    # The version handshake compares versions with NULs removed and surrounding whitespace trimmed (protocol section 5).
    param([AllowNull()][string]$Text)
    if ($null -eq $Text) { return '' }
    return $Text.Replace([string][char]0, '').Trim()
}

function Test-HostNonce {
    param([AllowNull()][string]$Nonce)
    return ($null -ne $Nonce) -and ($Nonce -cmatch '^[A-Za-z0-9_-]{16,128}$')
}

function Get-Sha256Hex {
    param([Parameter(Mandatory)][byte[]]$Bytes)
    $sha = [System.Security.Cryptography.SHA256]::Create()
    try {
        return ([System.BitConverter]::ToString($sha.ComputeHash($Bytes))).Replace('-', '').ToLowerInvariant()
    }
    finally {
        $sha.Dispose()
    }
}

function Format-AgentMark {
    param(
        [Parameter(Mandatory)][string]$PublicKey,
        [AllowNull()][string]$Nonce
    )
    $mark = '{0}/{1};caps={2}' -f $script:AgentName, $script:AgentVersion, ($script:Capabilities -join ',')
    if (Test-HostNonce -Nonce $Nonce) { $mark += ';nonce=' + $Nonce }
    $mark += ';key=' + (Get-Sha256Hex -Bytes $script:Utf8.GetBytes($PublicKey))
    return $mark
}

function Get-DataKeyNames {
    # Base names of the published data keys: bare names and the names behind '<key>._<n>' chunks, ordinal order.
    param([Parameter(Mandatory)][AllowEmptyCollection()][string[]]$ItemNames)
    $set = New-Object -TypeName 'System.Collections.Generic.HashSet[string]' -ArgumentList ([System.StringComparer]::Ordinal)
    foreach ($name in $ItemNames) {
        if (-not $name.StartsWith('hlvmm.data.', [System.StringComparison]::Ordinal)) { continue }
        $match = [regex]::Match($name, '^(.+)\._[0-9]+$')
        if ($match.Success) { [void]$set.Add($match.Groups[1].Value) } else { [void]$set.Add($name) }
    }
    $names = [string[]]@($set)
    [System.Array]::Sort($names, [System.StringComparer]::Ordinal)
    return , $names
}

function Get-ValuePieces {
    # The raw (encrypted) pieces of one value: the bare item if it is not empty, else '._0', '._1', ... to the first gap.
    param(
        [Parameter(Mandatory)][hashtable]$Items,
        [Parameter(Mandatory)][string]$Name
    )
    if ($Items.ContainsKey($Name) -and -not [string]::IsNullOrEmpty([string]$Items[$Name])) {
        return , @([string]$Items[$Name])
    }
    $pieces = New-Object -TypeName 'System.Collections.Generic.List[string]'
    for ($index = 0; $index -lt 30; $index++) {
        $chunk = '{0}._{1}' -f $Name, $index
        if (-not $Items.ContainsKey($chunk) -or [string]::IsNullOrEmpty([string]$Items[$chunk])) { break }
        $pieces.Add([string]$Items[$chunk])
    }
    return , $pieces.ToArray()
}

function Get-ProvisioningChecksum {
    # SHA-256 over the non-blank values in ordinal key order joined with '|', UTF-8, base64 (protocol section 8).
    param([Parameter(Mandatory)][hashtable]$Values)
    $names = [string[]]@($Values.Keys)
    [System.Array]::Sort($names, [System.StringComparer]::Ordinal)
    $kept = New-Object -TypeName 'System.Collections.Generic.List[string]'
    foreach ($name in $names) {
        if (-not [string]::IsNullOrWhiteSpace([string]$Values[$name])) { $kept.Add([string]$Values[$name]) }
    }
    $sha = [System.Security.Cryptography.SHA256]::Create()
    try {
        return [System.Convert]::ToBase64String($sha.ComputeHash($script:Utf8.GetBytes([string]::Join('|', $kept.ToArray()))))
    }
    finally {
        $sha.Dispose()
    }
}

function ConvertFrom-EncryptedPiece {
    # base64(IV || AES-256-CBC/PKCS#7) -> plaintext bytes.
    param(
        [Parameter(Mandatory)][byte[]]$AesKey,
        [Parameter(Mandatory)][string]$Piece
    )
    $blob = [System.Convert]::FromBase64String(($Piece -replace '\s', ''))
    if ($blob.Length -lt 32 -or (($blob.Length - 16) % 16) -ne 0) { throw 'encrypted value has an invalid length' }
    $aes = [System.Security.Cryptography.Aes]::Create()
    try {
        $aes.Mode = [System.Security.Cryptography.CipherMode]::CBC
        $aes.Padding = [System.Security.Cryptography.PaddingMode]::PKCS7
        $aes.Key = $AesKey
        $iv = New-Object -TypeName byte[] -ArgumentList 16
        [System.Array]::Copy($blob, 0, $iv, 0, 16)
        $aes.IV = $iv
        $decryptor = $aes.CreateDecryptor()
        try {
            return , $decryptor.TransformFinalBlock($blob, 16, $blob.Length - 16)
        }
        finally {
            $decryptor.Dispose()
        }
    }
    finally {
        $aes.Dispose()
    }
}

function New-SecurePassword {
    param([Parameter(Mandatory)][string]$Plain)
    $secure = New-Object -TypeName System.Security.SecureString
    foreach ($char in $Plain.ToCharArray()) { $secure.AppendChar($char) }
    $secure.MakeReadOnly()
    return $secure
}

function New-RandomPassword {
    $bytes = New-Object -TypeName byte[] -ArgumentList 36
    $rng = [System.Security.Cryptography.RandomNumberGenerator]::Create()
    try { $rng.GetBytes($bytes) } finally { $rng.Dispose() }
    return 'Av1!' + [System.Convert]::ToBase64String($bytes)
}

# -- state, logging and the KVP registry keys ------------------------------------------------------------------------

function Write-AgentLog {
    param([Parameter(Mandatory)][string]$Message)
    $line = '{0} {1}' -f ([DateTime]::UtcNow.ToString('yyyy-MM-ddTHH:mm:ssZ')), $Message
    try { [System.IO.File]::AppendAllText((Join-Path -Path $StateDir -ChildPath 'agent.log'), $line + "`r`n", $script:Utf8) } catch { }
    Write-Verbose -Message $line
}

function Read-StateFile {
    param([Parameter(Mandatory)][string]$Name)
    $path = Join-Path -Path $StateDir -ChildPath $Name
    if (-not [System.IO.File]::Exists($path)) { return $null }
    return [System.IO.File]::ReadAllText($path, $script:Utf8)
}

function Write-StateFile {
    param([Parameter(Mandatory)][string]$Name, [Parameter(Mandatory)][AllowEmptyString()][string]$Text)
    [System.IO.File]::WriteAllText((Join-Path -Path $StateDir -ChildPath $Name), $Text, $script:Utf8)
}

function Read-HostItems {
    $items = @{}
    $key = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey($script:ExternalKey)
    if ($null -eq $key) { return $items }
    try {
        foreach ($name in $key.GetValueNames()) {
            $value = $key.GetValue($name, $null, [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames)
            if ($value -is [string]) { $items[$name] = $value }
        }
    }
    finally {
        $key.Dispose()
    }
    return $items
}

function Set-GuestItem {
    param([Parameter(Mandatory)][string]$Name, [Parameter(Mandatory)][AllowEmptyString()][string]$Value)
    $key = [Microsoft.Win32.Registry]::LocalMachine.CreateSubKey($script:GuestKey)
    try { $key.SetValue($Name, $Value, [Microsoft.Win32.RegistryValueKind]::String) } finally { $key.Dispose() }
}

function Set-Summary {
    param([Parameter(Mandatory)][string]$Summary)
    $script:Summary = $Summary
}

function Publish-Failure {
    param([string]$Detail)
    if ($script:Finished) { return }
    $script:Finished = $true
    $summary = $script:Summary
    if ($summary.Length -gt 200) { $summary = $summary.Substring(0, 200) }
    Write-AgentLog -Message ('failed: {0} {1}' -f $summary, $Detail)
    try { Set-GuestItem -Name 'hlvmm.meta.guest_provisioning_error' -Value $summary } catch { Write-AgentLog -Message 'cannot write the error summary' }
    try { Set-GuestItem -Name 'hlvmm.meta.guest_provisioning_system_state' -Value 'provisioningfailed' } catch { Write-AgentLog -Message 'cannot write the failed state' }
    try { Write-StateFile -Name 'phase' -Text 'failed' } catch { Write-AgentLog -Message 'cannot write the phase file' }
    Disable-AgentTask
}

function Disable-AgentTask {
    try { Disable-ScheduledTask -TaskName $script:TaskName -ErrorAction Stop | Out-Null } catch { Write-AgentLog -Message 'cannot disable the scheduled task' }
}

function Wait-HostState {
    param([Parameter(Mandatory)][string]$State)
    $deadline = [DateTime]::UtcNow.AddSeconds($WaitSeconds)
    while ($true) {
        $items = Read-HostItems
        if ($items.ContainsKey('hlvmm.meta.host_provisioning_system_state') -and
            [string]::Equals([string]$items['hlvmm.meta.host_provisioning_system_state'], $State, [System.StringComparison]::Ordinal)) {
            return $items
        }
        if ([DateTime]::UtcNow -ge $deadline) { throw ('the host did not signal {0}' -f $State) }
        Start-Sleep -Milliseconds ([int]($PollSeconds * 1000))
    }
}

# -- protocol ---------------------------------------------------------------------------------------------------------

function Read-ProvisioningValues {
    # Decrypt every data value (chunks reassembled as bytes, then strict UTF-8) and verify the checksum.
    param([Parameter(Mandatory)][hashtable]$Items, [Parameter(Mandatory)][byte[]]$AesKey)
    Set-Summary -Summary 'error reading:provisioning_data'
    $names = Get-DataKeyNames -ItemNames ([string[]]@($Items.Keys))
    if ($names.Length -eq 0) { throw 'the host published no data keys' }
    Set-Summary -Summary 'error decrypting:provisioning_data'
    $values = @{}
    foreach ($name in $names) {
        $pieces = Get-ValuePieces -Items $Items -Name $name
        if ($pieces.Length -eq 0) { continue }
        $buffer = New-Object -TypeName System.IO.MemoryStream
        try {
            foreach ($piece in $pieces) {
                $plain = ConvertFrom-EncryptedPiece -AesKey $AesKey -Piece $piece
                $buffer.Write($plain, 0, $plain.Length)
            }
            $values[$name] = $script:StrictUtf8.GetString($buffer.ToArray())
        }
        finally {
            $buffer.Dispose()
        }
    }
    Set-Summary -Summary 'error validating:checksum'
    $published = ''
    if ($Items.ContainsKey('hlvmm.meta.provisioning_system_checksum')) { $published = [string]$Items['hlvmm.meta.provisioning_system_checksum'] }
    $computed = Get-ProvisioningChecksum -Values $values
    # Index the result with ['Data'] / ['Valid']: a hashtable's .Values is its own value collection.
    return @{ Data = $values; Valid = [string]::Equals($computed, ($published -replace '\s', ''), [System.StringComparison]::Ordinal) }
}

function Get-Value {
    param([Parameter(Mandatory)][hashtable]$Values, [Parameter(Mandatory)][string]$Key)
    $name = 'hlvmm.data.' + $Key
    if ($Values.ContainsKey($name)) { return [string]$Values[$name] }
    return ''
}

# -- applying -----------------------------------------------------------------------------------------------------

function Get-AdministratorsGroupMembers {
    return @(Get-LocalGroupMember -SID 'S-1-5-32-544' -ErrorAction Stop | ForEach-Object { $_.SID.Value })
}

function Set-LocalAdministrator {
    param([Parameter(Mandatory)][string]$User, [Parameter(Mandatory)][string]$Password)
    $secure = New-SecurePassword -Plain $Password
    $existing = Get-LocalUser -ErrorAction Stop | Where-Object { [string]::Equals($_.Name, $User, [System.StringComparison]::OrdinalIgnoreCase) }
    if ($null -eq $existing) {
        $existing = New-LocalUser -Name $User -Password $secure -PasswordNeverExpires -AccountNeverExpires -ErrorAction Stop
        Write-AgentLog -Message 'created the local administrator'
    }
    else {
        Set-LocalUser -SID $existing.SID -Password $secure -ErrorAction Stop
        Enable-LocalUser -SID $existing.SID -ErrorAction Stop
        Write-AgentLog -Message 'set the password of the existing local administrator'
    }
    try {
        Add-LocalGroupMember -SID 'S-1-5-32-544' -Member $existing.SID.Value -ErrorAction Stop
    }
    catch [Microsoft.PowerShell.Commands.MemberExistsException] {
        Write-AgentLog -Message 'the local administrator is already in Administrators'
    }
    # The image's built-in Administrator (RID 500) had a password from the answer file: replace it and disable it.
    foreach ($builtin in @(Get-LocalUser -ErrorAction Stop | Where-Object { $_.SID.Value -match '^S-1-5-21-.+-500$' })) {
        if ($builtin.SID.Value -ne $existing.SID.Value) {
            Set-LocalUser -SID $builtin.SID -Password (New-SecurePassword -Plain (New-RandomPassword)) -ErrorAction Stop
            Disable-LocalUser -SID $builtin.SID -ErrorAction Stop
            Write-AgentLog -Message 'locked the built-in Administrator account'
        }
    }
}

function Get-ProvisioningAdapter {
    $adapters = @(Get-NetAdapter -Physical -ErrorAction Stop | Sort-Object -Property ifIndex)
    if ($adapters.Count -eq 0) { $adapters = @(Get-NetAdapter -ErrorAction Stop | Sort-Object -Property ifIndex) }
    $up = @($adapters | Where-Object { $_.Status -eq 'Up' })
    if ($up.Count -gt 0) { return $up[0] }
    if ($adapters.Count -gt 0) { return $adapters[0] }
    throw 'no network adapter found'
}

function Set-StaticIPv4 {
    param([Parameter(Mandatory)][hashtable]$Values)
    $address = Get-Value -Values $Values -Key 'guest_v4_ip_addr'
    $prefix = Get-Value -Values $Values -Key 'guest_v4_cidr_prefix'
    $gateway = Get-Value -Values $Values -Key 'guest_v4_default_gw'
    $servers = @(@((Get-Value -Values $Values -Key 'guest_v4_dns1'), (Get-Value -Values $Values -Key 'guest_v4_dns2')) | Where-Object { $_ -ne '' } | Select-Object -Unique)
    $suffix = Get-Value -Values $Values -Key 'guest_net_dns_suffix'
    if ($address -eq '' -and $prefix -eq '' -and $gateway -eq '' -and $servers.Count -eq 0 -and $suffix -eq '') {
        return $null
    }
    if ($address -eq '' -or $prefix -eq '' -or $gateway -eq '') { throw 'static IPv4 needs the address, the prefix length and the gateway' }
    $adapter = Get-ProvisioningAdapter
    $index = $adapter.ifIndex
    Set-NetIPInterface -InterfaceIndex $index -AddressFamily IPv4 -Dhcp Disabled -ErrorAction Stop
    Get-NetIPAddress -InterfaceIndex $index -AddressFamily IPv4 -ErrorAction SilentlyContinue | Remove-NetIPAddress -Confirm:$false -ErrorAction SilentlyContinue
    Get-NetRoute -InterfaceIndex $index -DestinationPrefix '0.0.0.0/0' -ErrorAction SilentlyContinue | Remove-NetRoute -Confirm:$false -ErrorAction SilentlyContinue
    New-NetIPAddress -InterfaceIndex $index -AddressFamily IPv4 -IPAddress $address -PrefixLength ([byte]$prefix) -DefaultGateway $gateway -ErrorAction Stop | Out-Null
    if ($servers.Count -gt 0) {
        Set-DnsClientServerAddress -InterfaceIndex $index -ServerAddresses $servers -ErrorAction Stop
    }
    if ($suffix -ne '') {
        Set-DnsClient -InterfaceIndex $index -ConnectionSpecificSuffix $suffix -ErrorAction Stop
    }
    Write-AgentLog -Message ('static IPv4 applied on interface {0}' -f $index)
    return $index
}

function Set-DnsSuffixSearchList {
    param([string]$Suffix, [string]$Domain)
    $list = @(@($Suffix, $Domain) | Where-Object { $_ -ne '' } | Select-Object -Unique)
    if ($list.Count -gt 0) {
        Set-DnsClientGlobalSetting -SuffixSearchList $list -ErrorAction Stop
    }
}

function Wait-DomainReachable {
    param([Parameter(Mandatory)][string]$Domain)
    for ($attempt = 0; $attempt -lt 60; $attempt++) {
        try {
            if (@([System.Net.Dns]::GetHostAddresses($Domain)).Count -gt 0) { return }
        }
        catch {
            Write-AgentLog -Message 'waiting for the domain to resolve'
        }
        Start-Sleep -Seconds 5
    }
    throw 'the domain name does not resolve'
}

function Join-ProvisioningDomain {
    param([Parameter(Mandatory)][hashtable]$Values, [string]$NewName)
    $domain = Get-Value -Values $Values -Key 'guest_domain_join_target'
    $user = Get-Value -Values $Values -Key 'guest_domain_join_uid'
    $password = Get-Value -Values $Values -Key 'guest_domain_join_pw'
    $ou = Get-Value -Values $Values -Key 'guest_domain_join_ou'
    if ($user -eq '' -or $password -eq '' -or $ou -eq '') { throw 'the domain join needs the account, its password and the OU' }
    Wait-DomainReachable -Domain $domain
    $credential = New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList $user, (New-SecurePassword -Plain $password)
    $arguments = @{ DomainName = $domain; OUPath = $ou; Credential = $credential; Force = $true; ErrorAction = 'Stop' }
    if ($NewName) { $arguments['NewName'] = $NewName }
    try {
        Add-Computer @arguments | Out-Null
    }
    catch {
        $code = '0x{0:X8}' -f $_.Exception.HResult
        throw ('the domain join failed ({0})' -f $code)
    }
    Write-AgentLog -Message 'joined the domain; the join is verified after the reboot'
}

function Invoke-FirstRun {
    Write-StateFile -Name 'phase' -Text 'running'
    Set-Summary -Summary 'error waiting:host_signal'
    $items = Wait-HostState -State 'waitingforpublickey'

    Set-Summary -Summary 'error validating:manifest'
    $expected = ConvertTo-ProtocolVersion -Text (Read-StateFile -Name 'version')
    if ($expected -eq '') { throw 'no version file' }
    $announced = ''
    if ($items.ContainsKey('hlvmm.meta.version')) { $announced = ConvertTo-ProtocolVersion -Text ([string]$items['hlvmm.meta.version']) }
    if (-not [string]::Equals($announced, $expected, [System.StringComparison]::Ordinal)) { throw 'the host announced another provisioning version' }

    Set-Summary -Summary 'error generating:rsa_keys'
    $rsa = New-Object -TypeName System.Security.Cryptography.RSACryptoServiceProvider -ArgumentList 2048
    try {
        $rsa.PersistKeyInCsp = $false
        $publicKey = [System.Convert]::ToBase64String($rsa.ExportCspBlob($false))
        $nonce = $null
        if ($items.ContainsKey('hlvmm.meta.host_provisioning_nonce')) { $nonce = [string]$items['hlvmm.meta.host_provisioning_nonce'] }

        Set-Summary -Summary 'error publishing:public_key'
        Set-GuestItem -Name 'hlvmm.meta.guest_provisioning_error' -Value ''
        Set-GuestItem -Name 'hlvmm.meta.guest_provisioning_public_key' -Value $publicKey
        Set-GuestItem -Name 'hlvmm.meta.guest_agent' -Value (Format-AgentMark -PublicKey $publicKey -Nonce $nonce)
        Set-Summary -Summary 'error publishing:guest_state'
        Set-GuestItem -Name 'hlvmm.meta.guest_provisioning_system_state' -Value 'waitingforaeskey'
        Write-AgentLog -Message 'published the public key and the capability mark'

        Set-Summary -Summary 'error waiting:provisioning_data'
        $items = Wait-HostState -State 'provisioningdatapublished'

        Set-Summary -Summary 'error decrypting:shared_aes_key'
        if (-not $items.ContainsKey('hlvmm.meta.shared_aes_key')) { throw 'the host published no AES key' }
        $aesKey = $rsa.Decrypt([System.Convert]::FromBase64String(([string]$items['hlvmm.meta.shared_aes_key'] -replace '\s', '')), $false)
        if ($aesKey.Length -ne 32) { throw 'the unwrapped AES key is not 32 bytes' }
    }
    finally {
        $rsa.Dispose()
    }

    $result = Read-ProvisioningValues -Items $items -AesKey $aesKey
    if (-not $result['Valid']) {
        Write-AgentLog -Message 'checksum mismatch; reading the data again'
        Start-Sleep -Seconds $ChecksumRetrySeconds
        $result = Read-ProvisioningValues -Items (Read-HostItems) -AesKey $aesKey
        if (-not $result['Valid']) { throw 'the checksum does not match the data' }
    }
    $values = $result['Data']
    foreach ($name in $values.Keys) {
        $short = $name.Substring('hlvmm.data.'.Length)
        if ($script:SupportedDataKeys -notcontains $short) {
            Set-Summary -Summary ('error applying:unsupported {0}' -f $short)
            throw 'a data key this agent does not apply was published'
        }
    }
    Write-AgentLog -Message ('decrypted and verified {0} values' -f $values.Count)

    Set-Summary -Summary 'error publishing:guest_state'
    Set-GuestItem -Name 'hlvmm.meta.guest_provisioning_system_state' -Value 'applying'

    $hostName = Get-Value -Values $values -Key 'guest_host_name'
    $domain = Get-Value -Values $values -Key 'guest_domain_join_target'
    $renamed = $false
    if ($hostName -ne '' -and -not [string]::Equals($hostName, $env:COMPUTERNAME, [System.StringComparison]::OrdinalIgnoreCase)) {
        $renamed = $true
    }

    Set-Summary -Summary 'error applying:mod_general'
    $admin = Get-Value -Values $values -Key 'guest_la_uid'
    $adminPassword = Get-Value -Values $values -Key 'guest_la_pw'
    if ($admin -ne '' -or $adminPassword -ne '') {
        if ($admin -eq '' -or $adminPassword -eq '') { throw 'the administrator needs a user name and a password' }
        Set-LocalAdministrator -User $admin -Password $adminPassword
    }
    if ($renamed -and $domain -eq '') {
        Rename-Computer -NewName $hostName -Force -ErrorAction Stop
        Write-AgentLog -Message 'renamed the computer (effective after the reboot)'
    }

    Set-Summary -Summary 'error applying:mod_net'
    $interface = Set-StaticIPv4 -Values $values
    Set-DnsSuffixSearchList -Suffix (Get-Value -Values $values -Key 'guest_net_dns_suffix') -Domain $domain

    if ($domain -ne '') {
        Set-Summary -Summary 'error applying:mod_domain'
        $newName = $null
        if ($renamed) { $newName = $hostName }
        Join-ProvisioningDomain -Values $values -NewName $newName
    }

    # What to verify after the reboot: names and addresses only, never a password.
    $verify = [ordered]@{
        host_name = $hostName
        admin = $admin
        domain = $domain
        interface = $interface
        address = Get-Value -Values $values -Key 'guest_v4_ip_addr'
        dns = @(@((Get-Value -Values $values -Key 'guest_v4_dns1'), (Get-Value -Values $values -Key 'guest_v4_dns2')) | Where-Object { $_ -ne '' })
        suffix = Get-Value -Values $values -Key 'guest_net_dns_suffix'
    }
    Write-StateFile -Name 'verify.json' -Text (ConvertTo-Json -InputObject $verify -Compress)
    Write-StateFile -Name 'phase' -Text 'verify'
    Set-Summary -Summary 'error verifying:reboot'
    Write-AgentLog -Message 'applied; rebooting to verify'
    Restart-Computer -Force
    $script:Finished = $true
}

function Test-Applied {
    # After the reboot: returns the list of what is not as requested (empty when everything was applied).
    param([Parameter(Mandatory)]$Verify)
    $problems = New-Object -TypeName 'System.Collections.Generic.List[string]'
    $system = Get-CimInstance -ClassName Win32_ComputerSystem -ErrorAction Stop
    if ($Verify.host_name -and -not [string]::Equals([string]$system.Name, [string]$Verify.host_name, [System.StringComparison]::OrdinalIgnoreCase)) {
        $problems.Add('host_name')
    }
    if ($Verify.domain) {
        $joined = $system.PartOfDomain -and [string]::Equals([string]$system.Domain, [string]$Verify.domain, [System.StringComparison]::OrdinalIgnoreCase)
        $channel = $false
        if ($joined) {
            for ($attempt = 0; $attempt -lt 12 -and -not $channel; $attempt++) {
                try { $channel = Test-ComputerSecureChannel -ErrorAction Stop } catch { $channel = $false }
                if (-not $channel) { Start-Sleep -Seconds 10 }
            }
        }
        if (-not ($joined -and $channel)) { $problems.Add('domain_join') }
    }
    if ($Verify.admin) {
        $user = Get-LocalUser -ErrorAction Stop | Where-Object { [string]::Equals($_.Name, [string]$Verify.admin, [System.StringComparison]::OrdinalIgnoreCase) }
        if ($null -eq $user -or -not $user.Enabled -or (Get-AdministratorsGroupMembers) -notcontains $user.SID.Value) { $problems.Add('admin') }
    }
    if ($Verify.address) {
        $found = @(Get-NetIPAddress -AddressFamily IPv4 -ErrorAction SilentlyContinue | Where-Object { $_.IPAddress -eq [string]$Verify.address })
        if ($found.Count -eq 0) { $problems.Add('ipv4') }
        $configured = @((Get-DnsClientServerAddress -InterfaceIndex ([int]$Verify.interface) -AddressFamily IPv4 -ErrorAction Stop).ServerAddresses)
        foreach ($server in @($Verify.dns)) {
            if ($configured -notcontains [string]$server) { $problems.Add('dns_servers'); break }
        }
        if ($Verify.suffix) {
            $client = Get-DnsClient -InterfaceIndex ([int]$Verify.interface) -ErrorAction Stop
            $search = @((Get-DnsClientGlobalSetting -ErrorAction Stop).SuffixSearchList)
            if ($client.ConnectionSpecificSuffix -ne [string]$Verify.suffix -or $search -notcontains [string]$Verify.suffix) { $problems.Add('dns_suffix') }
        }
    }
    return , $problems.ToArray()
}

function Invoke-VerifyRun {
    Set-Summary -Summary 'error verifying:applied_state'
    $verify = ConvertFrom-Json -InputObject (Read-StateFile -Name 'verify.json')
    $problems = Test-Applied -Verify $verify
    if ($problems.Length -gt 0) {
        Set-Summary -Summary ('error verifying:{0}' -f ($problems -join ','))
        throw 'not everything was applied'
    }
    Set-Summary -Summary 'error publishing:success_state'
    Set-GuestItem -Name 'hlvmm.meta.guest_provisioning_error' -Value ''
    Set-GuestItem -Name 'hlvmm.meta.guest_provisioning_system_state' -Value 'provisioningapplied'
    $script:Finished = $true
    Write-StateFile -Name 'phase' -Text 'done'
    Remove-Item -LiteralPath (Join-Path -Path $StateDir -ChildPath 'verify.json') -Force -ErrorAction SilentlyContinue
    Write-AgentLog -Message 'verified and reported provisioningapplied'
    Disable-AgentTask
}

function Invoke-AetherVGuestAgent {
    [void][System.IO.Directory]::CreateDirectory($StateDir)
    $phase = ConvertTo-ProtocolVersion -Text (Read-StateFile -Name 'phase')
    Write-AgentLog -Message ('{0}/{1} starting (phase {2})' -f $script:AgentName, $script:AgentVersion, $phase)
    try {
        switch ($phase) {
            'done' { $script:Finished = $true; Disable-AgentTask }
            'verify' { Invoke-VerifyRun }
            default { Invoke-FirstRun }
        }
    }
    catch {
        # Only this agent's own messages (throw '...') are logged; other exception texts could quote a value.
        $detail = $_.Exception.GetType().Name
        if ($_.FullyQualifiedErrorId -eq $_.Exception.Message) { $detail = $_.Exception.Message }
        Publish-Failure -Detail $detail
    }
    finally {
        if (-not $script:Finished) { Publish-Failure -Detail 'stopped unexpectedly' }
    }
}

if ($MyInvocation.InvocationName -ne '.') {
    Invoke-AetherVGuestAgent
}
