"""Syncs racing each other while the lab changes under them, against Azurite.

The lab (hosts and their VMs, and which hosts are configured) changes continuously — hosts added and removed, VMs
added, removed and moved between hosts — while several writers sync it at once the way the inventory activities do
(snapshot each configured host, store it, prune the others). No writer may fail, and after the lab settles one more
sync must leave tables that match the lab exactly: every host, every VM on its host, every VM found by id.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.inventory.repository import InventoryRepository

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
FACTS = {"cluster": None, "total_cpu_cores": 32, "total_memory_gb": 256.0, "free_memory_gb": 128.0}


class Lab:
    """Hosts, their VMs and the configured hosts, changed and read under one lock; snapshots are time-ordered."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.lock = threading.Lock()
        self.vms: dict[str, dict[str, str]] = {f"hv{i:02d}": {} for i in range(1, 5)}  # host → vm id → name
        self.configured = set(self.vms)
        self.ticks = 0
        self.spare = [f"hv{i:02d}" for i in range(5, 9)]
        self.departed: list[str] = []  # ids of VMs removed from the lab (with their host or alone)
        for host in self.vms:
            for _ in range(rng.randint(3, 12)):
                self._add_vm(host)

    def _add_vm(self, host: str) -> None:
        vm_id = str(uuid.UUID(int=self.rng.getrandbits(128)))
        self.vms[host][vm_id] = f"vm-{vm_id[:8]}"

    def _now(self) -> datetime:
        self.ticks += 1
        return T0 + timedelta(milliseconds=self.ticks)

    def change(self) -> str:
        """One random change; returns what it did."""
        with self.lock:
            hosts = sorted(self.configured)
            action = self.rng.choice(["add", "add", "remove", "move", "move", "host+", "host-"])
            if action == "add":
                self._add_vm(self.rng.choice(hosts))
            elif action == "remove":
                candidates = [(h, v) for h in hosts for v in self.vms[h]]
                if candidates:
                    host, vm_id = self.rng.choice(candidates)
                    del self.vms[host][vm_id]
                    self.departed.append(vm_id)
            elif action == "move" and len(hosts) > 1:
                source, target = self.rng.sample(hosts, 2)
                if self.vms[source]:
                    vm_id = self.rng.choice(sorted(self.vms[source]))
                    self.vms[target][vm_id] = self.vms[source].pop(vm_id)
            elif action == "host+" and self.spare:
                host = self.spare.pop(0)
                self.vms.setdefault(host, {})
                self.configured.add(host)
                for _ in range(self.rng.randint(0, 6)):
                    self._add_vm(host)
            elif action == "host-" and len(hosts) > 2:
                host = self.rng.choice(hosts)
                self.configured.discard(host)
                self.departed.extend(self.vms.pop(host))  # its VMs are no longer anyone's business
                self.spare.append(host)
            return action

    def hosts(self) -> list[str]:
        with self.lock:
            return sorted(self.configured)

    def snapshot(self, host: str) -> tuple[list[dict[str, Any]], datetime] | None:
        """What collecting ``host`` returns now (``None`` once it is gone), and when it was taken."""
        with self.lock:
            if host not in self.configured:
                return None
            vms = [{"id": vm_id, "name": name, "state": "Off"} for vm_id, name in self.vms[host].items()]
            return vms, self._now()


def sync(repo: InventoryRepository, lab: Lab, rng: random.Random) -> None:
    """One inventory sync as the activities do it: each configured host (in any order), then prune."""
    hosts = lab.hosts()
    for host in rng.sample(hosts, len(hosts)):
        taken = lab.snapshot(host)
        if taken is not None:
            repo.apply_snapshot(host, FACTS, *taken)
    repo.prune_hosts(hosts)


def assert_tables_match(repo: InventoryRepository, lab: Lab) -> None:
    with lab.lock:
        expected = {host: dict(lab.vms[host]) for host in lab.configured}
    assert sorted(h.name for h in repo.list_hosts()) == sorted(expected)
    for host, vms in expected.items():
        stored = {vm.id: vm.name for vm in repo.iter_vms(host=host)}
        assert stored == vms, host
        for vm_id in vms:
            found = repo.get_vm(vm_id)
            assert found is not None and found.host == host, (vm_id, host)
    gone = [vm_id for vm_id in lab.departed if not any(vm_id in vms for vms in expected.values())]
    assert all(repo.get_vm(vm_id) is None for vm_id in gone[:20])  # a VM that left the lab is not found by id


@pytest.mark.parametrize("seed", range(4))
def test_concurrent_syncs_while_the_lab_changes_end_with_tables_that_match_it(make_repo: Any, seed: int) -> None:
    rng = random.Random(seed)
    lab = Lab(rng)
    writers = [make_repo() for _ in range(3)]
    sync(writers[0], lab, rng)
    stop = threading.Event()
    errors: list[BaseException] = []
    rounds = [0] * len(writers)

    def writer(index: int) -> None:
        own = random.Random(seed * 100 + index)
        try:
            while not stop.is_set():
                sync(writers[index], lab, own)
                rounds[index] += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(len(writers))]
    for thread in threads:
        thread.start()
    changes: list[str] = []
    deadline = time.monotonic() + 60
    while (len(changes) < 40 or min(rounds) < 3) and time.monotonic() < deadline:  # every writer overlaps changes
        changes.append(lab.change())
        stop.wait(0.02)
    stop.set()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert min(rounds) >= 2, rounds  # the writers really overlapped the changes
    assert {"move", "host+", "host-"} & set(changes)
    sync(writers[1], lab, rng)
    assert_tables_match(writers[2], lab)
