param($Params)
# The host's virtual switches. Params: none. Returns: {switches: [{name, id, type, notes}]}

$switches = New-Object System.Collections.ArrayList
foreach ($switch in @(Get-VMSwitch)) {
    [void]$switches.Add([ordered]@{
        name = [string]$switch.Name; id = ([string]$switch.Id).ToLowerInvariant()
        type = [string]$switch.SwitchType; notes = [string]$switch.Notes
    })
}
return [ordered]@{ switches = @($switches) }
