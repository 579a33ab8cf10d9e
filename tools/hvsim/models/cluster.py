"""Cluster: a failover cluster of hosts and the VM roles it holds.

Cluster Shared Volumes are the same :class:`~tools.hvsim.models.files.FakeVolume` objects on every node, and the
nodes share one lock. ``MSCluster_Cluster.AddVirtualMachine`` is simulated by :meth:`FakeCluster.add_role`, which
refuses a VM with any file off cluster storage. A clustered VM stays on its node until ``migrate_vm`` moves it
(:mod:`tools.hvsim.models.migration`): no failover, no resource states.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from tools.hvsim.exceptions import ClusterError
from tools.hvsim.models.hosts import FakeHost
from tools.hvsim.models.vms import FakeVm

__all__ = ["FakeCluster"]


@dataclass
class FakeCluster:
    """A failover cluster: its nodes and the VM roles it holds (``roles``: VM id → owner node name)."""

    name: str
    nodes: list[FakeHost] = field(default_factory=list)
    roles: dict[str, str] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def add_node(self, host: FakeHost) -> None:
        """Join ``host`` to the cluster (it then shares the cluster's lock and CSVs)."""
        host.cluster = self
        host.lock = self.lock
        self.nodes.append(host)

    def add_role(self, vm: FakeVm) -> None:
        """``MSCluster_Cluster.AddVirtualMachine``: the VM's files must all be on cluster storage."""
        paths = [vm.folder, *(drive.path for drive in vm.disks), *(dvd.path for dvd in vm.dvds if dvd.path)]
        for path in paths:
            volume = vm.host.fs.volume_for(path)
            if volume is None or not volume.cluster_shared:
                raise ClusterError(
                    f"the cluster refused VM {vm.id}: '{path}' is not on cluster storage (a Cluster Shared Volume)"
                )
        self.roles[vm.id] = vm.host.name

    def remove_role(self, vm: FakeVm) -> bool:
        """Delete the VM's resources and group; False when it had none."""
        return self.roles.pop(vm.id, None) is not None
