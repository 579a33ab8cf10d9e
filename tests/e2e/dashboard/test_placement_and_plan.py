"""The create form with automatic placement, and a running job's page naming every planned step, in Chromium.

The lab is made uneven for these tests: an image only on hv03 and a virtual switch only on hv01 (written into the
simulated hosts themselves, removed afterwards). The form starts at "Automatic placement", offers every host's
images and switches once, says where the uneven ones are, and refuses a pair no host has. A VM created with automatic
placement from the hv03-only image lands on hv03, and while it runs its page lists every planned step by name.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.dashboard.conftest import Ui
from tests.e2e.dashboard.test_dashboard import SSH_KEY, wait_job
from tools.hvsim.models.files import FakeFile
from tools.hvsim.models.network import FakeSwitch

ONLY_HV03_IMAGE = "Fedora 41"
ONLY_HV01_SWITCH = "Storage"
GB = 1024**3
# what a create from an image with guest settings and automatic placement plans, as the page names the steps
PLAN = [
    "Place",
    "Preflight",
    "Prepare disk",
    "Create VM",
    "Start",
    "Wait for key",
    "Publish",
    "Signal",
    "Wait for apply",
    "Eject ISO",
    "Refresh",
]


@pytest.fixture
def uneven_lab(ui: Ui) -> Iterator[Ui]:
    """An image only hv03 has and a switch only hv01 has, in the simulated hosts; removed afterwards."""
    backend = ui.stack.lab.backend
    hv03, hv01 = backend.host("hv03"), backend.host("hv01")
    image = FakeFile(
        f"C:\\Hyper-V\\DiskImages\\{ONLY_HV03_IMAGE}.vhdx",
        int(2.4 * GB),
        kind="vhdx",
        virtual_size=30 * GB,
        vhd_type="Dynamic",
        os_family="linux",
        os_name="Fedora Linux 41 (Server Edition)",
    )
    hv03.fs.write(image)
    switch = FakeSwitch(ONLY_HV01_SWITCH, "Private", "Storage network", "10.30.0")
    hv01.switches.append(switch)
    try:
        yield ui
    finally:
        hv01.switches.remove(switch)
        if hv03.fs.get(image.path) is not None:
            hv03.fs.remove(image.path)


def fill_guest(page: Any, name: str) -> None:
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Memory (GB)", exact=True).fill("2")
    page.get_by_label("Administrator user name", exact=True).fill("opsadmin")
    page.get_by_label("Administrator password", exact=True).fill("correct horse battery staple")
    page.get_by_label("Ansible SSH access", exact=True).check()
    page.get_by_label("SSH user", exact=True).fill("ansible")
    page.get_by_label("SSH public key", exact=True).fill(SSH_KEY)


def test_the_form_starts_at_automatic_placement_with_every_hosts_images_and_switches(uneven_lab: Ui) -> None:
    ui = uneven_lab
    page = ui.goto("/vms/new")
    host = page.get_by_label("Host", exact=True)
    expect(host).to_have_value("")
    expect(host.locator("option:checked")).to_have_text("Automatic placement")
    # every host's lists were asked for, not just the first host's
    for name in ("hv01", "hv02", "hv03"):
        assert any(f"/api/v1/hosts/{name}/images" in call for call in ui.api_calls), name
    image = page.get_by_label("Image", exact=True)
    expect(image.locator("optgroup[label='On every host'] option", has_text="Ubuntu 24.04 LTS")).to_have_count(1)
    expect(image.locator("option", has_text="Ubuntu 24.04 LTS")).not_to_contain_text("only on")
    partial = image.locator("optgroup[label='Only on some hosts'] option")
    expect(partial).to_have_text([re.compile(rf"^{ONLY_HV03_IMAGE} \(2\.4 GB\) — only on hv03$")])
    network = page.get_by_label("Virtual switch", exact=True)
    expect(network.locator("option", has_text=ONLY_HV01_SWITCH)).to_have_text(
        f"{ONLY_HV01_SWITCH} (Private) — only on hv01"
    )
    expect(network.locator("option", has_text="External")).to_have_text("External (External)")
    expect(page.locator("#f-image").locator("xpath=..").locator(".hint")).to_contain_text(
        "Listed from all 3 connected hosts; automatic placement picks one that has your choice."
    )
    expect(page.locator("#f-host").locator("xpath=..").locator(".hint")).to_contain_text("among all connected hosts")
    ui.shot("create-automatic-placement")

    # an image only hv03 has with a switch only hv01 has: no host can take it, and the form says so before sending
    image.select_option(label=f"{ONLY_HV03_IMAGE} (2.4 GB) — only on hv03")
    network.select_option(label=f"{ONLY_HV01_SWITCH} (Private) — only on hv01")
    expect(page.locator("#f-host").locator("xpath=..").locator(".hint")).to_have_text(
        "No connected host has both the chosen image and virtual switch."
    )
    fill_guest(page, "ui-auto00")
    page.get_by_role("button", name="Create VM").click()
    expect(page.locator("#f-network-error")).to_contain_text(
        f"Is not on any host that has the image {ONLY_HV03_IMAGE} (hv03)"
    )
    expect(page.get_by_label("Virtual switch", exact=True)).to_have_attribute("aria-invalid", "true")
    assert not [c for c in ui.api_calls if c.startswith("POST ")], "a pair no host has must not be sent"
    ui.shot("create-no-host-has-both")

    network.select_option("External")
    expect(page.locator("#f-host").locator("xpath=..").locator(".hint")).to_contain_text("among hv03")
    # a chosen host offers its own lists, unmarked; the chosen image stays when that host has it
    host.select_option("hv03")
    expect(image.locator("option", has_text=ONLY_HV03_IMAGE)).to_have_text(f"{ONLY_HV03_IMAGE} (2.4 GB)")
    expect(image).to_have_value(ONLY_HV03_IMAGE)
    expect(network.locator("option", has_text=ONLY_HV01_SWITCH)).to_have_count(0)
    host.select_option("hv01")
    expect(image.locator("option", has_text=ONLY_HV03_IMAGE)).to_have_count(0)
    expect(network.locator("option", has_text=ONLY_HV01_SWITCH)).to_have_count(1)


def test_a_running_create_job_names_every_planned_step(uneven_lab: Ui) -> None:
    ui = uneven_lab
    control = ui.stack.lab.control.url
    # the new guest on hv03 takes a few seconds to publish its key: the job is visibly half-way meanwhile
    ui.stack.request_to(control, "PUT", "/hvsim/hosts/hv03/guest-behaviour", {"boot_delay": 4, "poll_interval": 0.1})
    vm_id = None
    try:
        page = ui.goto("/vms/new")
        expect(page.get_by_label("Host", exact=True)).to_have_value("")
        page.get_by_label("Image", exact=True).select_option(ONLY_HV03_IMAGE)
        page.get_by_label("Virtual switch", exact=True).select_option("External")
        fill_guest(page, "ui-auto01")
        page.get_by_role("button", name="Create VM").click()
        expect(page).to_have_url(re.compile(r"/jobs/create-vm-any-ui-auto01-\d+$"))
        job_id = page.url.rsplit("/", 1)[1]
        ui.settled()
        steps = page.locator(".steps li")
        expect(steps.filter(has_text="Wait for key")).to_have_attribute("data-status", "Running", timeout=30_000)
        expect(steps.locator(".step-name")).to_have_text(PLAN)
        expect(steps.filter(has=page.locator(".step-name", has_text=re.compile(r"^Step \d+$")))).to_have_count(0)
        pending = page.locator(".steps li[data-status=Pending] .step-name")
        expect(pending).to_have_text(["Publish", "Signal", "Wait for apply", "Eject ISO", "Refresh"])
        expect(page.locator(".job-step")).to_contain_text("of 11: Wait for key")
        ui.shot("job-running-plan")
        ui.on_phone()
        assert ui.fits_width()
        ui.shot("job-running-plan", phone=True)

        status, _, document = ui.stack.request("GET", f"/api/v1/jobs/{job_id}")
        assert status == 202
        assert document["plan"] == [
            "place",
            "preflight",
            "prepare_disk",
            "create_vm",
            "start",
            "wait_for_key",
            "publish",
            "signal",
            "wait_for_apply",
            "eject_iso",
            "refresh",
        ]
        expect(page.locator(".job-outcome .panel-ok")).to_be_visible(timeout=90_000)
        expect(steps.locator(".step-name")).to_have_text(PLAN)
        assert set(steps.evaluate_all("els => els.map(e => e.dataset.status)")) == {"Succeeded"}
        job = wait_job(ui, job_id)
        assert job["target"]["host"] == "hv03", "placement must pick the only host that has the image"
        vm_id = job["result"]["vm_id"]
        assert "ui-auto01" in [vm.name for vm in ui.stack.lab.backend.host("hv03").vms.values()]
    finally:
        ui.stack.request_to(control, "PUT", "/hvsim/hosts/hv03/guest-behaviour", {})
        if vm_id is None:  # a VM made by a failed run of this test is removed too
            deadline = time.monotonic() + 5
            while vm_id is None and time.monotonic() < deadline:
                _, _, listed = ui.stack.request("GET", "/api/v1/vms?name_prefix=ui-auto01")
                vm_id = next((vm["id"] for vm in listed.get("items", [])), None) if isinstance(listed, dict) else None
                time.sleep(0.5)
        if vm_id is not None:
            status, _, deleted = ui.stack.request("DELETE", f"/api/v1/vms/{vm_id}")
            if status == 202:
                wait_job(ui, deleted["id"])
