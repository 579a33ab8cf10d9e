param($Params)
# Reads a VM's KVP exchange as the host sees it: the guest pool (Msvm_KvpExchangeComponent.GuestExchangeItems) and
# the selected intrinsic items (GuestIntrinsicExchangeItems), looked up by VM GUID (never by display name).
# Both are empty while the VM is off or the guest's KVP service does not run.
# Params: vm_id, intrinsic_names? (default OSName, OSVersion, FullyQualifiedDomainName, NetworkAddressIPv4,
#         NetworkAddressIPv6, IntegrationServicesVersion)
# Returns: {state, guest: {name: data}, intrinsic: {name: data}}. Fails: InvalidParameters, VmNotFound.

return (Read-AetherGuestKvp $Params.vm_id $Params.intrinsic_names)
