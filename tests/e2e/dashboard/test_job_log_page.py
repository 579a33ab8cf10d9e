"""The job page's log in Chromium: it follows a running create live and ends with what the API's log holds."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.dashboard.conftest import Ui
from tests.e2e.test_vm_workflows import linux


def test_the_job_page_follows_the_log_of_a_running_create(ui: Ui) -> None:
    status, _, job = ui.stack.request("POST", "/api/v1/vms", linux("ui-log01", host="hv02"))
    assert status == 202, job
    page = ui.goto(f"/jobs/{job['id']}")
    log = page.locator("section[aria-labelledby=s-log] ol.job-log")
    expect(log).to_contain_text("create_vm ui-log01 requested by")
    expect(log.locator("li[data-source=host]").first).to_contain_text("created VM ui-log01")
    expect(log.locator("li").last).to_contain_text("job succeeded", timeout=60_000)  # followed without a reload
    served = ui.stack.request("GET", f"/api/v1/jobs/{job['id']}/log?limit=1000")[2]["entries"]
    expect(log.locator("li")).to_have_count(len(served))
    assert log.locator(".log-message").all_inner_texts() == [e["message"] for e in served]
    assert ui.problems == []
