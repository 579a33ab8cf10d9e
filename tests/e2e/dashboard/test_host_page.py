"""The host page in Chromium: reached from the overview, its facts, and the probe — every stage with its time, the
first failure in plain words — for admins only."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.e2e.dashboard.conftest import Ui

STAGE_TITLES = ["Name resolution", "TCP", "TLS", "WinRM authentication", "PowerShell"]


def stages(ui: Ui) -> Any:
    return ui.page.locator("ol.probe-stages li.probe-stage")


def test_probe_from_the_host_page_shows_every_stage(ui: Ui) -> None:
    page = ui.goto("/")
    page.locator("article.host[data-host=hv03] h3 a").click()
    ui.settled()
    expect(page).to_have_url(re.compile(r"/hosts/hv03$"))
    expect(page.get_by_role("heading", name="hv03", exact=True)).to_be_visible()
    expect(page.locator(".title-row .badge")).to_have_text("Connected")
    expect(page.locator(".facts")).to_contain_text("Logical processors")

    page.get_by_role("button", name="Probe").click()
    summary = page.locator(".probe-summary")
    expect(summary).to_have_attribute("data-ok", "true", timeout=60_000)
    expect(summary).to_contain_text("hv03 passed every stage")
    expect(stages(ui)).to_have_count(5)
    for index, title in enumerate(STAGE_TITLES):
        row = stages(ui).nth(index)
        expect(row.locator(".probe-stage-name")).to_have_text(title)
        expect(row.locator(".badge")).to_have_text("Passed")
        expect(row.locator(".probe-stage-time")).to_have_text(re.compile(r"^\d+ ms$"))
    expect(page.locator(".probe-result")).to_contain_text("CN=Aether-V hvsim lab CA")
    expect(page.locator(".probe-result")).to_contain_text("HV03")
    expect(page.locator(".probe-status")).to_contain_text(re.compile(r"Probed .* in \d+ ms"))
    assert ui.stack.lab.password not in page.content()
    ui.shot("host-probe")
    ui.on_phone()
    assert ui.fits_width()
    ui.shot("host-probe", phone=True)


def test_a_failed_probe_says_where_in_plain_words(ui: Ui) -> None:
    faults = ui.stack.lab.host("hv02").server.faults
    # Only the probe's script fails: the inventory sync (collect_inventory) is untouched.
    faults.set_script_error("ping", "ScriptFailed", "PowerShell is locked down on this host")
    try:
        page = ui.goto("/hosts/hv02")
        page.get_by_role("button", name="Probe").click()
        summary = page.locator(".probe-summary")
        expect(summary).to_have_attribute("data-ok", "false", timeout=60_000)
        expect(summary).to_have_attribute("role", "alert")
        expect(summary).to_contain_text(
            "Not reachable. PowerShell: the test script failed: ScriptFailed: PowerShell is locked down on this host"
        )
        statuses = [row.get_attribute("data-status") for row in stages(ui).all()]
        assert statuses == ["ok", "ok", "ok", "ok", "failed"]
        expect(stages(ui).nth(4).locator(".badge")).to_have_text("Failed")
        ui.shot("host-probe-failed")
    finally:
        faults.update({"script_errors": {}})


def test_the_probe_is_for_admins(ui: Ui) -> None:
    def operator_only(route: Any) -> None:
        config = route.fetch().json()
        config["local"]["roles"] = ["Aether.Operator"]
        route.fulfill(json=config)

    ui.page.route("**/ui-config.json", operator_only)
    page = ui.goto("/hosts/hv01")
    probe = page.get_by_role("button", name="Probe")
    expect(probe).to_be_disabled()
    expect(probe).to_have_attribute("title", re.compile("Needs the Aether.Admin role"))


def test_an_unknown_host_page_says_so(ui: Ui) -> None:
    page = ui.goto("/hosts/hv42")
    expect(page.get_by_role("heading", name="Host not found")).to_be_visible()
    expect(page.locator(".empty")).to_contain_text("hv42 is not in the inventory")
