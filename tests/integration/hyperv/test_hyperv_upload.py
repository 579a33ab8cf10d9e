"""Uploading the real provisioning ISOs to a simulated host with ``upload_library``, checked on hvsim's own files.

An upload sends chunks, the host verifies the whole file's SHA-256 and replaces the ISOs, then writes ``version``;
an interrupted upload resumes from what the host verifiably holds; an upload the host finds damaged is sent again;
an ISO in use by a running VM stops the install with nothing changed; the next create uses what was uploaded.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from pathlib import Path

import pytest

from functions.hyperv.client import HyperVClient
from functions.hyperv.errors import HostUnreachable, InvalidVmState
from functions.hyperv.models import CreateVmSpec, PrepareDiskSpec
from functions.hyperv.uploader import (
    DEFAULT_CHUNK_SIZE,
    MAX_CHUNK_SIZE,
    MAX_STDIN_ENVELOPE,
    LocalFile,
    chunk_envelope_size,
    upload_library,
)
from tools.hvsim.lab import LabHost
from tools.hvsim.models import FakeFile
from tools.hvsim.models.library import FakeContentFile, content_sha256
from tools.isobuild import BuiltIsos

INSTALL = "C:\\Program Files\\Aether-V"
CHUNK = 32 * 1024


def local(isos: BuiltIsos) -> list[LocalFile]:
    return [LocalFile.from_path(isos.linux), LocalFile.from_path(isos.windows)]


def on_host(host: LabHost, name: str) -> FakeFile | None:
    return host.model.fs.get(f"{INSTALL}\\{name}")


def announced(host: LabHost) -> str:
    file = on_host(host, "version")
    assert file is not None
    return (file.text or "").strip()


@pytest.fixture
def isos(provisioning_isos: Callable[[str], BuiltIsos]) -> BuiltIsos:
    return provisioning_isos("2.6.1")


def test_upload_installs_both_isos_verified_on_the_host_then_the_version(
    hv: HyperVClient, standalone: LabHost, isos: BuiltIsos
) -> None:
    files = local(isos)
    report = upload_library(hv, files, version=isos.version, chunk_size=CHUNK)

    assert report.installed and report.checksums_ok and report.version_written
    assert report.version == "2.6.1" == announced(standalone)
    assert report.bytes_sent == sum(file.size for file in files)
    assert report.chunks == sum(math.ceil(file.size / CHUNK) for file in files)
    assert report.retries == 0
    for file, item in zip(files, report.files, strict=True):
        assert (item.state, item.resumed_from, item.restarted) == ("replaced", 0, False)
        installed = on_host(standalone, file.name)
        assert isinstance(installed, FakeContentFile)
        assert content_sha256(installed) == file.sha256 == item.host_sha256
        assert installed.iso_version == "2.6.1"
    version = on_host(standalone, "version")
    assert isinstance(version, FakeContentFile)
    assert version.written > max(on_host(standalone, file.name).written for file in files)  # type: ignore[union-attr]
    assert [op.operation for op in standalone.server.received_operations()][-1] == "install_uploads"


def test_a_second_run_sends_nothing(hv: HyperVClient, isos: BuiltIsos) -> None:
    upload_library(hv, local(isos), version=isos.version)
    again = upload_library(hv, local(isos), version=isos.version)
    assert again.checksums_ok
    assert (again.bytes_sent, again.chunks, again.version_written) == (0, 0, False)
    assert [item.state for item in again.files] == ["unchanged", "unchanged"]


def test_an_interrupted_upload_resumes_from_what_the_host_verifiably_holds(
    hv: HyperVClient, connect: Callable[..., object], standalone: LabHost, isos: BuiltIsos
) -> None:
    faults = standalone.server.faults

    def host_goes_away(name: str, held: int, size: int) -> None:
        if name == "LinuxProvisioning.iso" and held == 2 * CHUNK:
            faults.update({"refuse_connections": True})

    with pytest.raises(HostUnreachable):
        upload_library(hv, local(isos), version=isos.version, chunk_size=CHUNK, attempts=1, on_chunk=host_goes_away)
    faults.update({"refuse_connections": False})
    assert announced(standalone) == "2.5.0"  # nothing announced: the ISOs are not in place
    partial = on_host(standalone, "LinuxProvisioning.iso.partial")
    assert partial is not None and partial.size == 2 * CHUNK

    with connect("hv03") as fresh:  # a new run, a new connection
        report = upload_library(fresh, local(isos), version=isos.version, chunk_size=CHUNK)  # type: ignore[arg-type]

    linux, windows = report.files
    assert (linux.resumed_from, linux.restarted, linux.bytes_sent) == (2 * CHUNK, False, linux.size - 2 * CHUNK)
    assert (windows.resumed_from, windows.bytes_sent) == (0, windows.size)
    assert report.checksums_ok and announced(standalone) == "2.6.1"


def test_a_host_that_comes_back_within_the_attempts_is_resumed_in_the_same_run(
    hv: HyperVClient, standalone: LabHost, isos: BuiltIsos
) -> None:
    faults = standalone.server.faults
    waits: list[float] = []

    def host_goes_away(name: str, held: int, size: int) -> None:
        if name == "WindowsProvisioning.iso" and held == CHUNK:
            faults.update({"refuse_connections": True})

    def wait(seconds: float) -> None:
        waits.append(seconds)
        faults.update({"refuse_connections": False})

    report = upload_library(
        hv, local(isos), version=isos.version, chunk_size=CHUNK, on_chunk=host_goes_away, sleep=wait, retry_delay=2
    )
    assert report.checksums_ok and report.retries == 1 and waits == [2]
    assert report.bytes_sent == sum(file.size for file in local(isos))  # no chunk sent twice


def test_an_earlier_upload_that_does_not_match_is_started_over(
    hv: HyperVClient, standalone: LabHost, isos: BuiltIsos
) -> None:
    data = isos.linux.read_bytes()
    for offset in range(0, 3 * CHUNK, CHUNK):
        hv.upload_chunk("LinuxProvisioning.iso", offset, data[offset : offset + CHUNK], size=len(data))
    partial = on_host(standalone, "LinuxProvisioning.iso.partial")
    assert isinstance(partial, FakeContentFile)
    partial.data[40_000] ^= 0x20  # damaged on the host's disk since

    report = upload_library(hv, local(isos), version=isos.version, chunk_size=CHUNK)

    linux = report.files[0]
    assert (linux.resumed_from, linux.restarted, linux.bytes_sent) == (0, True, linux.size)
    assert report.checksums_ok


def test_an_upload_damaged_on_the_host_before_the_install_is_detected_and_sent_again(
    hv: HyperVClient, standalone: LabHost, isos: BuiltIsos
) -> None:
    damaged: list[str] = []

    def damage_once(name: str, held: int, size: int) -> None:
        if name == "WindowsProvisioning.iso" and held == size and not damaged:
            partial = on_host(standalone, name + ".partial")
            assert isinstance(partial, FakeContentFile)
            partial.data[size // 2] ^= 0x01
            damaged.append(name)

    report = upload_library(hv, local(isos), version=isos.version, chunk_size=CHUNK, on_chunk=damage_once)

    linux, windows = report.files
    assert damaged == ["WindowsProvisioning.iso"]
    assert (windows.restarted, windows.bytes_sent) == (True, 2 * windows.size)
    assert linux.bytes_sent == linux.size
    assert report.checksums_ok and announced(standalone) == "2.6.1"
    installs = standalone.server.received_operations("install_uploads")
    assert len(installs) == 2  # the first one found the damage and replaced nothing


def test_an_iso_in_use_stops_the_upload_then_the_next_run_only_installs(
    hv: HyperVClient, standalone: LabHost, isos: BuiltIsos
) -> None:
    model = standalone.model
    vm = sorted(model.vms.values(), key=lambda item: item.name)[0]
    vm.set_state("Running")
    model.add_dvd(vm, f"{INSTALL}\\LinuxProvisioning.iso")

    with pytest.raises(InvalidVmState, match=f"LinuxProvisioning.iso is in a DVD drive of {vm.name} \\(Running\\)"):
        upload_library(hv, local(isos), version=isos.version)
    assert announced(standalone) == "2.5.0"
    assert not isinstance(on_host(standalone, "LinuxProvisioning.iso"), FakeContentFile)

    vm.turn_off()
    report = upload_library(hv, local(isos), version=isos.version)
    assert report.checksums_ok and report.bytes_sent == 0  # the verified uploads were kept
    assert [item.resumed_from for item in report.files] == [file.size for file in local(isos)]
    assert report.files[0].attached_vms == [vm.name]


def test_the_next_create_uses_the_uploaded_iso(hv: HyperVClient, standalone: LabHost, isos: BuiltIsos) -> None:
    upload_library(hv, local(isos), version=isos.version)
    disk = hv.prepare_disk(PrepareDiskSpec(vm_name="up01", job_id="job-up", image_name="Ubuntu 24.04 LTS"))
    spec = {"name": "up01", "job_id": "job-up", "disk_path": disk.path, "cpu_count": 2, "memory_gb": 2}
    vm = hv.create_vm(CreateVmSpec.model_validate({**spec, "os_family": "linux", "switch_name": "External"}))
    iso = standalone.model.vm(vm.id).provisioning_iso()
    assert isinstance(iso, FakeContentFile)  # the VM's own copy of the uploaded ISO
    assert content_sha256(iso) == hashlib.sha256(isos.linux.read_bytes()).hexdigest()
    assert iso.iso_version == "2.6.1" == hv.list_isos().version


def test_every_allowed_chunk_fits_the_bootstrap_envelope() -> None:
    assert chunk_envelope_size(MAX_CHUNK_SIZE) < MAX_STDIN_ENVELOPE
    assert chunk_envelope_size(DEFAULT_CHUNK_SIZE) < MAX_STDIN_ENVELOPE * 0.7
    assert chunk_envelope_size(MAX_CHUNK_SIZE + 128 * 1024) > MAX_STDIN_ENVELOPE  # the bound is not loose


def test_chunk_sizes_outside_the_bounds_are_refused(hv: HyperVClient, tmp_path: Path) -> None:
    path = tmp_path / "Small.iso"
    path.write_bytes(b"x" * 10)
    with pytest.raises(ValueError, match="chunk_size"):
        upload_library(hv, [LocalFile.from_path(path)], chunk_size=MAX_CHUNK_SIZE + 1)
    empty = tmp_path / "Empty.iso"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="is empty"):
        LocalFile.from_path(empty)
