"""The dashboard end to end in Chromium: overview, VM list, VM detail, create (invalid and valid), power, delete,
a host going down, roles, keyboard use, phone width, and how the pages are delivered (CSP, caching)."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from playwright.sync_api import expect

from tests.e2e.dashboard.conftest import LAPTOP, Ui
from tests.e2e.test_api import linux
from tests.e2e.test_vm_workflows import windows as windows_request

SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops@example"
# Well-formed line, but the key data is an RSA blob: only the server can tell.
WRONG_SSH_KEY = "ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 ops@example"


def wait_job(ui: Ui, job_id: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, _, body = ui.stack.request("GET", f"/api/v1/jobs/{job_id}")
        if status != 202:
            return body.get("job", body) if isinstance(body, dict) else {}
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not finish")


def rows(ui: Ui) -> Any:
    return ui.page.locator("table.vm-table tbody tr[data-vm]")


def test_overview_shows_clusters_hosts_capacity_and_last_sync(ui: Ui) -> None:
    page = ui.goto("/")
    expect(page.locator("#mode-banner")).to_contain_text("Local mode")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    for name in ("hv01", "hv02", "hv03"):
        expect(page.locator(f"article.host[data-host={name}] .conn")).to_have_text("Connected")
    expect(page.get_by_role("heading", name="Cluster hvclu01")).to_be_visible()
    expect(page.locator("#last-sync")).to_contain_text("Last sync")
    expect(page.locator("article.host[data-host=hv01] meter").first).to_be_visible()
    expect(page.locator(".mainnav a[aria-current=page]")).to_have_text("Overview")
    ui.shot("overview")
    ui.on_phone()
    assert ui.fits_width()
    ui.shot("overview", phone=True)


def test_vm_list_filters_searches_sorts_and_pages(ui: Ui) -> None:
    page = ui.goto("/vms")
    expect(page.locator(".list-status")).to_contain_text(re.compile(r"Showing 1–\d+ of \d+ VMs"))
    assert rows(ui).count() >= 9
    page.get_by_label("Host", exact=True).select_option("hv02")
    expect(page).to_have_url(re.compile(r"host=hv02"))
    expect(page.locator("td[data-label=Host]").filter(has_not_text="hv02")).to_have_count(0)
    assert rows(ui).count() >= 3
    page.get_by_label("Host", exact=True).select_option("")
    expect(page.locator("td[data-label=Host]").filter(has_text="hv01").first).to_be_visible()
    page.get_by_label("State", exact=True).select_option("Running")
    expect(page.locator("td[data-label=State]").filter(has_not_text="Running")).to_have_count(0)
    page.get_by_label("State", exact=True).select_option("")
    first = rows(ui).first.locator("td[data-label=Name] a").inner_text()
    page.get_by_label("Search", exact=True).fill(first)
    expect(rows(ui).filter(has_not_text=first)).to_have_count(0)
    expect(page).to_have_url(re.compile(r"q=" + re.escape(first)))
    page.get_by_label("Search", exact=True).fill("no-such-vm-anywhere")
    expect(page.locator(".empty-title")).to_have_text("No VMs match these filters.")
    page.get_by_label("Search", exact=True).fill("")
    name_sort = page.locator("th[data-key=name] button")
    name_sort.click()
    expect(page.locator("th[data-key=name]")).to_have_attribute("aria-sort", "descending")
    names = rows(ui).locator("td[data-label=Name] a").all_inner_texts()
    assert names == sorted(names, key=str.lower, reverse=True)
    ui.shot("vm-list")
    ui.on_phone()
    assert ui.fits_width()
    ui.shot("vm-list", phone=True)


def test_vm_list_pages_through_many_vms(ui: Ui) -> None:
    control = ui.stack.lab.control.url
    created = []
    for index in range(55):
        status, _, body = ui.stack.request_to(
            control, "POST", "/hvsim/hosts/hv02/vms", {"name": f"bulk{index:03d}", "state": "Off"}
        )
        assert status in (200, 201), body
        created.append(body["id"])
    refresh = ui.stack.request("POST", "/api/v1/inventory/refresh?host=hv02")
    wait_job(ui, refresh[2]["id"])
    try:
        page = ui.goto("/vms?q=bulk")
        expect(page.locator(".list-status")).to_contain_text("of 55 VMs")
        expect(rows(ui)).to_have_count(50)
        expect(page.locator(".pager-status")).to_have_text("Page 1 of 2")
        page.get_by_role("button", name="Next ›").click()
        expect(rows(ui)).to_have_count(5)
        expect(page).to_have_url(re.compile(r"page=2"))
        expect(page.locator(".pager-status")).to_have_text("Page 2 of 2")
    finally:
        for vm_id in created:
            ui.stack.request_to(control, "DELETE", f"/hvsim/hosts/hv02/vms/{vm_id}")
        wait_job(ui, ui.stack.request("POST", "/api/v1/inventory/refresh?host=hv02")[2]["id"])


def test_vm_detail_shows_disks_networks_os_and_jobs(ui: Ui) -> None:
    page = ui.goto("/vms?state=Running")
    link = rows(ui).first.locator("td[data-label=Name] a")
    name = link.inner_text()
    link.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    expect(page).to_have_url(re.compile(r"/vms/[0-9a-f-]{36}$"))
    ui.settled()
    for section in ("Summary", "Disks", "Network adapters", "Jobs"):
        expect(page.get_by_role("heading", name=section, exact=True)).to_be_visible()
    expect(page.locator("section[aria-labelledby=s-disks] td[data-label=Path]").first).to_contain_text(".vhdx")
    expect(page.locator("section[aria-labelledby=s-nics] td[data-label=Switch]").first).not_to_be_empty()
    expect(page.locator(".facts dt", has_text="Uptime")).to_be_visible()
    expect(page.locator("button[data-action=start]")).to_be_disabled()
    expect(page.locator("button[data-action=stop]")).to_be_enabled()
    ui.shot("vm-detail")
    ui.on_phone()
    assert ui.fits_width()
    ui.shot("vm-detail", phone=True)


def open_create_form(ui: Ui, host: str = "hv03") -> Any:
    page = ui.goto("/vms/new")
    page.get_by_label("Host", exact=True).select_option(host)
    expect(page.locator("#f-image option", has_text="Ubuntu 24.04 LTS")).to_be_attached()
    return page


def test_create_form_shows_client_and_server_errors_next_to_the_fields(ui: Ui) -> None:
    page = open_create_form(ui)
    expect(page.locator("fieldset[data-group=guest]")).to_be_hidden()
    page.get_by_label("Image", exact=True).select_option("Windows Server 2022 Datacenter")
    expect(page.locator("fieldset[data-group='guest.domain_join']")).to_be_visible()
    expect(page.locator("fieldset[data-group='guest.ansible']")).to_be_hidden()
    expect(page.locator("#f-os_family").locator("xpath=..").locator(".hint")).to_contain_text(
        "Derived from the image: Windows"
    )
    page.get_by_label("Name", exact=True).fill("much-too-long-for-windows")
    page.get_by_label("Virtual processors", exact=True).fill("0")
    page.get_by_label("Administrator user name", exact=True).fill("admin")
    page.get_by_label("Administrator password", exact=True).fill("alllowercase")
    page.get_by_role("button", name="Create VM").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    expect(page.locator("#f-name-error")).to_contain_text("at most 15 characters for Windows")
    expect(page.locator("#f-cpu_cores-error")).to_contain_text("at least 1")
    expect(page.locator("#f-guest-admin_password-error")).to_contain_text("3 of: upper-case")
    expect(page.get_by_label("Name", exact=True)).to_have_attribute("aria-invalid", "true")
    assert not [c for c in ui.api_calls if c.startswith("POST ")], "an invalid form must not be sent"
    ui.shot("create-invalid")

    page.get_by_label("Image", exact=True).select_option("Ubuntu 24.04 LTS")
    expect(page.locator("fieldset[data-group='guest.ansible']")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("ui-bad01")
    page.get_by_label("Virtual processors", exact=True).fill("2")
    page.get_by_label("Administrator user name", exact=True).fill("opsadmin")
    page.get_by_label("Administrator password", exact=True).fill("correct horse battery staple")
    page.get_by_label("Ansible SSH access", exact=True).check()
    page.get_by_label("SSH user", exact=True).fill("ansible")
    page.get_by_label("SSH public key", exact=True).fill(WRONG_SSH_KEY)
    with page.expect_response(lambda r: r.url.endswith("/api/v1/vms") and r.request.method == "POST") as answer:
        page.get_by_role("button", name="Create VM").click()
    assert answer.value.status == 422
    expect(page.locator("#f-guest-ansible-ssh_public_key-error")).to_contain_text("not a valid OpenSSH public key")
    expect(page.locator(".error-summary h2")).to_contain_text("The server found 1 problem")
    expect(page.locator("#f-name-error")).to_be_hidden()
    ui.shot("create-server-error")


def test_create_watch_progress_then_stop_and_delete(ui: Ui) -> None:
    page = open_create_form(ui)
    page.get_by_label("Name", exact=True).fill("ui-e2e01")
    page.get_by_label("Image", exact=True).select_option("Ubuntu 24.04 LTS")
    page.get_by_label("Virtual switch", exact=True).select_option("External")
    page.get_by_label("Memory (GB)", exact=True).fill("2")
    page.get_by_label("Administrator user name", exact=True).fill("opsadmin")
    page.get_by_label("Administrator password", exact=True).fill("correct horse battery staple")
    page.get_by_label("Ansible SSH access", exact=True).check()
    page.get_by_label("SSH user", exact=True).fill("ansible")
    page.get_by_label("SSH public key", exact=True).fill(SSH_KEY)
    ui.shot("create-form")
    page.get_by_role("button", name="Create VM").click()
    expect(page).to_have_url(re.compile(r"/jobs/create-vm-hv03-ui-e2e01"))
    ui.settled()
    expect(page.locator(".steps li")).not_to_have_count(0)
    ui.shot("job-running")
    expect(page.locator(".job-outcome .panel-ok")).to_be_visible(timeout=90_000)
    steps = page.locator(".steps li")
    assert steps.count() >= 5
    assert set(steps.evaluate_all("els => els.map(e => e.dataset.status)")) == {"Succeeded"}
    expect(page.locator(".title-row .badge")).to_have_text("Succeeded")
    expect(page.locator("progress.job-bar")).to_have_js_property("position", 1)
    ui.shot("job-succeeded")
    ui.on_phone()
    assert ui.fits_width()
    ui.shot("job-succeeded", phone=True)
    page.set_viewport_size(LAPTOP)

    ui.goto("/vms?q=ui-e2e01")
    expect(rows(ui)).to_have_count(1)
    expect(rows(ui).locator("td[data-label=State]")).to_have_text("Running")
    rows(ui).locator("td[data-label=Name] a").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("ui-e2e01")
    ui.settled()

    page.locator("button[data-action=stop]").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("unsaved data in the guest is lost")
    ui.shot("confirm-stop")
    dialog.get_by_role("button", name="Turn off").click()
    expect(page.locator(".title-row .badge")).to_have_text("Off", timeout=60_000)
    expect(page.locator("button[data-action=start]")).to_be_enabled()
    # the VM's jobs, newest first: the stop, then the create that made it (it records the VM id once known)
    expect(page.locator("section[aria-labelledby=s-jobs] td[data-label=Job]")).to_have_text(["Power VM", "Create VM"])
    ui.shot("vm-stopped")

    page.locator("button[data-action=delete]").click()
    dialog = page.get_by_role("dialog")
    confirm = dialog.get_by_role("button", name="Delete")
    expect(confirm).to_be_disabled()
    dialog.get_by_label("Type ui-e2e01 to confirm", exact=True).fill("ui-e2e01")
    ui.shot("confirm-delete")
    confirm.click()
    expect(page).to_have_url(re.compile(r"/vms$"), timeout=60_000)
    expect(page.locator(".toast")).to_contain_text("ui-e2e01 was deleted")
    _, _, listed = ui.stack.request("GET", "/api/v1/vms?name_prefix=ui-e2e01")
    assert listed["items"] == []


def test_a_host_taken_down_shows_as_disconnected_with_stale_vms(ui: Ui) -> None:
    control = ui.stack.lab.control.url
    ui.stack.request_to(control, "POST", "/hvsim/hosts/hv01/down")
    try:
        page = ui.goto("/")
        page.get_by_role("button", name="Refresh inventory").click()
        expect(page.locator(".refresh-status .job-outcome[data-status]")).to_be_attached(timeout=90_000)
        card = page.locator("article.host[data-host=hv01]")
        expect(card.locator(".conn")).to_have_text("Disconnected")
        expect(card.locator(".host-problem")).to_contain_text("Host unreachable since")
        expect(card.locator(".host-problem")).to_contain_text("(stale)")
        expect(card.locator(".host-problem details")).to_contain_text("HostUnreachable")
        expect(page.locator(".tile", has_text="Hosts")).to_contain_text("1 disconnected")
        ui.shot("overview-host-down")
        ui.goto("/vms?host=hv01")
        expect(rows(ui).first).to_be_visible()
        expect(rows(ui).filter(has_not=page.locator(".badge-stale"))).to_have_count(0)
        ui.goto(rows(ui).first.locator("a").get_attribute("href") or "/")
        expect(page.locator(".title-row .badge-stale")).to_be_visible()
        expect(page.locator("button[data-action=stop]")).to_have_attribute("title", re.compile("not answering"))
        ui.shot("vm-stale")
    finally:
        ui.stack.request_to(control, "POST", "/hvsim/hosts/hv01/up")
        wait_job(ui, ui.stack.request("POST", "/api/v1/inventory/refresh")[2]["id"])
    host = ui.stack.repo.get_host("hv01")
    assert host is not None
    assert host.connected is True


def test_a_reader_sees_write_controls_disabled_with_the_reason(ui: Ui) -> None:
    def reader_only(route: Any) -> None:
        config = route.fetch().json()
        config["local"]["roles"] = ["Aether.Reader"]
        route.fulfill(json=config)

    ui.page.route("**/ui-config.json", reader_only)
    page = ui.goto("/")
    refresh = page.get_by_role("button", name="Refresh inventory")
    expect(refresh).to_be_disabled()
    expect(refresh).to_have_attribute("title", re.compile("Needs the Aether.Operator role"))
    expect(page.locator(".who .role")).to_have_text("Aether.Reader")
    ui.goto("/vms")
    expect(page.get_by_role("button", name="New VM")).to_be_disabled()
    ui.goto(rows(ui).first.locator("a").get_attribute("href") or "/")
    expect(page.locator("button[data-action=delete]")).to_be_disabled()
    ui.goto("/vms/new")
    expect(page.locator(".panel-note")).to_contain_text("needs the aether.operator role")
    ui.shot("reader")


def test_keyboard_and_labels(ui: Ui) -> None:
    page = ui.goto("/vms")
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.locator("th[data-key=host] button").focus()
    page.keyboard.press("Enter")
    expect(page.locator("th[data-key=host]")).to_have_attribute("aria-sort", "ascending")
    ui.goto("/vms/new")
    unlabeled = page.evaluate(
        """() => Array.from(document.querySelectorAll('main input, main select, main textarea'))
             .filter(el => !el.labels || el.labels.length === 0).map(el => el.name || el.id)"""
    )
    assert unlabeled == []
    page.get_by_label("Name", exact=True).focus()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Host", exact=True)).to_be_focused()
    ui.goto("/vms?state=Running")
    rows(ui).first.locator("a").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/vms/[0-9a-f-]{36}$"))
    ui.settled()
    page.locator("button[data-action=restart]").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    ui.on_phone()
    ui.goto("/vms/new")
    assert ui.fits_width()
    ui.shot("create-form", phone=True)


def test_jobs_list_and_unknown_pages(ui: Ui) -> None:
    payload = linux("ui-fail01")
    payload["image"] = "Ubuntu 99.99 Imaginary"
    _, _, failing = ui.stack.request("POST", "/api/v1/vms", payload)  # at least one job, whatever ran before
    wait_job(ui, failing["id"])
    page = ui.goto("/jobs")
    expect(page.locator("tbody tr[data-job]").first).to_be_visible()
    page.get_by_label("Kind", exact=True).select_option("refresh_inventory")
    expect(page.locator("td[data-label=Job]").filter(has_not_text="Refresh inventory")).to_have_count(0)
    ui.shot("jobs")
    ui.on_phone()
    assert ui.fits_width()
    ui.shot("jobs", phone=True)
    page.set_viewport_size(LAPTOP)
    ui.goto(f"/jobs/{failing['id']}")
    expect(page.locator(".title-row .badge")).to_have_text("Failed")
    expect(page.locator(".job-outcome .panel-error")).to_contain_text("PreflightFailed")
    expect(page.locator(".job-outcome [data-cleanup]")).to_contain_text("Cleanup:")
    expect(page.locator(".steps li[data-status=Failed]")).to_have_count(1)
    ui.shot("job-failed")
    # a domain join by an older Windows agent, which never reports the join's outcome: the job warns
    windows = windows_request("ui-warn01", host="hv03")
    windows["guest"]["ipv4"].pop("dns_suffix", None)
    control, behaviour = ui.stack.lab.control.url, "/hvsim/hosts/hv03/guest-behaviour"
    ui.stack.request_to(control, "PUT", behaviour, {"agent": "upstream", "poll_interval": 0.1})
    try:
        _, _, warned = ui.stack.request("POST", "/api/v1/vms", windows)
        wait_job(ui, warned["id"])
    finally:
        ui.stack.request_to(control, "PUT", behaviour, {"poll_interval": 0.1})
    ui.goto(f"/jobs/{warned['id']}")
    expect(page.locator(".job-warning")).to_have_count(1)
    expect(page.locator(".job-warning").first).to_contain_text("domain join")
    ui.page.goto(ui.base_url + "/no/such/page")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    ui.goto("/vms/00000000-0000-0000-0000-00000000dead")
    expect(page.get_by_role("heading", name="VM not found")).to_be_visible()
    ui.goto("/jobs/no-such-job")
    expect(page.get_by_role("heading", name="Job not found")).to_be_visible()


def test_delivery_headers_csp_and_caching(ui: Ui) -> None:
    stack = ui.stack
    status, headers, html = stack.request("GET", "/vms")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert headers["Cache-Control"] == "no-cache"
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp
    assert "unsafe" not in csp
    assert "connect-src 'self';" in csp
    assert "frame-ancestors 'none'" in csp
    assert "<script>" not in html and "style=" not in html
    build = re.search(r"/ui/([0-9a-f]{12})/app\.js", html)
    assert build, html
    status, headers, _ = stack.request("GET", f"/ui/{build[1]}/app.js")
    assert status == 200
    assert headers["Content-Type"].startswith("text/javascript")
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    status, headers, _ = stack.request("GET", f"/ui/{build[1]}/app.css")
    assert headers["Content-Type"].startswith("text/css")
    status, headers, _ = stack.request("GET", f"/ui/{build[1]}/vendor/msal-browser/msal-browser.min.js")
    assert status == 200
    status, headers, _ = stack.request("GET", "/ui/0123456789ab/app.js")
    assert status == 200
    assert headers["Cache-Control"] == "no-cache"
    assert stack.request("GET", f"/ui/{build[1]}/../api/docs.py")[0] == 404
    assert stack.request("GET", f"/ui/{build[1]}/vendor/swagger-ui/swagger-ui.css")[0] == 404
    status, headers, config = stack.request("GET", "/ui-config.json")
    assert status == 200
    assert config["mode"] == "none"
    assert config["local"]["roles"] == ["Aether.Reader", "Aether.Operator", "Aether.Admin"]
    assert stack.request("GET", "/no/such/page")[0] == 404
    status, headers, _ = stack.request("GET", "/api/v1/no-such-route")
    assert status == 404
    assert headers["Content-Type"].startswith("application/problem+json")
    assert stack.request("GET", "/api/healthz")[0] == 200
    assert not any("cdn" in call or not call.split(" ", 1)[1].startswith(ui.base_url) for call in ui.api_calls)


def test_entra_mode_config_and_policy() -> None:
    from functions.dashboard.routes import content_security_policy, ui_config
    from functions.settings import AuthSettings

    auth = AuthSettings(
        mode="entra",
        authority="https://login.microsoftonline.com",
        tenant_id="11111111-2222-3333-4444-555555555555",
        client_id="66666666-7777-8888-9999-000000000000",
        app_id_uri="",
        role_reader="Aether.Reader",
        role_operator="Aether.Operator",
        role_admin="Aether.Admin",
        easy_auth_enabled=False,
    )
    config = ui_config(auth)
    entra = config["entra"]
    assert isinstance(entra, dict)
    assert entra["authority"] == "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555"
    assert entra["scopes"] == ["api://66666666-7777-8888-9999-000000000000/.default"]
    assert entra["redirect_path"] == "/auth/redirect"
    assert "local" not in config
    assert "secret" not in json.dumps(config).lower()
    csp = content_security_policy(auth)
    assert "connect-src 'self' https://login.microsoftonline.com;" in csp
    assert "unsafe" not in csp
    local = content_security_policy(AuthSettings(**{**auth.__dict__, "mode": "none"}))
    assert "login.microsoftonline.com" not in local
    custom = ui_config(AuthSettings(**{**auth.__dict__, "app_id_uri": "api://aetherv.contoso.com/"}))
    assert custom["entra"]["scopes"] == ["api://aetherv.contoso.com/.default"]  # type: ignore[index]
