"""The provisioning library's host operations through the real client stack, checked on hvsim's own files.

``upload_status``, ``upload_chunk`` and ``install_uploads`` with the real ISOs ``tools.isobuild`` builds: chunks are
checked against their SHA-256 on the host, repeated chunks change nothing, the host hashes each upload before it
replaces anything, an ISO in use by a VM that is not Off is never replaced, and ``version`` is written last.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from functions.hyperv.client import HyperVClient
from functions.hyperv.errors import InvalidParameters, InvalidVmState
from functions.hyperv.library import LibraryFile
from tools.hvsim.lab import LabHost
from tools.hvsim.models import FakeFile, FakeHost
from tools.hvsim.models.library import FakeContentFile, FileInUseError, content_sha256, replace_file
from tools.isobuild import BuiltIsos

INSTALL = "C:\\Program Files\\Aether-V"
LINUX = "LinuxProvisioning.iso"
WINDOWS = "WindowsProvisioning.iso"
CHUNK = 48 * 1024


def library_file(path: Path) -> LibraryFile:
    data = path.read_bytes()
    return LibraryFile(name=path.name, size=len(data), sha256=hashlib.sha256(data).hexdigest())


def send(hv: HyperVClient, path: Path, *, upto: int | None = None, chunk: int = CHUNK) -> int:
    """Send ``path`` in chunks (up to ``upto`` bytes) and return the length the host's upload has."""
    data = path.read_bytes()
    end = len(data) if upto is None else upto
    held = 0
    for offset in range(0, end, chunk):
        held = hv.upload_chunk(path.name, offset, data[offset : min(offset + chunk, end)], size=len(data)).partial_bytes
    return held


def on_host(host: LabHost, name: str) -> FakeFile | None:
    return host.model.fs.get(f"{INSTALL}\\{name}")


def version_file(host: LabHost) -> FakeFile:
    file = on_host(host, "version")
    assert file is not None
    return file


def running_vm_with(model: FakeHost, path: str, state: str = "Running") -> str:
    vm = sorted(model.vms.values(), key=lambda item: item.name)[0]
    vm.set_state(state)
    model.add_dvd(vm, path)
    return vm.name


@pytest.fixture
def isos(provisioning_isos: Callable[[str], BuiltIsos]) -> BuiltIsos:
    return provisioning_isos("2.6.1")


def test_status_of_a_seeded_library_shows_no_upload(hv: HyperVClient, isos: BuiltIsos) -> None:
    status = hv.upload_status(LINUX, isos.linux.stat().st_size)
    assert status.path == f"{INSTALL}\\{LINUX}"
    assert status.partial_path == f"{INSTALL}\\{LINUX}.partial"
    assert status.installed_bytes == 48 * 1024**2  # the seeded ISO
    assert status.installed_sha256 is None  # another length: not even hashed
    assert (status.partial_bytes, status.partial_sha256) == (0, None)


def test_chunks_install_and_the_host_holds_the_bytes_with_their_version(
    hv: HyperVClient, standalone: LabHost, isos: BuiltIsos
) -> None:
    for path in (isos.linux, isos.windows):
        assert send(hv, path) == path.stat().st_size
    partial = on_host(standalone, f"{LINUX}.partial")
    assert isinstance(partial, FakeContentFile)
    assert bytes(partial.data) == isos.linux.read_bytes()

    result = hv.install_uploads([library_file(isos.linux), library_file(isos.windows)], version="2.6.1")

    assert result.installed and result.version_written
    assert result.version == "2.6.1"
    assert [(item.name, item.state) for item in result.files] == [(LINUX, "replaced"), (WINDOWS, "replaced")]
    for path in (isos.linux, isos.windows):
        installed = on_host(standalone, path.name)
        assert isinstance(installed, FakeContentFile)
        assert installed.size == path.stat().st_size
        assert content_sha256(installed) == hashlib.sha256(path.read_bytes()).hexdigest()
        assert result.file(path.name) is not None and result.file(path.name).sha256 == content_sha256(installed)  # type: ignore[union-attr]
        assert installed.iso_version == "2.6.1"  # read from the ISO's own /aetherv/version
        assert on_host(standalone, path.name + ".partial") is None
    assert (version_file(standalone).text or "").strip() == "2.6.1"
    library = hv.list_isos()
    assert library.version == "2.6.1"
    assert {iso.path for iso in library.isos} == {f"{INSTALL}\\{LINUX}", f"{INSTALL}\\{WINDOWS}"}


def test_the_version_is_written_after_every_iso(hv: HyperVClient, standalone: LabHost, isos: BuiltIsos) -> None:
    send(hv, isos.linux)
    send(hv, isos.windows)
    hv.install_uploads([library_file(isos.linux), library_file(isos.windows)], version="2.6.1")
    version = version_file(standalone)
    linux, windows = on_host(standalone, LINUX), on_host(standalone, WINDOWS)
    assert isinstance(version, FakeContentFile)
    assert isinstance(linux, FakeContentFile) and isinstance(windows, FakeContentFile)
    assert version.written > max(linux.written, windows.written)


