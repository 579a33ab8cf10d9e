"""IP pools in Chromium: the create form offers the pools and takes the address from one (the guest applies it);
the pools page shows each pool's usage to a Reader, and one pool's allocations with links to the VM and the job."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.e2e.dashboard.conftest import Ui
from tests.e2e.dashboard.test_dashboard import SSH_KEY

POOL = {
    "network": "External",
    "vlan_id": 120,
    "prefix_length": 24,
    "gateway": "10.30.1.1",
    "dns_servers": ["10.30.1.2"],
    "dns_suffix": "corp.example",
    "ranges": [{"start": "10.30.1.40", "end": "10.30.1.49"}],
    "reserved": ["10.30.1.40"],
}


def test_create_from_a_pool_then_see_the_allocation_on_the_pools_page(ui: Ui) -> None:
    status, _, body = ui.stack.request("PUT", "/api/v1/ip-pools/ui-pool", POOL)
    assert status in (200, 201), body
    page = ui.goto("/vms/new")
    page.get_by_label("Host", exact=True).select_option("hv03")
    expect(page.locator("#f-image option", has_text="Ubuntu 24.04 LTS")).to_be_attached()
    page.get_by_label("Name", exact=True).fill("ui-pool01")
    page.get_by_label("Image", exact=True).select_option("Ubuntu 24.04 LTS")
    page.get_by_label("Memory (GB)", exact=True).fill("2")
    page.get_by_label("Administrator user name", exact=True).fill("opsadmin")
    page.get_by_label("Administrator password", exact=True).fill("correct horse battery staple")
    page.get_by_label("Ansible SSH access", exact=True).check()
    page.get_by_label("SSH user", exact=True).fill("ansible")
    page.get_by_label("SSH public key", exact=True).fill(SSH_KEY)
    page.get_by_label("Static IPv4 address (otherwise DHCP)", exact=True).check()
    pool = page.get_by_label("IP pool", exact=True)
    expect(pool.locator("option", has_text="ui-pool — External, VLAN 120, 9 of 9 free")).to_be_attached()
    expect(page.get_by_label("IPv4 address", exact=True)).to_be_visible()
    pool.select_option("ui-pool")
    expect(page.get_by_label("IPv4 address", exact=True)).to_be_hidden()
    expect(page.get_by_label("Virtual switch", exact=True)).to_be_hidden()
    expect(page.locator("[data-field='guest.ipv4.pool'] .hint")).to_contain_text("10.30.1.1/24")
    ui.shot("create-from-pool")
    with page.expect_response(lambda r: r.url.endswith("/api/v1/vms") and r.request.method == "POST") as answer:
        page.get_by_role("button", name="Create VM").click()
    assert answer.value.status == 202
    sent: Any = answer.value.request.post_data_json
    assert sent["guest"]["ipv4"] == {"pool": "ui-pool"} and "network" not in sent
    expect(page).to_have_url(re.compile(r"/jobs/create-vm-hv03-ui-pool01-\d+$"))
    expect(page.locator(".job-outcome .panel-ok")).to_be_visible(timeout=90_000)
    job = ui.stack.jobs.get(page.url.rsplit("/", 1)[1])
    assert job is not None and job.result is not None
    vm_id = job.result["vm_id"]
    applied = ui.stack.lab.host("hv03").model.vms[vm_id].guest.agent.applied  # type: ignore[union-attr]
    assert applied.ipv4 is not None and applied.ipv4.address == "10.30.1.41"

    def reader_only(route: Any) -> None:
        config = route.fetch().json()
        config["local"]["roles"] = ["Aether.Reader"]
        route.fulfill(json=config)

    ui.page.route("**/ui-config.json", reader_only)
    page = ui.goto("/ip-pools")
    expect(page.locator(".who .role")).to_have_text("Aether.Reader")
    row = page.locator("tr[data-pool=ui-pool]")
    expect(row).to_contain_text("External, VLAN 120")
    expect(row).to_contain_text("10.30.1.40 – 10.30.1.49")
    expect(row).to_contain_text("1 of 9 allocated, 8 free")
    ui.shot("ip-pools")
    row.get_by_role("link", name="ui-pool").click()
    ui.settled()
    expect(page).to_have_url(re.compile(r"/ip-pools/ui-pool$"))
    allocation = page.locator("tr[data-address='10.30.1.41']")
    expect(allocation.get_by_role("link", name="ui-pool01", exact=True)).to_have_attribute("href", f"/vms/{vm_id}")
    expect(allocation.get_by_role("link", name=job.id)).to_be_visible()
    ui.shot("ip-pool")
    ui.on_phone()
    assert ui.fits_width()
    ui.shot("ip-pool", phone=True)
    status, _, body = ui.stack.request("DELETE", f"/api/v1/vms/{vm_id}")
    assert status == 202, body
    assert ui.stack.wait(body["id"], 60)["runtimeStatus"] == "Completed"
    status, _, pool_now = ui.stack.request("GET", "/api/v1/ip-pools/ui-pool")
    assert pool_now["allocations"] == []
