"""The VM page's day-2 controls in Chromium: size and notes, disks, network adapters — each driven on the page, its
job followed there, and the outcome checked on the simulated host (hvsim's model), plus the API's refusals shown
next to the form that caused them and the controls a reader cannot use.

Each test makes its own VM on ``hv03`` out of band (as ``tests/e2e/test_vm_changes.py`` does) and lets the inventory
learn it before the page is opened.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from tests.e2e.dashboard.conftest import Ui
from tests.e2e.test_vm_changes import lab_host, make_vm, running
from tools.hvsim.models import FakeVm

GIB = 1024**3


def open_vm(ui: Ui, vm: FakeVm) -> Any:
    page = ui.goto(f"/vms/{vm.id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(vm.name)
    return page


def accepted(ui: Ui, click: Callable[[], None]) -> str:
    """Do ``click`` (which sends a change of the VM) and return the id of the job the API accepted."""
    writes = ("POST", "PATCH", "DELETE")
    with ui.page.expect_response(lambda r: r.request.method in writes and "/api/v1/vms/" in r.url) as answer:
        click()
    assert answer.value.status == 202, answer.value.text()
    return str(answer.value.json()["id"])


def job_succeeded(ui: Ui, job_id: str) -> None:
    """Wait until the job the page follows live (above the sections) ends, and check it succeeded."""
    panel = ui.page.locator(f".activity [data-job='{job_id}']")
    outcome = panel.locator(".job-outcome[data-status]")
    expect(outcome).to_be_attached(timeout=90_000)
    assert outcome.get_attribute("data-status") == "Succeeded", panel.inner_text()


def dialog_submit(ui: Ui, button: str) -> str:
    """Submit the open dialog with ``button``; the job's id once the API accepted it (the dialog closes)."""
    dialog = ui.page.get_by_role("dialog")
    job_id = accepted(ui, lambda: dialog.get_by_role("button", name=button, exact=True).click())
    expect(ui.page.get_by_role("dialog")).to_have_count(0)
    return job_id


def test_resize_refused_while_running_then_done_with_allow_restart_and_notes(ui: Ui) -> None:
    vm = make_vm(ui.stack)
    page = open_vm(ui, vm)
    size = page.locator("section[aria-labelledby=s-size]")
    expect(size.locator("[data-rule]")).to_contain_text("only while the VM is Off")
    expect(size.locator("[data-rule]")).to_contain_text("It is Running")
    expect(size.get_by_label("Virtual processors", exact=True)).to_have_value("2")

    size.get_by_label("Virtual processors", exact=True).fill("4")
    with page.expect_response(lambda r: r.request.method == "PATCH") as answer:
        size.get_by_role("button", name="Apply changes").click()
    assert answer.value.status == 409
    refusal = size.locator(".form-problem")
    expect(refusal).to_contain_text("can only change while it is Off")
    expect(refusal).to_contain_text("allow_restart")
    ui.shot("vm-resize-refused")
    with lab_host(ui.stack).lock:
        assert (vm.cpu_count, vm.state) == (2, "Running")  # nothing was touched

    size.get_by_label("Memory (GB)", exact=True).fill("3")
    size.get_by_label("Allow restart", exact=True).check()
    job = accepted(ui, size.get_by_role("button", name="Apply changes").click)
    expect(refusal).to_be_hidden()
    job_succeeded(ui, job)
    with lab_host(ui.stack).lock:
        assert (vm.cpu_count, vm.memory_mb) == (4, 3072)
    assert running(ui.stack, vm)  # shut down for the change and started again
    expect(page.locator(".facts div", has_text="Virtual processors").locator("dd")).to_have_text("4")
    expect(size.get_by_label("Allow restart", exact=True)).not_to_be_checked()

    size.get_by_label("Notes", exact=True).fill("Owner: web team")
    job_succeeded(ui, accepted(ui, size.get_by_role("button", name="Apply changes").click))
    with lab_host(ui.stack).lock:
        assert vm.notes.startswith("Owner: web team") and vm.state == "Running"
    expect(size.get_by_label("Notes", exact=True)).to_have_value("Owner: web team")


