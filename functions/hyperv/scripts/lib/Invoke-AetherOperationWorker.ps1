function Invoke-AetherOperationWorker {
    param([string]$StatusPath)
    # The worker of a background operation, run by its scheduled task outside any WinRM shell (see
    # Start-AetherOperationTask): reads its work from the operation's status file, does it, and reports progress
    # (every 2 s) and the outcome in the same file.
    # prepare_disk: copies the golden image to <vm>.vhdx.partial -- preallocated first, so a full volume fails at
    # once, and written through (FileOptions.WriteThrough: each write reaches the disk before the next, so no backlog
    # of dirty cache pages builds up behind hundreds of GB, and the progress reported is what is on disk) -- then
    # renames it to <vm>.vhdx and grows it with Resize-VHD when disk_gb is larger.
    # A full volume fails with InsufficientResources; any other failure with HostOperationFailed (a new attempt,
    # under a new operation id, may succeed).
    $op = Read-AetherOperation $StatusPath
    $spec = $op.spec
    $op.state = 'running'
    $op.pid = $PID
    $op.updated = [DateTime]::UtcNow.ToString('o')
    Write-AetherOperation $StatusPath $op
    $done = [int64]0
    try {
        if ([string]$op.kind -ne 'prepare_disk') { throw ('this worker does not know operation kind ' + [string]$op.kind) }
        $total = [int64]$op.bytes_total
        $buffer = New-Object byte[] (8mb)
        $reader = [System.IO.FileStream]::new([string]$spec.source, [System.IO.FileMode]::Open, [System.IO.FileAccess]::Read,
            [System.IO.FileShare]::Read, 1mb, [System.IO.FileOptions]::SequentialScan)
        try {
            $writer = [System.IO.FileStream]::new([string]$spec.partial, [System.IO.FileMode]::Create,
                [System.IO.FileAccess]::Write, [System.IO.FileShare]::Read, 1mb, [System.IO.FileOptions]::WriteThrough)
            try {
                $writer.SetLength($total)
                $reported = [DateTime]::UtcNow
                while (($read = $reader.Read($buffer, 0, $buffer.Length)) -gt 0) {
                    $writer.Write($buffer, 0, $read)
                    $done += $read
                    if (([DateTime]::UtcNow - $reported).TotalSeconds -ge 2) {
                        $op.bytes_done = $done
                        $op.updated = [DateTime]::UtcNow.ToString('o')
                        try { Write-AetherOperation $StatusPath $op } catch { $reported = [DateTime]::UtcNow }
                        $reported = [DateTime]::UtcNow
                    }
                }
                if ($done -ne $total) { throw "the image changed size while it was copied ($done of $total bytes)" }
                $writer.Flush($true)
            } finally {
                $writer.Dispose()
            }
        } finally {
            $reader.Dispose()
        }
        Move-Item -LiteralPath ([string]$spec.partial) -Destination ([string]$spec.path)
        $size = [int64](Get-VHD -Path ([string]$spec.path)).Size
        if ($size -lt [int64]$spec.desired) {
            Resize-VHD -Path ([string]$spec.path) -SizeBytes ([int64]$spec.desired)
            $size = [int64]$spec.desired
        }
        $op.result = [ordered]@{
            folder = [string]$op.folder; path = [string]$spec.path; size_gb = [math]::Round($size / 1gb, 2)
            image_name = $spec.image_name; created = $true
        }
        $op.state = 'succeeded'
    } catch {
        $category = 'HostOperationFailed'
        $exception = $_.Exception
        while ($null -ne $exception) {
            # ERROR_DISK_FULL, ERROR_HANDLE_DISK_FULL
            if (@(-2147024784, -2147024857) -contains $exception.HResult) { $category = 'InsufficientResources' }
            $exception = $exception.InnerException
        }
        $op.state = 'failed'
        $op.error = [ordered]@{ category = $category; message = $_.Exception.Message }
    }
    $op.bytes_done = $done
    $op.updated = [DateTime]::UtcNow.ToString('o')
    for ($try = 1; $try -le 20; $try++) {
        try {
            Write-AetherOperation $StatusPath $op
            return
        } catch {
            Start-Sleep -Milliseconds 250
        }
    }
    exit 1  # no result written: the status script reports the operation as ended without one
}
