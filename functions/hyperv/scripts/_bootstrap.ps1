# Aether-V bootstrap (Windows PowerShell 5.1+). Reads one JSON envelope from the pipeline ($input: stdin is a pipe,
# WINRS_CONSOLEMODE_STDIN=FALSE): operation, script text and base64 UTF-8 JSON params -- or `steps`, a list of such
# operations run in order in this one process (stopping at the first failure; the result is the list of results).
# Runs each script with $Params as data and writes one JSON document to stdout, with `log`: the warnings the scripts
# wrote and the lines they logged with Write-AetherVLog (for the job's log; never a secret).
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
function Fail-AetherV([string]$Category, [string]$Message) {
    $ex = New-Object System.Exception $Message
    $ex.Data['AetherVCategory'] = $Category
    throw (New-Object System.Management.Automation.ErrorRecord $ex, $Category, 'NotSpecified', $null)
}
$AetherVLog = New-Object System.Collections.ArrayList
function Write-AetherVLog([string]$Message, [string]$Level = 'info') {
    [void]$AetherVLog.Add([ordered]@{ level = $Level; message = $Message })
}
function Write-AetherVResult($Document) {
    $Document['log'] = @($AetherVLog)
    $bytes = [System.Text.Encoding]::UTF8.GetBytes((ConvertTo-Json -InputObject $Document -Depth 32 -Compress))
    $out = [Console]::OpenStandardOutput()
    $out.Write($bytes, 0, $bytes.Length)
    $out.Flush()
}
try {
    $envelope = ConvertFrom-Json (@($input) -join "`n")
    $steps = @($envelope)
    if ($null -ne $envelope.steps) { $steps = @($envelope.steps) }
    $results = New-Object System.Collections.ArrayList
    foreach ($step in $steps) {
        $Params = ConvertFrom-Json ([System.Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($step.params)))
        $output = New-Object System.Collections.ArrayList
        foreach ($item in @(& ([ScriptBlock]::Create($step.script)) $Params 3>&1 4>$null 5>$null 6>$null)) {
            if ($item -is [System.Management.Automation.WarningRecord]) { Write-AetherVLog $item.Message 'warning' }
            else { [void]$output.Add($item) }
        }
        # what `$value = & { ... }` would hold without the warnings: nothing, the one object, or all of them
        if ($output.Count -eq 0) { $value = $null } elseif ($output.Count -eq 1) { $value = $output[0] } else { $value = $output.ToArray() }
        [void]$results.Add($value)
    }
    if ($null -ne $envelope.steps) { $result = @($results) } else { $result = $results[0] }
    Write-AetherVResult @{ ok = $true; result = $result }
    exit 0
} catch {
    $category = 'ScriptFailed'
    if ($_.Exception.Data.Contains('AetherVCategory')) { $category = [string]$_.Exception.Data['AetherVCategory'] }
    $failure = @{ category = $category; message = $_.Exception.Message; type = $_.Exception.GetType().FullName }
    Write-AetherVResult @{ ok = $false; error = $failure }
    exit 1
}
