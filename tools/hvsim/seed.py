r"""Realistic, deterministic seed data for a simulated lab.

:func:`seed_lab` builds ``hosts`` hosts named ``hv01``, ``hv02``, …; the first two form the failover cluster
``hvclu01`` with two shared Cluster Shared Volumes (images in ``C:\ClusterStorage\Volume1\DiskImages``), the
others are standalone (images in ``C:\Hyper-V\DiskImages``, VM folders in ``C:\Hyper-V``). Every host has the
switches ``External``, ``Internal`` and ``Lab``, the five golden images of :data:`IMAGES`, the provisioning ISOs
and ``version`` file in ``C:\Program Files\Aether-V``, and ``vms_per_host`` existing VMs (names, sizes, states,
addresses and ids drawn from ``random.Random(seed)``, so the same seed gives the same lab).

:func:`add_vm` creates one VM out of band (as an operator in Hyper-V Manager would), for seeding and for the
control plane.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tools.hvsim.models import (
    GB,
    Backend,
    FakeCluster,
    FakeFile,
    FakeHost,
    FakeSwitch,
    FakeVm,
    FakeVolume,
    join_path,
)

__all__ = ["IMAGES", "PROTOCOL_VERSION", "SWITCHES", "ImageSpec", "add_vm", "seed_host", "seed_lab"]

PROTOCOL_VERSION = "2.5.0"
"""Content of the install directory's ``version`` file and the version the seeded ISOs carry."""


@dataclass(frozen=True)
class ImageSpec:
    """A golden image: file name (without ``.vhdx``), OS, the OSName it reports, virtual and file size."""

    name: str
    os_family: str
    os_name: str
    virtual_gb: int
    file_gb: float


IMAGES: tuple[ImageSpec, ...] = (
    ImageSpec("Windows Server 2022 Datacenter", "windows", "Windows Server 2022 Datacenter", 127, 11.2),
    ImageSpec("Windows Server 2025 Standard", "windows", "Windows Server 2025 Standard", 127, 12.6),
    ImageSpec("Ubuntu 24.04 LTS", "linux", "Ubuntu 24.04.1 LTS", 30, 3.1),
    ImageSpec("Debian 12", "linux", "Debian GNU/Linux 12 (bookworm)", 30, 2.2),
    ImageSpec("Rocky Linux 9", "linux", "Rocky Linux 9.4 (Blue Onyx)", 30, 2.6),
)

SWITCHES: tuple[tuple[str, str, str, str], ...] = (
    ("External", "External", "Uplink to the datacenter network", "192.168.10"),
    ("Internal", "Internal", "Host and guests only", "172.16.0"),
    ("Lab", "Private", "Isolated lab network", "10.20.0"),
)

_ROLES = ("dc", "sql", "web", "app", "file", "build", "mon", "jump", "proxy", "k8s")
_STATES = ("Running",) * 12 + ("Off",) * 5 + ("Saved", "Paused")
_EPOCH = datetime(2024, 1, 15, 9, 0, tzinfo=UTC)


def _install_library(host: FakeHost, image_folder: str) -> None:
    host.fs.mkdir(image_folder)
    for image in IMAGES:
        host.fs.write(
            FakeFile(
                join_path(image_folder, image.name + ".vhdx"),
                int(image.file_gb * GB),
                kind="vhdx",
                virtual_size=image.virtual_gb * GB,
                vhd_type="Dynamic",
                os_family=image.os_family,
                os_name=image.os_name,
            )
        )
    host.fs.mkdir(host.install_dir)
    host.fs.write(FakeFile(join_path(host.install_dir, "version"), 6, kind="text", text=PROTOCOL_VERSION + "\r\n"))
    for name in ("WindowsProvisioning.iso", "LinuxProvisioning.iso"):
        host.fs.write(
            FakeFile(join_path(host.install_dir, name), 48 * 1024**2, kind="iso", iso_version=PROTOCOL_VERSION)
        )


def seed_host(
    backend: Backend,
    name: str,
    *,
    volumes: list[FakeVolume] | None = None,
    image_folder: str = "C:\\Hyper-V\\DiskImages",
) -> FakeHost:
    """An empty host with the standard switches, images and install directory (no VMs)."""
    system = FakeVolume("C:\\", capacity=1024 * GB, label="System", base_used=60 * GB)
    host = FakeHost(backend, name, volumes=[system, *(volumes or [])])
    for index, (switch_name, switch_type, notes, subnet) in enumerate(SWITCHES):
        host.switches.append(
            FakeSwitch(
                switch_name,
                switch_type,
                notes,
                subnet,
                id=str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.switch{index}")),
            )
        )
    _install_library(host, image_folder)
    backend.add_host(host)
    return host


