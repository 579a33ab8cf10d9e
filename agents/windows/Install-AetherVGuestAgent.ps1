#Requires -Version 5.1
<#
.SYNOPSIS
    Installs the Aether-V guest agent from the provisioning ISO and starts it (run once, at first boot).

.DESCRIPTION
    Run by SetupComplete.cmd (as SYSTEM, after Windows Setup finished the specialize and oobeSystem passes).
    Copies AetherVGuestAgent.ps1 and the protocol version file from the ISO's \aetherv folder to
    C:\ProgramData\AetherV (readable by SYSTEM and Administrators only), registers the scheduled task
    'AetherVGuestAgent' (at startup, as SYSTEM, highest privileges, no time limit) and starts it.
#>
[CmdletBinding()]
param(
    [string]$Source = $PSScriptRoot,
    [string]$Target = (Join-Path -Path $env:ProgramData -ChildPath 'AetherV')
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

[void][System.IO.Directory]::CreateDirectory($Target)
# SYSTEM and Administrators only: the agent keeps its phase and verification data here.
& icacls.exe $Target /inheritance:r /grant:r '*S-1-5-18:(OI)(CI)F' '*S-1-5-32-544:(OI)(CI)F' | Out-Null
foreach ($name in @('AetherVGuestAgent.ps1', 'version')) {
    Copy-Item -LiteralPath (Join-Path -Path $Source -ChildPath $name) -Destination (Join-Path -Path $Target -ChildPath $name) -Force
}
Unblock-File -LiteralPath (Join-Path -Path $Target -ChildPath 'AetherVGuestAgent.ps1')

$agent = Join-Path -Path $Target -ChildPath 'AetherVGuestAgent.ps1'
$action = New-ScheduledTaskAction -Execute 'powershell.exe' -Argument ('-NoProfile -NonInteractive -ExecutionPolicy Bypass -File "{0}"' -f $agent)
$trigger = New-ScheduledTaskTrigger -AtStartup
$principal = New-ScheduledTaskPrincipal -UserId 'S-1-5-18' -LogonType ServiceAccount -RunLevel Highest
$settings = New-ScheduledTaskSettingsSet -ExecutionTimeLimit ([TimeSpan]::Zero) -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries
Register-ScheduledTask -TaskName 'AetherVGuestAgent' -Action $action -Trigger $trigger -Principal $principal -Settings $settings -Force | Out-Null
Start-ScheduledTask -TaskName 'AetherVGuestAgent'
