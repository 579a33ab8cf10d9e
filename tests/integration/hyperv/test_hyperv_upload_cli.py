"""``python -m tools.isobuild upload`` against a simulated lab, with the app's settings, checked on hvsim's files."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tools.hvsim.lab import Lab
from tools.hvsim.models.library import FakeContentFile, content_sha256
from tools.isobuild import BuiltIsos
from tools.isobuild.upload import main

REPO = Path(__file__).resolve().parents[3]
INSTALL = "C:\\Program Files\\Aether-V"


def lab_settings(lab: Lab) -> dict[str, str]:
    """The app's settings for the lab, as an operator would export them."""
    return {
        "AETHERV_HOSTS": lab.aetherv_hosts,
        "AETHERV_HOST_ADDRESSES": ",".join(f"{name}={address}" for name, address in lab.addresses.items()),
        "AETHERV_WINRM_USERNAME": lab.username,
        "AETHERV_WINRM_PASSWORD": lab.password,
        "AETHERV_WINRM_CA_BUNDLE": str(lab.ca.ca_pem_path),
    }


def run(lab: Lab, *args: str, settings: dict[str, str] | None = None) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(args), environ=settings or lab_settings(lab), local_settings=None, out=out)
    return code, out.getvalue()


@pytest.fixture
def dist(provisioning_isos: Callable[[str], BuiltIsos]) -> Path:
    return provisioning_isos("2.6.1").linux.parent


def test_upload_to_every_host(lab: Lab, dist: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, output = run(lab, "--all", "--dist", str(dist), "--chunk-size", "64")

    assert code == 0, output
    linux = (dist / "LinuxProvisioning.iso").read_bytes()
    for host in lab.hosts:
        assert f"{host.name}: sent {len(linux) + (dist / 'WindowsProvisioning.iso').stat().st_size} bytes" in output
        installed = host.model.fs.get(f"{INSTALL}\\LinuxProvisioning.iso")
        assert isinstance(installed, FakeContentFile) and installed.data == linux
        assert installed.iso_version == "2.6.1"
        version = host.model.fs.get(f"{INSTALL}\\version")
        assert version is not None and (version.text or "").strip() == "2.6.1"
    assert output.count("checksums ok; version 2.6.1 written") == 3
    assert "LinuxProvisioning.iso (141312 bytes): 141312 bytes sent in 3 chunk(s)" in output
    assert lab.password not in output + capsys.readouterr().err

    again, output = run(lab, "--host", "hv02", "--dist", str(dist))
    assert again == 0
    assert "hv02: sent 0 bytes in 0 chunk(s)" in output and "announces 2.6.1" in output
    assert output.count("already installed; sha256 on the host") == 2


def test_a_host_that_fails_is_reported_and_the_others_are_done(lab: Lab, dist: Path) -> None:
    model = lab.host("hv03").model
    vm = sorted(model.vms.values(), key=lambda item: item.name)[0]
    vm.set_state("Running")
    model.add_dvd(vm, f"{INSTALL}\\WindowsProvisioning.iso")
    lab.host("hv01").server.faults.update({"refuse_connections": True})

    code, output = run(lab, "--all", "--dist", str(dist))

    assert code == 1
    assert "hv01: FAILED (HostUnreachable)" in output
    assert f"hv03: FAILED (InvalidVmState): WindowsProvisioning.iso is in a DVD drive of {vm.name} (Running)" in output
    assert "hv02: sent" in output and "version 2.6.1 written" in output
    assert "2 of 3 host(s) failed; run the command again to resume" in output

    lab.host("hv01").server.faults.update({"refuse_connections": False})
    vm.turn_off()
    code, output = run(lab, "--all", "--dist", str(dist))
    assert code == 0, output
    assert "hv03: sent 0 bytes" in output  # its uploads were verified and kept; only the install was left
    assert f"in the DVD drive of VMs that are off (they boot the new ISO): {vm.name}" in output


def test_usage_settings_and_build_problems_send_nothing(lab: Lab, dist: Path, tmp_path: Path) -> None:
    code, _ = run(lab, "--host", "hv09", "--dist", str(dist))
    assert code == 2
    settings = lab_settings(lab)
    del settings["AETHERV_WINRM_USERNAME"]
    assert run(lab, "--all", "--dist", str(dist), settings=settings)[0] == 2
    broken = tmp_path / "dist"
    shutil.copytree(dist, broken)
    (broken / "version").write_text("2.6.2\n", encoding="ascii")
    assert run(lab, "--all", "--dist", str(broken))[0] == 2  # the ISOs carry 2.6.1
    (broken / "version").write_text("2.6.1\n", encoding="ascii")
    (broken / "SHA256SUMS").write_text("0" * 64 + "  LinuxProvisioning.iso\n", encoding="ascii")
    assert run(lab, "--all", "--dist", str(broken))[0] == 2
    assert run(lab, "--all", "--dist", str(tmp_path / "nothing"))[0] == 2
    assert run(lab, "--all", "--dist", str(dist), "--chunk-size", "4096")[0] == 2
    assert all(host.server.received_operations() == [] for host in lab.hosts)


def test_the_command_line(lab: Lab, dist: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AETHERV_")}
    env.update(lab_settings(lab))
    done = subprocess.run(
        [sys.executable, "-m", "tools.isobuild", "upload", "--host", "hv03", "--dist", str(dist)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "provisioning ISOs version 2.6.1" in done.stdout
    assert "hv03: sent 256000 bytes in 2 chunk(s)" in done.stdout
    assert lab.password not in done.stdout + done.stderr
    windows = lab.host("hv03").model.fs.get(f"{INSTALL}\\WindowsProvisioning.iso")
    assert windows is not None
    assert content_sha256(windows) in (dist / "SHA256SUMS").read_text()
