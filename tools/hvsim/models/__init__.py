r"""The simulated Hyper-V world: hosts, volumes and files, switches, VMs with a state machine, KVP pools, clusters.

Organised like a moto backend, one module per concern; ``Fake*`` classes hold state and :class:`Backend` is the
registry of hosts and clusters with :meth:`Backend.reset`. Operation handlers (:mod:`tools.hvsim.operations`) call
typed methods here and render the results the way the operation scripts do; nothing here knows about WinRM.

=================  =============================================================================================
``core``           byte units, the injectable clock, :class:`ManualClock`
``files``          :class:`FakeFile`, :class:`FakeVolume`, :class:`FileSystem`, Windows path rules
``network``        :class:`FakeSwitch` (with its DHCP), :class:`FakeNic`
``disks``          :class:`FakeDiskDrive`, SCSI locations and drive ids
``checkpoints``    :class:`FakeCheckpoint`: a VM's checkpoints (configuration and state at a point in time)
``dvds``           :class:`FakeDvdDrive`, recognising the provisioning ISO
``guest_os``       :class:`FakeGuestOS` (guest pool, intrinsic items), :class:`GuestAgent`, the guest factory
``vms``            :class:`FakeVm` (state machine, devices, host pool), :class:`TransitionTimes`
``background``     :class:`BackgroundWork`, :class:`FakeTask`, :class:`CopyFault`: scheduled tasks and image copies
``hosts``          :class:`FakeHost`
``cluster``        :class:`FakeCluster`
``migration``      :class:`MigrationControl`, :class:`MigrationFault`: moving a VM between hosts, injected faults
``backend``        :class:`Backend`
``library``        :class:`FakeContentFile` (a file with bytes: uploads), SHA-256, ISO versions, ISOs in use
=================  =============================================================================================

Imports point one way, in the order of the table; a VM reaches its host, backend and cluster only through the
protocols of :mod:`tools.hvsim.models.vms`. Import the names from this package.

Divergences from real Hyper-V (also listed in ``tools/hvsim/README.md``):

- Files are records (path, size, virtual size, a few metadata fields), not bytes; a VHDX "clone" copies the record.
  A dynamic VHDX's file size never grows as the guest writes. Files uploaded to the provisioning library keep their
  bytes (:mod:`~tools.hvsim.models.library`); a record's SHA-256 is a stand-in derived from its metadata.
- Free memory is total memory minus a host reserve minus the memory of every VM that is not Off or Saved.
- Cluster Shared Volumes are the same :class:`FakeVolume` objects on every node of a :class:`FakeCluster`, and the
  nodes share one lock; a clustered VM moves only when ``migrate_vm`` asks (no failover), at once.
- The guest OS is a :class:`FakeGuestOS`: intrinsic KVP items, addresses per adapter and an optional provisioning
  agent (the real Linux agent as a process, or the simulated guest of :mod:`tools.hvsim.guest`) that runs while
  the VM runs with a provisioning ISO. Its boot is one delay: until it has passed, no KVP, intrinsic items or
  addresses; then all of them, and the agent starts.
- A blank disk (or an image without a known OS) boots nothing: no integration services, no KVP, no addresses.
- An image copy takes ``size / copy_rate`` seconds of the backend clock (at once without a rate); background
  copies are evaluated lazily, like VM states (:mod:`~tools.hvsim.models.background`).
- VM names compare case-insensitively (PowerShell's ``-eq``); Hyper-V itself would allow ``a`` and ``A``.
"""

from tools.hvsim.models.backend import Backend
from tools.hvsim.models.background import BackgroundWork, CopyFault, FakeTask
from tools.hvsim.models.checkpoints import FakeCheckpoint
from tools.hvsim.models.cluster import FakeCluster
from tools.hvsim.models.core import GB, MB, Clock, ManualClock
from tools.hvsim.models.disks import FakeDiskDrive
from tools.hvsim.models.dvds import FakeDvdDrive
from tools.hvsim.models.files import (
    FakeFile,
    FakeVolume,
    FileSystem,
    is_valid_file_name,
    join_path,
    leaf_name,
    parent_path,
)
from tools.hvsim.models.guest_os import FakeGuestOS, GuestAgent, GuestFactory, default_guest_factory
from tools.hvsim.models.hosts import FakeHost
from tools.hvsim.models.migration import MigrationControl, MigrationFault
from tools.hvsim.models.network import FakeNic, FakeSwitch
from tools.hvsim.models.vms import ACTIVE_STATES, STABLE_STATES, FakeVm, TransitionTimes

__all__ = [
    "ACTIVE_STATES",
    "GB",
    "MB",
    "STABLE_STATES",
    "Backend",
    "BackgroundWork",
    "Clock",
    "CopyFault",
    "FakeCheckpoint",
    "FakeCluster",
    "FakeDiskDrive",
    "FakeDvdDrive",
    "FakeFile",
    "FakeGuestOS",
    "FakeHost",
    "FakeNic",
    "FakeSwitch",
    "FakeTask",
    "FakeVm",
    "FakeVolume",
    "FileSystem",
    "GuestAgent",
    "GuestFactory",
    "ManualClock",
    "MigrationControl",
    "MigrationFault",
    "TransitionTimes",
    "default_guest_factory",
    "is_valid_file_name",
    "join_path",
    "leaf_name",
    "parent_path",
]
