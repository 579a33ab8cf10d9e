"""The VM page's day-2 controls in Chromium: size and notes, disks, network adapters, checkpoints, migration — each
driven on the page, its job followed there, and the outcome checked on the simulated hosts (hvsim's model), plus the
API's refusals shown next to the form that caused them and the controls a reader cannot use.

Each test makes its own VM on ``hv03`` out of band (as ``tests/e2e/test_vm_changes.py`` does) and lets the inventory
learn it before the page is opened.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from tests.e2e.dashboard.conftest import Ui
from tests.e2e.test_vm_changes import lab_host, make_vm, run, running
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
    for action in ("add-disk", "expand-disk", "add-nic", "change-nic", "create-checkpoint", "migrate"):
        expect(page.locator(f"button[data-action={action}]").first).to_be_disabled()
    unlabeled = page.evaluate(
        """() => Array.from(document.querySelectorAll('main input, main select, main textarea'))
             .filter(el => !el.labels || el.labels.length === 0).map(el => el.name || el.id)"""
    )
    assert unlabeled == []


def test_create_apply_and_delete_checkpoints(ui: Ui) -> None:
    vm = make_vm(ui.stack)
    assert run(ui.stack, "POST", f"/api/v1/vms/{vm.id}/disks", {"size_gb": 5})["status"] == "Succeeded"
    page = open_vm(ui, vm)
    section = page.locator("section[aria-labelledby=s-checkpoints]")
    expect(section.locator(".empty-title")).to_have_text("No checkpoints.")
    rows = section.locator("tbody tr")

    for name in ("before-upgrade", "after-upgrade"):
        section.locator("button[data-action=create-checkpoint]").click()
        page.get_by_role("dialog").get_by_label("Name", exact=True).fill(name)
        job_succeeded(ui, dialog_submit(ui, "Create checkpoint"))
    with lab_host(ui.stack).lock:
        taken = {c.name: c for c in vm.checkpoints}
        assert set(taken) == {"before-upgrade", "after-upgrade"}
        assert taken["after-upgrade"].parent_id == taken["before-upgrade"].id
    expect(rows).to_have_count(2)
    first = section.locator(f"tr[data-checkpoint='{taken['before-upgrade'].id}']")
    second = section.locator(f"tr[data-checkpoint='{taken['after-upgrade'].id}']")
    expect(second.locator("td[data-label=Parent]")).to_have_text("before-upgrade")
    expect(second.locator("td[data-label=Type]")).to_have_text("Production")
    expect(second.locator("td[data-label=Name]")).to_contain_text("current")

    # the disks of a VM with checkpoints are differencing chains: neither expanded nor removed (409, shown in place)
    disks = page.locator("section[aria-labelledby=s-disks]")
    data = disks.locator("tbody tr").filter(has_not_text="Boot disk")
    data.locator("button[data-action=expand-disk]").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("New size (GB)", exact=True).fill("40")
    dialog.get_by_role("button", name="Expand", exact=True).click()
    expect(dialog.locator(".form-problem")).to_contain_text("a disk of a VM with checkpoints cannot be expanded")
    dialog.get_by_role("button", name="Cancel").click()
    data.locator("button[data-action=remove-disk]").click()
    page.get_by_role("dialog").get_by_role("button", name="Remove disk").click()
    expect(disks.locator(".form-problem")).to_contain_text("delete the checkpoints first")
    with lab_host(ui.stack).lock:
        assert len(vm.disks) == 2

    first.locator("button[data-action=apply-checkpoint]").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("only to a VM that is Off or Saved")
    with page.expect_response(lambda r: r.url.endswith("/apply")) as answer:
        dialog.get_by_role("button", name="Apply checkpoint").click()
    assert answer.value.status == 409
    expect(dialog.locator(".form-problem")).to_contain_text("allow_restart")
    with lab_host(ui.stack).lock:
        assert vm.current_checkpoint_id == taken["after-upgrade"].id  # nothing applied
    dialog.get_by_label("Allow restart", exact=True).check()
    job_succeeded(ui, dialog_submit(ui, "Apply checkpoint"))
    with lab_host(ui.stack).lock:
        assert vm.current_checkpoint_id == taken["before-upgrade"].id
    assert running(ui.stack, vm)  # started again after the apply
    expect(first.locator("td[data-label=Name]")).to_contain_text("current")

    second.locator("button[data-action=delete-checkpoint]").click()
    expect(page.get_by_role("dialog")).to_contain_text("merges its disks")
    job_succeeded(ui, dialog_submit(ui, "Delete checkpoint"))
    with lab_host(ui.stack).lock:
        assert [c.name for c in vm.checkpoints] == ["before-upgrade"]
    expect(rows).to_have_count(1)
    ui.shot("vm-checkpoints")
    ui.on_phone()
    assert ui.fits_width()
    ui.shot("vm-checkpoints", phone=True)


def test_migrate_lists_eligible_hosts_and_moves_a_stand_alone_vm_with_its_storage(ui: Ui) -> None:
    _, _, listed = ui.stack.request("GET", "/api/v1/vms?host=hv01&limit=100")
    clustered = next(v for v in listed["items"] if v["clustered"] and not v["stale"])
    page = ui.goto(f"/vms/{clustered['id']}")
    page.locator("button[data-action=migrate]").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_label("Destination host", exact=True).locator("option")).to_have_text(
        [re.compile(r"^hv02 \(cluster hvclu01\)")]  # only the other node of its cluster
    )
    expect(dialog.get_by_label("Storage path (optional)", exact=True)).to_have_count(0)
    dialog.get_by_role("button", name="Cancel").click()

    vm = make_vm(ui.stack)
    page = open_vm(ui, vm)
    page.locator("button[data-action=migrate]").click()
    dialog = page.get_by_role("dialog")
    choice = dialog.get_by_label("Destination host", exact=True)
    expect(choice.locator("option")).to_have_text([re.compile(r"^hv01 "), re.compile(r"^hv02 ")])  # not hv03
    choice.select_option("hv02")
    target = f"C:\\Hyper-V\\Moved\\{vm.name}"
    dialog.get_by_label("Storage path (optional)", exact=True).fill(target)
    dialog.get_by_role("button", name="Migrate…").click()
    confirm = page.get_by_role("dialog").filter(has_text=f"Migrate {vm.name} to hv02?")
    expect(confirm).to_contain_text("its files move from hv03 to hv02")
    job_id = accepted(ui, lambda: confirm.get_by_role("button", name="Migrate", exact=True).click())
    expect(page.get_by_role("dialog")).to_have_count(0)
    job_succeeded(ui, job_id)
    destination = ui.stack.lab.host("hv02").model
    with destination.lock:
        moved = destination.vms[vm.id]
        assert moved.folder.lower().startswith(target.lower()) and moved.state == "Running"
    assert vm.id not in lab_host(ui.stack).vms
    expect(page.locator(".crumbs")).to_contain_text("hv02")
    expect(page.locator(".facts div", has_text="Host").first.locator("dd")).to_have_text("hv02")