def test_a_repeated_chunk_changes_nothing(hv: HyperVClient, standalone: LabHost, isos: BuiltIsos) -> None:
    data = isos.linux.read_bytes()
    size = len(data)
    first = hv.upload_chunk(LINUX, 0, data[:CHUNK], size=size)
    second = hv.upload_chunk(LINUX, CHUNK, data[CHUNK : 2 * CHUNK], size=size)
    again = hv.upload_chunk(LINUX, CHUNK, data[CHUNK : 2 * CHUNK], size=size)  # a retried activity
    again_first = hv.upload_chunk(LINUX, 0, data[:CHUNK], size=size)
    assert (first.written, second.written) == (CHUNK, CHUNK)
    assert (again.partial_bytes, again.written) == (2 * CHUNK, 0)
    assert (again_first.partial_bytes, again_first.written) == (2 * CHUNK, 0)
    partial = on_host(standalone, f"{LINUX}.partial")
    assert isinstance(partial, FakeContentFile) and bytes(partial.data) == data[: 2 * CHUNK]


def test_a_chunk_cut_short_is_completed(hv: HyperVClient, standalone: LabHost, isos: BuiltIsos) -> None:
    data = isos.linux.read_bytes()
    hv.upload_chunk(LINUX, 0, data[:1000], size=len(data))  # an interrupted write left part of the chunk
    written = hv.upload_chunk(LINUX, 0, data[:CHUNK], size=len(data))
    assert (written.partial_bytes, written.written) == (CHUNK, CHUNK - 1000)


def test_a_damaged_chunk_is_refused_and_nothing_is_written(
    hv: HyperVClient, standalone: LabHost, isos: BuiltIsos
) -> None:
    data = isos.linux.read_bytes()
    send(hv, isos.linux, upto=CHUNK)
    chunk = bytearray(data[CHUNK : 2 * CHUNK])
    chunk[100] ^= 0x01  # one bit flipped between reading and sending
    with pytest.raises(InvalidParameters, match="offset 49152 arrived damaged") as info:
        hv.upload_chunk(
            LINUX, CHUNK, bytes(chunk), size=len(data), sha256=hashlib.sha256(data[CHUNK : 2 * CHUNK]).hexdigest()
        )
    assert "nothing was written" in str(info.value)
    partial = on_host(standalone, f"{LINUX}.partial")
    assert isinstance(partial, FakeContentFile) and partial.size == CHUNK
    assert hv.upload_status(LINUX, len(data)).partial_sha256 == hashlib.sha256(data[:CHUNK]).hexdigest()


def test_bytes_that_differ_gaps_and_overruns_are_refused(
    hv: HyperVClient, isos: BuiltIsos, standalone: LabHost
) -> None:
    data = isos.linux.read_bytes()
    size = len(data)
    send(hv, isos.linux, upto=CHUNK)
    with pytest.raises(InvalidParameters, match="holds other bytes at offset 0"):
        hv.upload_chunk(LINUX, 0, isos.windows.read_bytes()[:CHUNK], size=size)
    with pytest.raises(InvalidParameters, match="holds 49152 bytes; a chunk at offset 98304 would leave a gap"):
        hv.upload_chunk(LINUX, 2 * CHUNK, data[2 * CHUNK : 3 * CHUNK], size=size)
    with pytest.raises(InvalidParameters, match="overruns"):
        hv.upload_chunk(LINUX, size - 10, data[-10:] + b"x", size=size)
    with pytest.raises(InvalidParameters, match=r"is not an \.iso file name"):
        hv.upload_chunk("..\\..\\Windows\\evil.iso", 0, b"x", size=1)
    with pytest.raises(InvalidParameters, match=r"is not an \.iso file name"):
        hv.upload_status("version", 6)
    partial = on_host(standalone, f"{LINUX}.partial")
    assert isinstance(partial, FakeContentFile) and bytes(partial.data) == data[:CHUNK]


def test_restart_starts_the_upload_over(hv: HyperVClient, standalone: LabHost, isos: BuiltIsos) -> None:
    other = isos.windows.read_bytes()
    hv.upload_chunk(LINUX, 0, other[: 2 * CHUNK], size=len(other))  # another file's bytes under this name
    data = isos.linux.read_bytes()
    written = hv.upload_chunk(LINUX, 0, data[:CHUNK], size=len(data), restart=True)
    assert (written.partial_bytes, written.written) == (CHUNK, CHUNK)
    again = hv.upload_chunk(LINUX, 0, data[:CHUNK], size=len(data), restart=True)  # the restart, retried
    assert again.partial_bytes == CHUNK


