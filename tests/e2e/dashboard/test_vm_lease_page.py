"""The VM page's lease controls in Chromium: set a lease for some hours, watch its countdown tick, clear it, a
refusal shown next to its field, the controls an Operator who did not request the VM cannot use, and the VM list's
lease column and "expiring within 24 h" filter. Outcomes are checked on the lease the API and the tables hold.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.sync_api import expect

from functions.models.leases import format_moment
from tests.e2e.dashboard.conftest import Ui
from tests.e2e.dashboard.test_vm_changes_page import open_vm
from tests.e2e.test_vm_changes import document, make_vm


def put_lease(ui: Ui, vm_id: str, body: dict[str, Any]) -> dict[str, Any]:
    status, _, answer = ui.stack.request("PUT", f"/api/v1/vms/{vm_id}/lease", body)
    assert status == 200, answer
    return dict(answer)


def test_set_a_lease_watch_its_countdown_and_clear_it(ui: Ui) -> None:
    vm = make_vm(ui.stack)
    page = open_vm(ui, vm)
    section = page.locator("section[aria-labelledby=s-lease]")
    expect(section).to_contain_text("No lease")
    expect(page.locator("button[data-action=clear-lease]")).to_be_disabled()

    section.get_by_label("Hours from now", exact=True).fill("2")
    with page.expect_response(lambda r: r.request.method == "PUT" and r.url.endswith("/lease")) as answer:
        page.locator("button[data-action=set-lease]").click()
    assert answer.value.status == 200
    expect(section.locator("[data-countdown]")).to_have_text(re.compile(r"in (1 h 59 min|2 h 0 min)"))
    lease = document(ui.stack, vm.id)["lease"]
    assert lease is not None and lease["version"] == 1
    expires = datetime.fromisoformat(lease["expires_at"].replace("Z", "+00:00"))
    assert timedelta(hours=1, minutes=58) < expires - datetime.now(UTC) <= timedelta(hours=2)

    put_lease(ui, vm.id, {"expires_at": format_moment(datetime.now(UTC) + timedelta(seconds=50))})
    page = open_vm(ui, vm)
    countdown = page.locator("section[aria-labelledby=s-lease] [data-countdown]")
    expect(countdown).to_have_text(re.compile(r"in \d+ s"))
    first = countdown.inner_text()
    time.sleep(2.2)
    assert countdown.inner_text() != first  # it counts down without a reload

    page.locator("button[data-action=clear-lease]").click()
    dialog = page.get_by_role("dialog")
    with page.expect_response(lambda r: r.request.method == "PUT" and r.url.endswith("/lease")) as cleared:
        dialog.get_by_role("button", name="Clear lease", exact=True).click()
    assert cleared.value.json()["lease"] is None
    expect(page.locator("section[aria-labelledby=s-lease]")).to_contain_text("No lease")
    assert document(ui.stack, vm.id)["lease"] is None
    assert ui.problems == []


def test_a_refused_lease_is_shown_next_to_its_field(ui: Ui) -> None:
    vm = make_vm(ui.stack)
    page = open_vm(ui, vm)
    section = page.locator("section[aria-labelledby=s-lease]")
    section.get_by_label("Hours from now", exact=True).fill("999999")
    page.locator("button[data-action=set-lease]").click()
    expect(section.locator("[data-field=hours] .field-error")).to_contain_text("AETHERV_LEASE_MAX_HOURS")
    assert document(ui.stack, vm.id)["lease"] is None


def test_an_operator_who_did_not_request_the_vm_cannot_change_its_lease(ui: Ui) -> None:
    vm = make_vm(ui.stack)
    put_lease(ui, vm.id, {"hours": 3})  # made out of band: the VM has no requester, only an Admin may change it

    def operator_only(route: Any) -> None:
        config = route.fetch().json()
        config["local"]["roles"] = ["Aether.Operator"]
        config["local"]["id"] = "another-operator"
        route.fulfill(json=config)

    assert document(ui.stack, vm.id)["lease"]["requested_by"] == {}
    ui.page.route("**/ui-config.json", operator_only)
    page = open_vm(ui, vm)
    expect(page.locator("section[aria-labelledby=s-lease] [data-countdown]")).to_have_text(re.compile(r"in 2 h|in 3 h"))
    setter = page.locator("button[data-action=set-lease]")
    expect(setter).to_be_disabled()
    expect(setter).to_have_attribute("title", re.compile("requester or an Admin"))
    expect(page.locator("button[data-action=clear-lease]")).to_be_disabled()


def test_the_vm_list_shows_leases_and_filters_expiring_vms(ui: Ui) -> None:
    soon, later = make_vm(ui.stack), make_vm(ui.stack)
    put_lease(ui, soon.id, {"hours": 5})
    put_lease(ui, later.id, {"hours": 48})
    page = ui.goto("/vms")
    # five hours from the server's clock, read by the browser's: within a minute either way
    soon_cell = page.locator(f"tr[data-vm='{soon.id}'] td[data-label=Lease]")
    expect(soon_cell).to_contain_text(re.compile(r"in (4 h 5\d min|5 h 0 min)"))
    page.get_by_label("Lease expires within 24 h").check()
    expect(page.locator(f"tr[data-vm='{soon.id}']")).to_have_count(1)
    expect(page.locator(f"tr[data-vm='{later.id}']")).to_have_count(0)
    assert any("expiring_within_hours=24" in call for call in ui.api_calls)
    assert "expiring=true" in page.url
