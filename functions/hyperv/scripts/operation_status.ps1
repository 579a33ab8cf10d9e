param($Params)
# Reports a background operation (see start_operation.ps1) in one short look at its status file and its scheduled
# task; nothing is waited for. A worker that stopped without a result (the host restarted, the task's time limit
# ended it) is reported failed with HostOperationFailed; the task of an operation that has ended is unregistered.
# Params: operation_id, folder (the operation's folder, as start_operation returned it)
# Returns: {id, kind, job_id, folder, state, bytes_done, bytes_total, percent, started, updated, result, error}
#          state: running | succeeded | failed | canceled; result (succeeded) as the kind's script returns it
# Fails: InvalidParameters, OperationNotFound (no Aether-V folder there, or no such operation in it).

$folder = [string]$Params.folder
$statusPath = Get-AetherOperationFile $folder ([string]$Params.operation_id)
if (-not $folder -or -not (Test-Path -LiteralPath $folder -PathType Container) -or -not (Read-AetherMarker $folder)) {
    Fail-AetherV 'OperationNotFound' "'$folder' is not an Aether-V folder on this host"
}
if (-not (Test-Path -LiteralPath $statusPath -PathType Leaf)) {
    Fail-AetherV 'OperationNotFound' "no operation $($Params.operation_id) in '$folder'"
}
return (Resolve-AetherOperation $statusPath)