def test_an_upload_damaged_on_the_host_is_found_deleted_and_nothing_changes(
    hv: HyperVClient, standalone: LabHost, isos: BuiltIsos
) -> None:
    send(hv, isos.linux)
    send(hv, isos.windows)
    partial = on_host(standalone, f"{WINDOWS}.partial")
    assert isinstance(partial, FakeContentFile)
    partial.data[5000] ^= 0xFF  # the disk changed a byte after it was written
    before_linux = on_host(standalone, LINUX)

    result = hv.install_uploads([library_file(isos.linux), library_file(isos.windows)], version="2.6.1")

    assert not result.installed and not result.version_written
    assert {item.name: item.state for item in result.files} == {LINUX: "verified", WINDOWS: "mismatch"}
    assert result.file(WINDOWS).sha256 == hashlib.sha256(bytes(partial.data)).hexdigest()  # type: ignore[union-attr]
    assert on_host(standalone, f"{WINDOWS}.partial") is None  # deleted: the next upload starts over
    assert on_host(standalone, f"{LINUX}.partial") is not None  # kept: verified
    assert on_host(standalone, LINUX) is before_linux  # nothing replaced
    assert result.version == "2.5.0" and (version_file(standalone).text or "").strip() == "2.5.0"


def test_an_incomplete_upload_is_kept_for_resuming(hv: HyperVClient, standalone: LabHost, isos: BuiltIsos) -> None:
    send(hv, isos.linux, upto=CHUNK)
    result = hv.install_uploads([library_file(isos.linux)])
    assert not result.installed
    assert result.files[0].state == "incomplete"
    assert on_host(standalone, f"{LINUX}.partial") is not None


def test_an_iso_in_use_by_a_running_vm_is_never_replaced(
    hv: HyperVClient, standalone: LabHost, isos: BuiltIsos
) -> None:
    model = standalone.model
    vm_name = running_vm_with(model, f"{INSTALL}\\{LINUX}")
    send(hv, isos.linux)
    send(hv, isos.windows)
    seeded = on_host(standalone, LINUX)

    with pytest.raises(InvalidVmState) as info:
        hv.install_uploads([library_file(isos.linux), library_file(isos.windows)], version="2.6.1")

    message = str(info.value)
    assert f"{LINUX} is in a DVD drive of {vm_name} (Running)" in message
    assert "nothing was replaced or announced" in message
    assert on_host(standalone, LINUX) is seeded
    assert not isinstance(on_host(standalone, WINDOWS), FakeContentFile)  # the other ISO was not replaced either
    assert (version_file(standalone).text or "").strip() == "2.5.0"
    assert on_host(standalone, f"{LINUX}.partial") is not None  # the verified uploads stay

    model.vms_named(vm_name)[0].turn_off()  # or eject the DVD: then the same install goes through
    result = hv.install_uploads([library_file(isos.linux), library_file(isos.windows)], version="2.6.1")
    assert result.installed and result.version == "2.6.1"
    assert result.file(LINUX).attached_vms == [vm_name]  # type: ignore[union-attr]  # Off: it boots the new ISO


@pytest.mark.parametrize("state", ["Saved", "Paused"])
def test_an_iso_held_by_a_saved_or_paused_vm_is_not_replaced_either(
    hv: HyperVClient, standalone: LabHost, isos: BuiltIsos, state: str
) -> None:
    vm_name = running_vm_with(standalone.model, f"{INSTALL}\\{LINUX}", state)
    send(hv, isos.linux)
    with pytest.raises(InvalidVmState, match=f"{vm_name} \\({state}\\)"):
        hv.install_uploads([library_file(isos.linux)])


def test_windows_refuses_to_replace_a_file_a_running_vm_holds_open(standalone: LabHost) -> None:
    model = standalone.model
    target = f"{INSTALL}\\{LINUX}"
    running_vm_with(model, target)
    model.fs.write(FakeContentFile(path=target + ".partial", size=0, data=bytearray(b"new")))
    with pytest.raises(FileInUseError, match="being used by another process"):
        replace_file(model, target + ".partial", FakeContentFile(path=target, size=0, data=bytearray(b"new")))


def test_a_version_needs_every_provisioning_iso(hv: HyperVClient, standalone: LabHost, isos: BuiltIsos) -> None:
    send(hv, isos.linux)
    with pytest.raises(InvalidParameters, match=f"{WINDOWS} is not among the files"):
        hv.install_uploads([library_file(isos.linux)], version="2.6.1")
    with pytest.raises(InvalidParameters, match="version must be"):
        hv.install_uploads([library_file(isos.linux), library_file(isos.windows)], version="2.6.1; evil")
    assert (version_file(standalone).text or "").strip() == "2.5.0"
    result = hv.install_uploads([library_file(isos.linux)])  # without a version: only the ISO
    assert result.installed and not result.version_written and result.version == "2.5.0"


def test_install_is_repeatable(hv: HyperVClient, isos: BuiltIsos) -> None:
    send(hv, isos.linux)
    send(hv, isos.windows)
    files = [library_file(isos.linux), library_file(isos.windows)]
    hv.install_uploads(files, version="2.6.1")
    again = hv.install_uploads(files, version="2.6.1")
    assert again.installed and not again.version_written
    assert [item.state for item in again.files] == ["unchanged", "unchanged"]
    status = hv.upload_status(LINUX, isos.linux.stat().st_size)
    assert status.installed_sha256 == files[0].sha256
