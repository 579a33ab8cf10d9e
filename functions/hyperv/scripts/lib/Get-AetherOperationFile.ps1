function Get-AetherOperationFile([string]$Folder, [string]$Id) {
    # The status file of background operation $Id in VM folder $Folder: <folder>\.aetherv-op.<id>.json (its worker
    # script sits next to it as .ps1). An operation id names a scheduled task and two files, so it is letters,
    # digits, '.', '_' and '-' only: InvalidParameters otherwise.
    if ($Id -cnotmatch '^[A-Za-z0-9][A-Za-z0-9._-]{0,149}\z') {
        Fail-AetherV 'InvalidParameters' "operation_id '$Id' is not a valid operation id"
    }
    return [System.IO.Path]::Combine($Folder, '.aetherv-op.' + $Id + '.json')
}
