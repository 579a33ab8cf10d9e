function Stop-AetherOperation([string]$StatusPath) {
    # Stops a background operation's worker: Stop-ScheduledTask ends its process (a copy stops where it is and its
    # .partial file is closed), then its task is unregistered and the operation recorded as canceled unless it had
    # ended. Returns $true when a running worker was stopped.
    $op = Read-AetherOperation $StatusPath
    if ($null -eq $op) { return $false }
    $id = [string]$op.id
    $stopped = $false
    $task = Get-AetherOperationTask $id
    if ($task) {
        if (@('Running', 'Queued') -contains [string]$task.State) {
            [void](Stop-ScheduledTask -TaskPath '\Aether-V\' -TaskName $id)
            $stopped = $true
            $deadline = [DateTime]::UtcNow.AddSeconds(30)
            while ([DateTime]::UtcNow -lt $deadline -and [string](Get-AetherOperationTask $id).State -eq 'Running') {
                Start-Sleep -Milliseconds 250
            }
            if ($op.pid) { Wait-Process -Id ([int]$op.pid) -Timeout 30 -ErrorAction SilentlyContinue }
        }
        Unregister-ScheduledTask -TaskPath '\Aether-V\' -TaskName $id -Confirm:$false
    }
    $op = Read-AetherOperation $StatusPath
    if ($null -ne $op -and @('succeeded', 'failed', 'canceled') -notcontains [string]$op.state) {
        $op.state = 'canceled'
        $op.updated = [DateTime]::UtcNow.ToString('o')
        Write-AetherOperation $StatusPath $op
    }
    return $stopped
}
