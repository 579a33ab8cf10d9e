param($Params)
# Writes host KVP items (the pool the guest reads: Msvm_KvpExchangeComponentSettingData.HostExchangeItems) in one call:
# first removes every existing host item whose name starts with remove_prefix (e.g. 'hlvmm.', which also catches stale
# '<key>._N' chunk keys), the names in remove, and the names about to be written; then adds the items in the order
# given. Uses Msvm_VirtualSystemManagementService.RemoveKvpItems / AddKvpItems with Msvm_KvpExchangeDataItem
# (Source = 0), at most 128 items per call, the VM looked up by GUID. Values travel as data, never as script text.
# Params: vm_id, items: [{name, data}], remove_prefix?, remove?: [name]
# Returns: {removed: [name], written: [name]}. Fails: InvalidParameters, VmNotFound, ScriptFailed.

return (Write-AetherHostKvp $Params.vm_id $Params.items $Params.remove_prefix $Params.remove)
