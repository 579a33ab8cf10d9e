function Write-AetherOperation {
    param([string]$Path, $Document)
    # Writes a background operation's status document whole: into a temporary file first, then File.Replace (the
    # ReplaceFile API), so a reader sees the previous document or this one, never part of one.
    $text = ConvertTo-Json -InputObject $Document -Depth 8 -Compress
    $temporary = $Path + '.tmp'
    [System.IO.File]::WriteAllText($temporary, $text, (New-Object System.Text.UTF8Encoding $false))
    if (Test-Path -LiteralPath $Path -PathType Leaf) {
        [System.IO.File]::Replace($temporary, $Path, [NullString]::Value)  # no backup ($null would pass '')
    } else {
        [System.IO.File]::Move($temporary, $Path)
    }
}
