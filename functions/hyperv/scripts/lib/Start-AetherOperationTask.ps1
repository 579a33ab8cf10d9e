function Start-AetherOperationTask([string]$StatusPath, [int]$TimeLimitSeconds) {
    # Starts the worker of the background operation whose status file is $StatusPath, as the scheduled task
    # \Aether-V\<id>. Why a scheduled task: WinRM runs a command's processes in a job object that it ends with the
    # shell (Start-Process and Start-Job children die when the call returns or the shell times out), while Task
    # Scheduler runs the worker outside it, under this same account (S4U logon: no stored password; the account
    # needs "Log on as a batch job", which administrators have), at the task priority below normal, bounded by
    # ExecutionTimeLimit, never twice at once (MultipleInstances IgnoreNew), stoppable with Stop-ScheduledTask, and
    # visible to an operator in Task Scheduler. The worker script is written next to the status file from this
    # script's own helper functions; its only argument is its file name (the operation id, checked to be letters,
    # digits, '.', '_' and '-'), and it reads everything else from the status file: parameters stay data.
    $op = Read-AetherOperation $StatusPath
    $id = [string]$op.id
    $folder = [System.IO.Path]::GetDirectoryName($StatusPath)
    $worker = [System.IO.Path]::GetFileName([System.IO.Path]::ChangeExtension($StatusPath, '.ps1'))
    $lines = New-Object System.Collections.ArrayList
    [void]$lines.Add('# Aether-V background operation worker, written by start_operation and run by the scheduled task')
    [void]$lines.Add('# \Aether-V\<operation id>. It reads its work from the status file next to it (same name, .json)')
    [void]$lines.Add('# and reports its progress and result there.')
    [void]$lines.Add('$ErrorActionPreference = ''Stop''')
    [void]$lines.Add('$ProgressPreference = ''SilentlyContinue''')
    foreach ($name in @('Read-AetherOperation', 'Write-AetherOperation', 'Invoke-AetherOperationWorker')) {
        $body = (Get-Item -LiteralPath ('function:' + $name)).ScriptBlock.ToString()
        [void]$lines.Add('function ' + $name + ' {' + $body + '}')
    }
    [void]$lines.Add('Invoke-AetherOperationWorker ([System.IO.Path]::ChangeExtension($MyInvocation.MyCommand.Path, ''.json''))')
    $text = ($lines -join "`r`n") + "`r`n"
    [System.IO.File]::WriteAllText([System.IO.Path]::Combine($folder, $worker), $text, (New-Object System.Text.UTF8Encoding $true))

    if (-not (Get-AetherOperationTask $id)) {
        $powershell = [System.IO.Path]::Combine($env:SystemRoot, 'System32\WindowsPowerShell\v1.0\powershell.exe')
        $arguments = '-NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -File "' + $worker + '"'
        $action = New-ScheduledTaskAction -Execute $powershell -Argument $arguments -WorkingDirectory $folder
        $account = [System.Security.Principal.WindowsIdentity]::GetCurrent().Name
        $principal = New-ScheduledTaskPrincipal -UserId $account -LogonType S4U -RunLevel Highest
        $settings = New-ScheduledTaskSettingsSet -ExecutionTimeLimit (New-TimeSpan -Seconds $TimeLimitSeconds) `
            -MultipleInstances IgnoreNew -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries
        $description = 'Aether-V background operation; progress and result in ' + $StatusPath
        [void](Register-ScheduledTask -TaskPath '\Aether-V\' -TaskName $id -Action $action -Principal $principal `
            -Settings $settings -Description $description)
    }
    [void](Start-ScheduledTask -TaskPath '\Aether-V\' -TaskName $id)
}
