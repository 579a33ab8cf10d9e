param($Params)
# Starts a VM (Off or Saved: Start-VM; Paused: Resume-VM). A Running or Starting VM is InvalidVmState, unless
# if_needed is true (a retried workflow step), then it is success with changed = false.
# Params: vm_id, if_needed? Returns: {id, previous_state, state, changed}. Fails: VmNotFound, InvalidVmState.

return (Start-AetherVm $Params.vm_id ([bool]$Params.if_needed))
