"""A VM a failed create left behind is marked orphaned in the list and on its page, linking the job.

The API's ``orphaned`` fields are produced end to end by the chaos suite (a host down past the job's end); here the
first VM of the real responses is marked so, to check how the dashboard shows it.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.e2e.dashboard.conftest import Ui

JOB = "create-vm-hv02-ghost01-1"


def test_an_orphaned_vm_is_marked_with_its_job_in_the_list_and_on_its_page(ui: Ui) -> None:
    marked: dict[str, str] = {}

    def mark_list(route: Any) -> None:
        page = route.fetch().json()
        first = page["items"][0]
        marked["id"] = first["id"]
        first.update(orphaned=True, orphaned_by_job=JOB)
        route.fulfill(json=page)

    def mark_one(route: Any) -> None:
        vm = route.fetch().json()
        if vm.get("id") == marked.get("id"):
            vm.update(orphaned=True, orphaned_by_job=JOB)
        route.fulfill(json=vm)

    ui.page.route(re.compile(r".*/api/v1/vms\?.*"), mark_list)
    ui.page.route(re.compile(r".*/api/v1/vms/[0-9a-f-]{36}$"), mark_one)
    page = ui.goto("/vms")
    badge = page.locator("tbody tr[data-vm] .badge-orphan")
    expect(badge).to_have_count(1)
    expect(badge).to_have_text("orphaned — removal pending")
    expect(badge).to_have_attribute("href", f"/jobs/{JOB}")
    expect(page.locator(f"tbody tr[data-vm='{marked['id']}'] .badge-orphan")).to_be_visible()
    ui.goto(f"/vms/{marked['id']}")
    expect(page.locator(".title-row .badge-orphan")).to_be_visible()
    expect(page.locator(".title-row .badge-orphan")).to_have_attribute("title", re.compile("removed as soon as"))
    ui.shot("vm-orphaned")
