param($Params)
# Writes one chunk of an upload to the provisioning library into <install dir>\<name>.partial at its offset, after
# checking the chunk against its SHA-256 (a damaged chunk is refused and nothing is written).
# Idempotent: the part of the chunk the partial file already holds is compared, not written again, so a repeated
# chunk changes nothing and a chunk cut short by an interruption is completed. A chunk that differs from what the
# file holds is refused, unless restart is set, which first cuts the file at the offset (restart at 0 starts the
# upload over). A chunk may not leave a gap or make the file longer than size. The file is opened exclusively: a
# second upload of the same file at the same time fails instead of interleaving.
# Params: name, offset, data (base64), sha256 (of the chunk's bytes), size (of the whole file), restart?, install_dir?
# Returns: {partial_bytes, written}
# Fails: InvalidParameters (damaged chunk, gap, overrun, bytes that differ from the file's).

$installDir = 'C:\Program Files\Aether-V'
if ($Params.install_dir) { $installDir = [string]$Params.install_dir }
$path = Get-AetherLibraryPath $installDir ([string]$Params.name)
$partial = $path + '.partial'
$offset = [int64]-1
if ($null -ne $Params.offset) { $offset = [int64]$Params.offset }
$size = [int64]-1
if ($null -ne $Params.size) { $size = [int64]$Params.size }
$restart = [bool]$Params.restart
$bytes = $null
try { $bytes = [System.Convert]::FromBase64String([string]$Params.data) } catch { $bytes = $null }

$problems = New-Object System.Collections.ArrayList
if ($offset -lt 0) { [void]$problems.Add('offset must be a number of bytes (0 or more)') }
if ($size -lt 0) { [void]$problems.Add('size must be a number of bytes (0 or more)') }
if ($null -eq $bytes -or $bytes.Length -eq 0) { [void]$problems.Add('data must be the chunk in base64 (not empty)') }
if (-not (Test-AetherDigest ([string]$Params.sha256))) { [void]$problems.Add('sha256 must be 64 hex digits') }
if ($problems.Count -gt 0) { Fail-AetherV 'InvalidParameters' ($problems -join '; ') }
if ($offset + $bytes.Length -gt $size) {
    Fail-AetherV 'InvalidParameters' "a chunk of $($bytes.Length) bytes at offset $offset overruns the file's $size bytes"
}
$actual = Get-AetherDigest -Bytes $bytes
if ($actual -ne ([string]$Params.sha256).ToLowerInvariant()) {
    Fail-AetherV 'InvalidParameters' "the chunk at offset $offset arrived damaged (its SHA-256 is $actual, not the sender's); nothing was written"
}

if (-not (Test-Path -LiteralPath $installDir -PathType Container)) { [void][System.IO.Directory]::CreateDirectory($installDir) }
$written = 0
$stream = New-Object System.IO.FileStream($partial, [System.IO.FileMode]::OpenOrCreate, [System.IO.FileAccess]::ReadWrite, [System.IO.FileShare]::None)
try {
    $length = $stream.Length
    if ($restart -and $offset -le $length) { $stream.SetLength($offset); $length = $offset }
    if ($offset -gt $length) {
        Fail-AetherV 'InvalidParameters' "the partial upload holds $length bytes; a chunk at offset $offset would leave a gap"
    }
    $overlap = [int][math]::Min($length - $offset, [int64]$bytes.Length)
    if ($overlap -gt 0) {
        $held = New-Object byte[] $overlap
        $stream.Position = $offset
        $read = 0
        while ($read -lt $overlap) {
            $count = $stream.Read($held, $read, $overlap - $read)
            if ($count -le 0) { break }
            $read += $count
        }
        if ((Get-AetherDigest -Bytes $held) -ne (Get-AetherDigest -Bytes $bytes -Count $overlap)) {
            Fail-AetherV 'InvalidParameters' "the partial upload holds other bytes at offset $offset than this chunk; start the upload over (restart)"
        }
    }
    if ($bytes.Length -gt $overlap) {
        $stream.Position = $offset + $overlap
        $stream.Write($bytes, $overlap, $bytes.Length - $overlap)
        $written = $bytes.Length - $overlap
        $stream.Flush($true)
    }
    $length = $stream.Length
} finally { $stream.Dispose() }
return [ordered]@{ partial_bytes = $length; written = $written }
