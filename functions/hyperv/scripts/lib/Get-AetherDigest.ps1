function Get-AetherDigest($Path, [byte[]]$Bytes, [int]$Count = -1) {
    # Lower-case hex SHA-256 of a file's content ($Path; read sharing only, so a writer elsewhere makes it fail) or of
    # the first $Count bytes of $Bytes (all of them by default).
    $sha = [System.Security.Cryptography.SHA256]::Create()
    try {
        if ($null -ne $Path) {
            $stream = [System.IO.File]::Open([string]$Path, [System.IO.FileMode]::Open, [System.IO.FileAccess]::Read, [System.IO.FileShare]::Read)
            try { $hash = $sha.ComputeHash($stream) } finally { $stream.Dispose() }
        } else {
            if ($Count -lt 0) { $Count = $Bytes.Length }
            $hash = $sha.ComputeHash($Bytes, 0, $Count)
        }
    } finally { $sha.Dispose() }
    return ([System.BitConverter]::ToString($hash) -replace '-', '').ToLowerInvariant()
}
