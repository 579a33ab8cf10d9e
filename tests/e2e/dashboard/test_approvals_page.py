"""The dashboard's approvals in a real browser: the overview lists creates awaiting approval; an admin approves one
there (the create then runs: checked on the simulated host) and rejects another from its job page, with a reason."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.dashboard.conftest import Ui, open_ui
from tests.e2e.test_approvals import on_host, submit, until_awaiting
from tools.stack import Stack


@pytest.fixture
def admin_ui(browser: Any, approving: Stack) -> Iterator[Ui]:
    with open_ui(browser, approving) as opened:
        yield opened


def test_approve_from_the_overview_and_reject_from_the_job_page(admin_ui: Ui, approving: Stack) -> None:
    first, second = f"da-{uuid.uuid4().hex[:6]}", f"dr-{uuid.uuid4().hex[:6]}"
    approve_job, reject_job = submit(approving, first), submit(approving, second)
    until_awaiting(approving, approve_job["id"])
    until_awaiting(approving, reject_job["id"])

    page = admin_ui.goto("/")
    section = page.locator("#approvals")
    section.wait_for()
    assert "Awaiting approval (2)" in section.locator("h2").inner_text()
    row = section.locator("tr", has_text=first)
    assert "host hv02 requires approval" in row.inner_text()
    admin_ui.shot("overview-approvals")
    row.locator("button[data-action='approve']").click()
    dialog = page.locator("dialog[data-form='approve']")
    dialog.locator("textarea[name='reason']").fill("capacity is planned")
    dialog.locator("button[type='submit']").click()
    dialog.wait_for(state="detached")
    approving.wait(approve_job["id"], 120)
    assert on_host(approving, "hv02", first)  # approved in the browser: the create ran
    record = approving.jobs.get(approve_job["id"])
    assert record is not None and record.approval is not None and record.approval.reason == "capacity is planned"

    page = admin_ui.goto(f"/jobs/{reject_job['id']}")
    assert "Waiting for an administrator" in page.locator("#approval").inner_text()
    page.locator("button[data-action='reject']").click()
    dialog = page.locator("dialog[data-form='reject']")
    dialog.locator("button[type='submit']").click()  # no reason: refused, named at the field
    assert "required" in dialog.locator("[data-field='reason'] .field-error").inner_text()
    dialog.locator("textarea[name='reason']").fill("use hv03")
    dialog.locator("button[type='submit']").click()
    dialog.wait_for(state="detached")
    approving.wait(reject_job["id"], 60)
    page.wait_for_selector("#approval:has-text('Rejected by local developer')")
    admin_ui.shot("job-rejected")
    assert not on_host(approving, "hv02", second)
