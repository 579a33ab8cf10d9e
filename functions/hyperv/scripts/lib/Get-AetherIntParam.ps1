function Get-AetherIntParam($Value, [string]$Name, $Problems) {
    # An optional integer parameter: $null stays $null; anything that is not a whole number is a problem.
    if ($null -eq $Value) { return $null }
    $number = 0.0
    if ($Value -is [bool] -or -not [double]::TryParse([string]$Value, [System.Globalization.NumberStyles]::Float, [System.Globalization.CultureInfo]::InvariantCulture, [ref]$number) -or $number -ne [math]::Truncate($number)) {
        [void]$Problems.Add("$Name must be an integer")
        return $null
    }
    return [int64]$number
}
