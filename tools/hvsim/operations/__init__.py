"""Operation handlers: what each ``functions/hyperv/scripts/<operation>.ps1`` does, done to the simulated host.

Each handler takes the host model and the decoded ``$Params`` and returns the object the script returns (the
same field names, rounding and ordering) or raises a :mod:`tools.hvsim.exceptions` error with the category the
script's ``Fail-AetherV`` uses. Every call is recorded in ``FakeHost.journal`` with the parameters exactly as
received. Handlers run under the host's lock, except the waits of ``shutdown_vm`` and ``prepare_disk``'s copy; every
call first settles what the host's background workers did meanwhile.

One module per concern, and the table that ties them to the scripts:

=================  =============================================================================================
``params``         the scripts' shared helpers (parameter coercion, VM lookup, sizes, the job marker)
``inventory``      ``collect_inventory``, ``get_vm`` and :func:`vm_record`
``switches``       ``list_switches``
``disks``          ``list_images``, ``prepare_disk`` and the disk plan both preparations follow
``background``     ``start_operation``, ``operation_status``, ``stop_operation`` (host-side background work)
``dvds``           ``list_isos``, ``eject_iso``
``vms``            ``preflight_create``, ``create_vm``, ``remove_vm``
``power``          ``start_vm``, ``stop_vm``, ``shutdown_vm``, ``restart_vm``
``kvp``            ``read_guest_kvp``, ``write_host_kvp``, ``start_and_announce``
``cluster``        ``add_to_cluster``, ``remove_from_cluster``
``devices``        ``set_vm``, ``add_disk``, ``expand_disk``, ``remove_disk`` (resizing, data disks)
``nics``           ``add_nic``, ``set_nic``, ``remove_nic`` (network adapters)
``library``        ``upload_status``, ``upload_chunk``, ``install_uploads`` (uploads to the provisioning library)
``registry``       :data:`OPERATIONS`, :func:`run_operation`, :func:`install`
=================  =============================================================================================
"""

from tools.hvsim.operations.inventory import vm_record
from tools.hvsim.operations.registry import OPERATIONS, install, run_operation

__all__ = ["OPERATIONS", "install", "run_operation", "vm_record"]
