"""The provisioning ISOs: built with pycdlib, read back with pycdlib, deterministic, stamped with the version."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pycdlib
import pytest
import yaml

from tools.isobuild import LINUX_LABEL, WINDOWS_LABEL, build_all, embedded_version, read_version
from tools.isobuild.__main__ import main
from tools.isobuild.builder import iso9660_name

REPO = Path(__file__).resolve().parents[2]
AGENTS = REPO / "agents"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("isos")
    build_all(output, version="9.8.7")
    return output


def _open(path: Path) -> pycdlib.PyCdlib:
    iso = pycdlib.PyCdlib()
    iso.open(str(path))
    return iso


def _read(iso: pycdlib.PyCdlib, **path: str) -> bytes:
    out = io.BytesIO()
    iso.get_file_from_iso_fp(out, **path)
    return out.getvalue()


def _names(iso: pycdlib.PyCdlib, **path: str) -> set[str]:
    names = set()
    for record in iso.list_children(**path):
        if record.is_dot() or record.is_dotdot():
            continue
        if "rr_path" in path:
            names.add(record.rock_ridge.name().decode())
        else:
            names.add(record.file_identifier().decode("utf-16-be"))
    return names


def test_linux_iso_is_a_nocloud_seed(built: Path) -> None:
    iso = _open(built / "LinuxProvisioning.iso")
    try:
        assert iso.pvd.volume_identifier.decode().strip() == LINUX_LABEL
        assert _names(iso, rr_path="/") == {"meta-data", "user-data", "aetherv"}
        assert _names(iso, joliet_path="/aetherv") == {"aetherv-guest-agent", "aetherv-guest-agent.service", "version"}
        meta = yaml.safe_load(_read(iso, rr_path="/meta-data"))
        assert meta == {"instance-id": "aetherv-provisioning-9.8.7", "local-hostname": "aetherv-guest"}
        user_data_text = _read(iso, rr_path="/user-data")
        assert user_data_text.startswith(b"#cloud-config\n")
        user_data = yaml.safe_load(user_data_text)
        files = {entry["path"]: entry for entry in user_data["write_files"]}
        agent = (AGENTS / "linux/aetherv-guest-agent").read_bytes()
        unit = (AGENTS / "linux/aetherv-guest-agent.service").read_bytes()
        assert base64.b64decode(files["/usr/local/sbin/aetherv-guest-agent"]["content"]) == agent
        assert files["/usr/local/sbin/aetherv-guest-agent"]["permissions"] == "0755"
        assert base64.b64decode(files["/etc/systemd/system/aetherv-guest-agent.service"]["content"]) == unit
        assert base64.b64decode(files["/var/lib/aetherv/version"]["content"]) == b"9.8.7\n"
        assert user_data["runcmd"] == [
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", "aetherv-guest-agent.service"],
        ]
        assert _read(iso, rr_path="/aetherv/aetherv-guest-agent") == agent
        assert _read(iso, joliet_path="/aetherv/version") == b"9.8.7\n"
        record = iso.get_record(rr_path="/aetherv/aetherv-guest-agent")
        assert record.rock_ridge.get_file_mode() == 0o100755
    finally:
        iso.close()


def test_windows_iso_holds_the_agent_installer_and_answer_file(built: Path) -> None:
    iso = _open(built / "WindowsProvisioning.iso")
    try:
        assert iso.pvd.volume_identifier.decode().strip() == WINDOWS_LABEL
        assert _names(iso, joliet_path="/") == {"autounattend.xml", "unattend.xml", "version", "aetherv"}
        assert _names(iso, joliet_path="/aetherv") == {
            "AetherVGuestAgent.ps1",
            "Install-AetherVGuestAgent.ps1",
            "SetupComplete.cmd",
            "version",
        }
        for name in ("AetherVGuestAgent.ps1", "Install-AetherVGuestAgent.ps1", "SetupComplete.cmd"):
            assert _read(iso, joliet_path=f"/aetherv/{name}") == (AGENTS / "windows" / name).read_bytes()
        unattend = (AGENTS / "windows/unattend.xml").read_bytes()
        assert _read(iso, joliet_path="/autounattend.xml") == unattend
        assert _read(iso, joliet_path="/unattend.xml") == unattend
        assert _read(iso, joliet_path="/version") == b"9.8.7\r\n"
        assert _read(iso, joliet_path="/aetherv/version") == b"9.8.7\r\n"
    finally:
        iso.close()


def test_outputs_next_to_the_isos(built: Path) -> None:
    assert (built / "version").read_text() == "9.8.7\n"
    sums = dict(reversed(line.split("  ")) for line in (built / "SHA256SUMS").read_text().splitlines())
    for name in ("LinuxProvisioning.iso", "WindowsProvisioning.iso"):
        assert sums[name] == hashlib.sha256((built / name).read_bytes()).hexdigest()


def test_the_version_an_iso_carries_is_read_back(built: Path) -> None:
    for name in ("LinuxProvisioning.iso", "WindowsProvisioning.iso"):
        assert embedded_version((built / name).read_bytes()) == "9.8.7"
    assert embedded_version(b"\0" * 40_000) is None
    assert embedded_version(b"not an ISO") is None


def test_builds_are_deterministic_across_runs_and_time_zones(built: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    build_all(again, version="9.8.7")
    zoned = tmp_path / "zoned"
    env = dict(os.environ, TZ="Pacific/Chatham")
    args = [sys.executable, "-m", "tools.isobuild", "--output", str(zoned), "--version", "9.8.7"]
    subprocess.run(args, cwd=REPO, env=env, check=True, capture_output=True)
    for name in ("LinuxProvisioning.iso", "WindowsProvisioning.iso"):
        first = (built / name).read_bytes()
        assert (again / name).read_bytes() == first
        assert (zoned / name).read_bytes() == first
    other_epoch = tmp_path / "epoch"
    build_all(other_epoch, version="9.8.7", source_date_epoch=1_700_000_000)
    assert (other_epoch / "LinuxProvisioning.iso").read_bytes() != (built / "LinuxProvisioning.iso").read_bytes()


def test_default_version_is_the_agents_version_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert read_version() == (AGENTS / "version").read_text().strip()
    assert main(["--output", str(tmp_path)]) == 0
    assert (tmp_path / "version").read_text() == read_version() + "\n"
    assert f"provisioning version {read_version()}" in capsys.readouterr().out
    iso = _open(tmp_path / "LinuxProvisioning.iso")
    try:
        assert _read(iso, rr_path="/aetherv/version") == (read_version() + "\n").encode()
    finally:
        iso.close()


def test_bad_version_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--output", str(tmp_path), "--version", "two words"]) == 1
    assert "version" in capsys.readouterr().err
    assert not (tmp_path / "LinuxProvisioning.iso").exists()


@pytest.mark.parametrize(
    ("name", "directory", "expected"),
    [
        ("meta-data", False, "META_DATA.;1"),
        ("aetherv-guest-agent.service", False, "AETHERV_GUEST_AGENT.SERVIC;1"),
        ("AetherVGuestAgent.ps1", False, "AETHERVGUESTAGENT.PS1;1"),
        ("aetherv", True, "AETHERV"),
    ],
)
def test_iso9660_names(name: str, directory: bool, expected: str) -> None:
    assert iso9660_name(name, directory=directory) == expected
