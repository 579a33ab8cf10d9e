function Resolve-AetherOperation([string]$StatusPath) {
    # A background operation as the scripts report it: its status file, checked against its scheduled task. A
    # worker that no longer runs but left no result (the host restarted, the task's time limit ended it) is recorded
    # as failed with HostOperationFailed (a new attempt may succeed); the task of an operation that has ended is
    # unregistered. 'starting' (the worker has not begun) is reported as running.
    # Returns: {id, kind, job_id, folder, state, bytes_done, bytes_total, percent, started, updated, result, error}
    $ended = @('succeeded', 'failed', 'canceled')
    $op = Read-AetherOperation $StatusPath
    $id = [string]$op.id
    $task = Get-AetherOperationTask $id
    $running = $null -ne $task -and @('Running', 'Queued') -contains [string]$task.State
    if ($ended -notcontains [string]$op.state -and -not $running) {
        $op = Read-AetherOperation $StatusPath  # the worker may have written its result just before it ended
        if ($ended -notcontains [string]$op.state) {
            $why = 'no task'
            if ($task) { $why = 'task result 0x' + ([int64](Get-ScheduledTaskInfo -InputObject $task).LastTaskResult).ToString('X8') }
            $op.state = 'failed'
            $op.updated = [DateTime]::UtcNow.ToString('o')
            $op.error = [ordered]@{
                category = 'HostOperationFailed'
                message = "the host-side worker of operation $id ended without a result ($why); the host may have restarted"
            }
            Write-AetherOperation $StatusPath $op
        }
    }
    if ($ended -contains [string]$op.state -and $task) {
        # The worker writes its result as its last act: give its process a moment to end, then remove its task.
        $deadline = [DateTime]::UtcNow.AddSeconds(5)
        while ($running -and [DateTime]::UtcNow -lt $deadline) {
            Start-Sleep -Milliseconds 200
            $running = [string](Get-AetherOperationTask $id).State -eq 'Running'
        }
        if (-not $running) { Unregister-ScheduledTask -TaskPath '\Aether-V\' -TaskName $id -Confirm:$false }
    }
    $done = [int64]$op.bytes_done
    $total = [int64]$op.bytes_total
    $state = [string]$op.state
    if ($state -eq 'starting') { $state = 'running' }
    $percent = 0.0
    if ($total -gt 0) { $percent = [math]::Round(100.0 * $done / $total, 1) } elseif ($state -eq 'succeeded') { $percent = 100.0 }
    return [ordered]@{
        id = $id; kind = [string]$op.kind; job_id = [string]$op.job_id; folder = [string]$op.folder; state = $state
        bytes_done = $done; bytes_total = $total; percent = $percent; started = $op.started; updated = $op.updated
        result = $op.result; error = $op.error
    }
}
