function Find-AetherJobFolder([string]$VmName, [string]$JobId, $Roots) {
    # The job's VM folder <root>\Hyper-V\<vm name>, whose marker (.aetherv-job) names the job, or $null when there is
    # none yet. A folder of that name with another marker, or none, belongs to someone else: VmAlreadyExists.
    $found = $null
    foreach ($root in $Roots) {
        $candidate = [System.IO.Path]::Combine([string]$root, 'Hyper-V', $VmName)
        if (Test-Path -LiteralPath $candidate) {
            if ((Read-AetherMarker $candidate) -ne $JobId) {
                Fail-AetherV 'VmAlreadyExists' "folder '$candidate' already exists and was not made by job $JobId"
            }
            $found = $candidate
        }
    }
    return $found
}
