function Read-AetherOperation {
    param([string]$Path)
    # The status document of a background operation, or $null without one. Its worker replaces the file while it
    # runs (Write-AetherOperation), so a read that meets the replacement is tried again.
    $failure = $null
    for ($try = 1; $try -le 20; $try++) {
        if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) { return $null }
        try {
            return (ConvertFrom-Json ([System.IO.File]::ReadAllText($Path)))
        } catch {
            $failure = $_
            Start-Sleep -Milliseconds 100
        }
    }
    throw $failure
}
