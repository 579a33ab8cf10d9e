"""Provisioning ISOs uploaded with ``python -m tools.isobuild upload`` are what the next Linux create boots.

hvsim runs the project's real Linux agent, which reads its version from the ISO the VM booted (an uploaded ISO
carries its own ``/aetherv/version``) and refuses a host that announces another one: a create that succeeds after
the upload shows the host announced the uploaded version and the guest ran the uploaded ISO.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_vm_workflows import create, finished, linux
from tools.hvsim.lab import Lab
from tools.hvsim.models import FakeFile
from tools.hvsim.models.library import FakeContentFile, content_sha256
from tools.isobuild import build_all
from tools.isobuild.upload import main as upload
from tools.stack import Stack

HOST = "hv03"
INSTALL = "C:\\Program Files\\Aether-V"
LIBRARY = ("LinuxProvisioning.iso", "WindowsProvisioning.iso", "version")


def lab_settings(lab: Lab) -> dict[str, str]:
    return {
        "AETHERV_HOSTS": lab.aetherv_hosts,
        "AETHERV_HOST_ADDRESSES": ",".join(f"{name}={address}" for name, address in lab.addresses.items()),
        "AETHERV_WINRM_USERNAME": lab.username,
        "AETHERV_WINRM_PASSWORD": lab.password,
        "AETHERV_WINRM_CA_BUNDLE": str(lab.ca.ca_pem_path),
    }


@pytest.fixture
def uploaded(stack: Stack, tmp_path: Path) -> Iterator[Path]:
    """ISOs of version 2.6.1 uploaded to hv03 with the command; the host's library is put back afterwards."""
    model = stack.lab.host(HOST).model
    before: dict[str, FakeFile | None] = {name: model.fs.get(f"{INSTALL}\\{name}") for name in LIBRARY}
    dist = tmp_path / "dist"
    build_all(dist, version="2.6.1")
    out = io.StringIO()
    code = upload(["--host", HOST, "--dist", str(dist)], environ=lab_settings(stack.lab), local_settings=None, out=out)
    assert code == 0, out.getvalue()
    assert "checksums ok; version 2.6.1 written" in out.getvalue()
    try:
        yield dist
    finally:
        for name, file in before.items():
            model.fs.remove(f"{INSTALL}\\{name}")
            if file is not None:
                model.fs.write(file)


def test_a_linux_create_after_the_upload_runs_the_uploaded_iso(stack: Stack, uploaded: Path) -> None:
    job = finished(stack, create(stack, linux("upload-e2e01", host=HOST)).job["id"])["job"]

    assert job["status"] == "Succeeded", job
    assert str(job["result"]["guest_agent"]).startswith("aetherv-linux/")
    vm = stack.lab.host(HOST).model.vms[job["result"]["vm_id"]]
    assert vm.guest is not None and vm.guest.agent is not None
    assert vm.guest.agent.iso_version == "2.6.1"  # type: ignore[union-attr]  # what the booted ISO carries
    assert vm.guest.agent.applied.hostname == "upload-e2e01"  # type: ignore[union-attr]
    copy = vm.provisioning_iso()
    if copy is not None:  # the VM's own copy, until the workflow ejects it
        assert isinstance(copy, FakeContentFile)
        assert content_sha256(copy) in (uploaded / "SHA256SUMS").read_text()


def test_the_agent_on_the_uploaded_iso_refuses_a_host_announcing_another_version(stack: Stack, uploaded: Path) -> None:
    version = stack.lab.host(HOST).model.fs.get(f"{INSTALL}\\version")
    assert version is not None
    version.text = "2.5.0\r\n"  # the ISOs stay 2.6.1: a library out of step, as an upload that skipped `version`

    job = finished(stack, create(stack, linux("upload-e2e02", host=HOST)).job["id"])["job"]

    assert job["status"] == "Failed", job
    # the Linux agent's version check (check_version) fails with this summary, before it publishes a key
    assert job["error"] == {
        "category": "GuestProvisioningFailed",
        "message": "the guest reported: error validating:manifest",
        "transient": False,
    }
