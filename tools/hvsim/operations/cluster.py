"""Cluster: ``add_to_cluster`` and ``remove_from_cluster`` (a role is a record; no failover, no migration)."""

from __future__ import annotations

from typing import Any

from tools.hvsim.exceptions import ClusterError
from tools.hvsim.models import FakeHost
from tools.hvsim.operations.params import vm_param

__all__ = ["add_to_cluster", "remove_from_cluster"]


def add_to_cluster(host: FakeHost, params: dict[str, Any]) -> Any:
    """``add_to_cluster.ps1``."""
    vm = vm_param(host, params.get("vm_id"))
    cluster = host.cluster
    if cluster is None:
        raise ClusterError("this host is not a member of a failover cluster")
    if vm.clustered:
        return {"id": vm.id, "cluster_name": cluster.name, "clustered": True, "changed": False}
    if len(host.vms_named(vm.name)) > 1:
        raise ClusterError(f"VM name '{vm.name}' is not unique on this host; the cluster adds VMs by name")
    cluster.add_role(vm)
    return {"id": vm.id, "cluster_name": cluster.name, "clustered": True, "changed": True}


def remove_from_cluster(host: FakeHost, params: dict[str, Any]) -> Any:
    """``remove_from_cluster.ps1``."""
    vm = vm_param(host, params.get("vm_id"))
    cluster = host.cluster
    if cluster is None:
        return {"id": vm.id, "cluster_name": None, "clustered": False, "changed": False}
    changed = cluster.remove_role(vm)
    return {"id": vm.id, "cluster_name": cluster.name, "clustered": False, "changed": changed}
