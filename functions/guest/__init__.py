"""Host side of the Hyper-V KVP guest provisioning protocol: key names, key import, encryption, chunking.

Everything here is pure (no I/O): activities read and write the KVP pools through ``functions.hyperv``
and call these functions to interpret what they read and to build what they write. The wire format is
specified in ``reference/guest-protocol.md``; the entry point for publishing is
:func:`functions.guest.kvp.build_host_items`.
"""
