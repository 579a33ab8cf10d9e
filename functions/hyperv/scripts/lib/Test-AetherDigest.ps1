function Test-AetherDigest([string]$Value) {
    # Whether $Value is a SHA-256 in hex: 64 hex digits.
    return ($Value.Length -eq 64 -and $Value -notmatch '[^0-9a-fA-F]')
}
