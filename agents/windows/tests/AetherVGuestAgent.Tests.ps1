# Pester 4/5 tests of the agent's pure helpers; run on Windows: Invoke-Pester agents\windows\tests
# The vectors are computed by the host code (functions.guest) and checked against it by tests/agents.
$agent = Join-Path -Path (Split-Path -Parent $PSScriptRoot) -ChildPath 'AetherVGuestAgent.ps1'
. $agent

Describe 'AetherVGuestAgent helpers' {
    It 'decrypts a value encrypted by the host' {
        $key = [byte[]](0..31)
        $plain = ConvertFrom-EncryptedPiece -AesKey $key -Piece 'AQEBAQEBAQEBAQEBAQEBAdgBQh7ocf7eToGSnvWXshBcJHduk5Hk8ZX5oOGcooVR'
        $expected = [System.Convert]::FromBase64String('UMOkc3N3w7ZydCAneCcgInkiICDkuK0=')
        [System.Convert]::ToBase64String($plain) | Should -Be ([System.Convert]::ToBase64String($expected))
    }

    It 'computes the protocol checksum of the worked example' {
        $values = @{
            'hlvmm.data.guest_host_name' = 'vm01'
            'hlvmm.data.guest_la_uid'    = 'admin'
            'hlvmm.data.guest_la_pw'     = 'P@ssw0rd!'
            'hlvmm.data.guest_v4_dns2'   = '   '
        }
        Get-ProvisioningChecksum -Values $values | Should -Be 'nnfjKupS+6DuovWSLmo80Lwnv+d4qHVDVlvWOGFbkPU='
    }

    It 'finds bare and chunked data keys in ordinal order' {
        $names = Get-DataKeyNames -ItemNames @('hlvmm.data.guest_la_pw._1', 'hlvmm.meta.version', 'hlvmm.data.guest_la_pw._0', 'hlvmm.data.ansible_ssh_user')
        ($names -join ',') | Should -Be 'hlvmm.data.ansible_ssh_user,hlvmm.data.guest_la_pw'
    }

    It 'reassembles chunks to the first gap' {
        $items = @{ 'k._0' = 'a'; 'k._1' = 'b'; 'k._3' = 'd' }
        ((Get-ValuePieces -Items $items -Name 'k') -join ',') | Should -Be 'a,b'
    }

    It 'trims only protocol versions' {
        ConvertTo-ProtocolVersion -Text (" 2.5.0`r`n" + [char]0) | Should -Be '2.5.0'
    }

    It 'echoes only well-formed nonces' {
        Test-HostNonce -Nonce 'abcdefghijklmnop_-01' | Should -Be $true
        Test-HostNonce -Nonce 'short' | Should -Be $false
        Test-HostNonce -Nonce 'has;semicolon-0123456789' | Should -Be $false
    }
}