def add_vm(
    host: FakeHost,
    name: str,
    *,
    image: ImageSpec | None = None,
    memory_gb: float = 4,
    cpu_count: int = 2,
    state: str = "Off",
    switch: str | None = "External",
    vlan_id: int | None = None,
    notes: str = "",
    root: str | None = None,
    vm_id: str | None = None,
    created: datetime | None = None,
    uptime_seconds: float = 0,
) -> FakeVm:
    """Create a VM out of band: its folder and OS disk (a clone of ``image``, or blank), a NIC, then ``state``."""
    roots = host.storage_roots(None)
    folder = join_path(root or roots[0], "Hyper-V", name)
    host.fs.mkdir(join_path(folder, "Virtual Machines"))
    vm = FakeVm(
        host,
        name=name,
        folder=folder,
        memory_mb=int(memory_gb * 1024),
        cpu_count=cpu_count,
        vm_id=vm_id,
        created=created,
        notes=notes,
        version="10.0" if image is None or "2025" not in image.name else "12.0",
    )
    host.fs.write(FakeFile(join_path(folder, "Virtual Machines", vm.id.upper() + ".vmcx"), 80 * 1024))
    disk_path = join_path(folder, name + ".vhdx")
    if image is not None:
        disk = FakeFile(
            disk_path,
            int(image.file_gb * GB * 1.4),
            kind="vhdx",
            virtual_size=image.virtual_gb * GB,
            vhd_type="Dynamic",
            os_family=image.os_family,
            os_name=image.os_name,
        )
        vm.secure_boot_template = (
            "MicrosoftUEFICertificateAuthority" if image.os_family == "linux" else "MicrosoftWindows"
        )
    else:
        disk = FakeFile(disk_path, 4 * 1024**2, kind="vhdx", virtual_size=40 * GB, vhd_type="Dynamic")
    host.fs.write(disk)
    host.add_vm(vm)
    drive = host.add_disk(vm, disk_path)
    vm.first_boot_device = drive.id
    if switch is not None:
        host.add_nic(vm, switch).vlan_id = vlan_id
    host.install_guest(vm, disk)
    if vm.guest is not None:
        vm.guest.hostname = name.lower()
    vm.set_state(state, uptime_seconds=uptime_seconds)
    return vm


def _seed_vms(host: FakeHost, rng: random.Random, count: int, counters: dict[str, int], roots: list[str]) -> None:
    for _ in range(count):
        role = rng.choice(_ROLES)
        counters[role] = counters.get(role, 0) + 1
        name = f"{role}{counters[role]:02d}"
        image = rng.choice(IMAGES)
        state = rng.choice(_STATES)
        switch = rng.choice(SWITCHES)[0]
        add_vm(
            host,
            name,
            image=image,
            memory_gb=rng.choice((2, 4, 4, 8, 16)),
            cpu_count=rng.choice((1, 2, 2, 4, 8)),
            state=state,
            switch=switch,
            vlan_id=rng.choice((None, None, 10, 20, 30)) if switch == "External" else None,
            notes=rng.choice(("", "Owner: platform team", "Owner: data team", "Do not turn off during backups")),
            root=rng.choice(roots),
            vm_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            created=_EPOCH + timedelta(days=rng.randrange(0, 600), minutes=rng.randrange(0, 1440)),
            uptime_seconds=rng.randrange(600, 40 * 86400) if state in ("Running", "Paused") else 0,
        )


def seed_lab(backend: Backend, *, hosts: int = 3, vms_per_host: int = 5, seed: int = 0) -> list[FakeHost]:
    """Reset ``backend`` and fill it with ``hosts`` hosts (the first two clustered) of ``vms_per_host`` VMs."""
    backend.reset()
    rng = random.Random(seed)  # noqa: S311 - seed data, not security
    counters: dict[str, int] = {}
    result: list[FakeHost] = []
    cluster: FakeCluster | None = None
    shared: list[FakeVolume] = []
    if hosts >= 2:
        cluster = FakeCluster("hvclu01")
        backend.clusters[cluster.name] = cluster
        shared = [
            FakeVolume("C:\\ClusterStorage\\Volume1\\", capacity=4096 * GB, label="CSV1", cluster_shared=True),
            FakeVolume("C:\\ClusterStorage\\Volume2\\", capacity=2048 * GB, label="CSV2", cluster_shared=True),
        ]
    for index in range(1, hosts + 1):
        name = f"hv{index:02d}"
        if cluster is not None and index <= 2:
            host = seed_host(backend, name, volumes=shared, image_folder="C:\\ClusterStorage\\Volume1\\DiskImages")
            host.fs.mkdir("C:\\ClusterStorage")
            cluster.add_node(host)
        else:
            host = seed_host(backend, name)
        _seed_vms(host, rng, vms_per_host, counters, host.storage_roots(None))
        if cluster is not None and host.cluster is cluster:
            for vm in list(host.vms.values())[::2]:
                cluster.add_role(vm)
        result.append(host)
    return result
