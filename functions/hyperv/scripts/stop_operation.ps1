param($Params)
# Stops a background operation (see start_operation.ps1): its worker's process is ended by Stop-ScheduledTask, its
# task unregistered, and the operation recorded as canceled unless it had ended. What it wrote stays (a create's
# compensation removes the job's folder). Safe to repeat: a stopped, finished or missing operation is success.
# Params: operation_id, folder
# Returns: {id, state, stopped}  (state 'missing' when there is no such operation; stopped: a worker was running)
# Fails: InvalidParameters.

$id = [string]$Params.operation_id
$folder = [string]$Params.folder
$statusPath = Get-AetherOperationFile $folder $id
if (-not $folder -or -not (Test-Path -LiteralPath $folder -PathType Container) -or -not (Read-AetherMarker $folder) -or
    -not (Test-Path -LiteralPath $statusPath -PathType Leaf)) {
    return [ordered]@{ id = $id; state = 'missing'; stopped = $false }
}
$stopped = Stop-AetherOperation $statusPath
return [ordered]@{ id = $id; state = [string](Read-AetherOperation $statusPath).state; stopped = [bool]$stopped }
