# Connection check: names the host and its PowerShell version and echoes the parameters unchanged.
param($Params)
return [ordered]@{
    computer_name = $env:COMPUTERNAME
    ps_version = $PSVersionTable.PSVersion.ToString()
    echo = $Params
}