def test_add_expand_and_remove_a_data_disk(ui: Ui) -> None:
    vm = make_vm(ui.stack)
    page = open_vm(ui, vm)
    disks = page.locator("section[aria-labelledby=s-disks]")
    rows = disks.locator("tbody tr")
    expect(rows).to_have_count(1)
    boot = rows.first
    expect(boot.locator("td[data-label=Boot]")).to_have_text("Boot disk")
    expect(boot.locator("button[data-action=remove-disk]")).to_have_count(0)  # never offered for the boot disk

    disks.locator("button[data-action=add-disk]").click()
    page.get_by_role("dialog").get_by_label("Size (GB)", exact=True).fill("20")
    job_succeeded(ui, dialog_submit(ui, "Add disk"))
    with lab_host(ui.stack).lock:
        assert len(vm.disks) == 2
        added = vm.disks[1]
        assert added.controller_type == "SCSI"
    expect(rows).to_have_count(2)
    data = rows.filter(has_not_text="Boot disk")
    expect(data.locator("td[data-label=Size]")).to_have_text("20 GB")
    expect(data.locator("td[data-label=Controller]")).to_have_text(re.compile(r"SCSI 0:\d+"))

    data.locator("button[data-action=expand-disk]").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("New size (GB)", exact=True).fill("10")
    with page.expect_response(lambda r: r.url.endswith("/expand")) as answer:
        dialog.get_by_role("button", name="Expand", exact=True).click()
    assert answer.value.status == 422
    error = dialog.locator(".field-error")
    expect(error).to_contain_text("Must be larger than the disk's current 20 GB (disks only grow)")
    expect(dialog.get_by_label("New size (GB)", exact=True)).to_have_attribute("aria-invalid", "true")
    ui.shot("vm-disk-expand-refused")
    dialog.get_by_label("New size (GB)", exact=True).fill("30")
    job_succeeded(ui, dialog_submit(ui, "Expand"))
    file = lab_host(ui.stack).fs.get(added.path)
    assert file is not None and file.virtual_size == 30 * GIB
    expect(data.locator("td[data-label=Size]")).to_have_text("30 GB")

    data.locator("button[data-action=remove-disk]").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("cannot be undone")
    job_succeeded(ui, dialog_submit(ui, "Remove disk"))
    with lab_host(ui.stack).lock:
        assert len(vm.disks) == 1
    assert lab_host(ui.stack).fs.get(added.path) is None
    expect(rows).to_have_count(1)


def test_add_change_and_remove_a_network_adapter(ui: Ui) -> None:
    vm = make_vm(ui.stack)
    page = open_vm(ui, vm)
    nics = page.locator("section[aria-labelledby=s-nics]")
    rows = nics.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(nics.locator("button[data-action=remove-nic]")).to_have_count(0)  # the last adapter stays
    expect(rows.first).to_contain_text("last adapter")

    nics.locator("button[data-action=add-nic]").click()
    dialog = page.get_by_role("dialog")
    switch = dialog.get_by_label("Virtual switch", exact=True)
    expect(switch.locator("option")).to_have_text(["External", "Internal", "Lab"])  # the host's switches
    switch.select_option("Internal")
    dialog.get_by_label("VLAN ID", exact=True).fill("42")
    job_succeeded(ui, dialog_submit(ui, "Add adapter"))
    with lab_host(ui.stack).lock:
        added = next(n for n in vm.nics if n.switch == "Internal")
        assert added.vlan_id == 42
    expect(rows).to_have_count(2)
    row = rows.filter(has_text="Internal")
    expect(row.locator("td[data-label=VLAN]")).to_have_text("42")
    expect(nics.locator("button[data-action=remove-nic]")).to_have_count(2)

    row.locator("button[data-action=change-nic]").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Virtual switch", exact=True).select_option("Lab")
    dialog.get_by_label("Untagged (no VLAN)", exact=True).check()
    expect(dialog.get_by_label("VLAN ID", exact=True)).to_be_disabled()
    job_succeeded(ui, dialog_submit(ui, "Change adapter"))
    with lab_host(ui.stack).lock:
        assert (added.switch, added.vlan_id) == ("Lab", None)
    row = rows.filter(has_text="Lab")
    expect(row.locator("td[data-label=VLAN]")).to_have_text("untagged")

    row.locator("button[data-action=remove-nic]").click()
    job_succeeded(ui, dialog_submit(ui, "Remove adapter"))
    with lab_host(ui.stack).lock:
        assert [n.switch for n in vm.nics] == ["External"]
    expect(rows).to_have_count(1)
    ui.shot("vm-changes")


def test_a_reader_cannot_use_the_change_controls(ui: Ui) -> None:
    vm = make_vm(ui.stack)

    def reader_only(route: Any) -> None:
        config = route.fetch().json()
        config["local"]["roles"] = ["Aether.Reader"]
        route.fulfill(json=config)

    ui.page.route("**/ui-config.json", reader_only)
    page = open_vm(ui, vm)
    size = page.locator("section[aria-labelledby=s-size]")
    expect(size.get_by_label("Virtual processors", exact=True)).to_be_disabled()
    resize = page.locator("button[data-action=resize]")
    expect(resize).to_be_disabled()
    expect(resize).to_have_attribute("title", re.compile("Needs the Aether.Operator role"))
    for action in ("add-disk", "expand-disk", "add-nic", "change-nic"):
        expect(page.locator(f"button[data-action={action}]").first).to_be_disabled()
