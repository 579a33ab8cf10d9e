function Read-AetherMarker([string]$Folder) {
    $marker = [System.IO.Path]::Combine($Folder, '.aetherv-job')
    if (-not (Test-Path -LiteralPath $marker -PathType Leaf)) { return $null }
    return [System.IO.File]::ReadAllText($marker).Trim()
}
