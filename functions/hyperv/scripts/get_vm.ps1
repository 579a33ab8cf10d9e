param($Params)
# One VM by id, with the same fields as collect_inventory (the same CIM projection, filtered to one VM).
# Params: vm_id (GUID). Fails: InvalidParameters (not a GUID), VmNotFound.

# -- shared VM projection (identical in get_vm.ps1; tests/unit/hvsim_model checks they stay identical) --------
# -- end of shared VM projection -----------------------------------------------------------------------------

$guid = [guid]::Empty
if (-not [guid]::TryParse([string]$Params.vm_id, [ref]$guid)) {
    Fail-AetherV 'InvalidParameters' "vm_id '$($Params.vm_id)' is not a GUID"
}
$warnings = New-Object 'System.Collections.Generic.List[string]'
$records = @(Get-AetherVmRecords -OnlyId $guid.ToString() -Warnings $warnings)
if ($records.Count -eq 0) { Fail-AetherV 'VmNotFound' "no VM with id $guid on this host" }
return $records[0]
