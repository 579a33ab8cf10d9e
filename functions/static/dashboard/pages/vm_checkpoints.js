// The VM page's checkpoints: the list read from the VM's host (GET /vms/{id}/checkpoints), Create (a name), Apply
// (confirmed; a running VM offers "allow restart") and Delete (confirmed), each a job. The list is read again when a
// job on the VM ends or the inventory's checkpoint count changes — not on every poll, since it asks the host.

import { h, replace } from "../dom.js";
import { clock, fullTime } from "../format.js";
import { field, formDialog, problemSlot } from "../forms.js";
import { confirmDialog, dataTable, emptyState, guardedButton } from "../ui.js";

export function checkpointsSection(page) {
  const toolbar = h("div", { class: "toolbar section-tools" });
  const body = h("div", { class: "checkpoints" }, h("p", { class: "muted" }, "Loading…"));
  const problem = problemSlot(); // a refusal of Delete (which has no form of its own)
  const el = h("section", { "aria-labelledby": "s-checkpoints" }, h("div", { class: "section-head" }, h("h2", { id: "s-checkpoints" }, "Checkpoints"), toolbar), problem, body);
  let items = null; // the checkpoints last read, or null before the first answer
  let failure = null; // the error of the last read
  let loadedCount = null; // the inventory's checkpoint_count when they were read
  let loading = false;

  function control(action, label, onclick, danger = false) {
    return guardedButton(page.session, "operator", { class: `btn btn-small${danger ? " btn-danger" : ""}`, dataset: { action }, disabled: page.busy(), onclick }, label);
  }

  async function load() {
    if (loading) return;
    loading = true;
    loadedCount = page.vm().checkpoint_count;
    try {
      const listing = await page.api.get(`/vms/${encodeURIComponent(page.vm().id)}/checkpoints`, { signal: page.signal });
      items = listing.items;
      failure = null;
    } catch (error) {
      if (error.name === "AbortError") throw error;
      failure = error;
    } finally {
      loading = false;
    }
    draw();
  }

  function draw() {
    replace(toolbar, control("create-checkpoint", "Create checkpoint", create));
    if (failure) {
      replace(
        body,
        h(
          "div",
          { class: "panel panel-error", role: "alert" },
          h("p", {}, h("strong", {}, `Could not read the checkpoints from ${page.vm().host}: `), failure.summary || failure.message),
          h("button", { type: "button", class: "btn", onclick: () => load() }, "Try again"),
        ),
      );
      return;
    }
    if (items === null) return;
    if (!items.length) {
      replace(body, emptyState("No checkpoints.", "A checkpoint keeps the VM's disks and configuration as they are now, to return to later."));
      return;
    }
    const names = new Map(items.map((c) => [c.id, c.name]));
    replace(
      body,
      dataTable(
        ["Name", "Created", "Parent", "Type", "Actions"],
        items.map((c) => ({
          attrs: { dataset: { checkpoint: c.id } },
          cells: [
            [c.name, c.is_current ? h("span", { class: "badge badge-info badge-inline", title: "The VM's current state derives from this checkpoint" }, "current") : null],
            h("span", { title: fullTime(c.created) }, clock(c.created)),
            c.parent_id ? names.get(c.parent_id) || c.parent_id : "—",
            c.checkpoint_type || "—",
            h("div", { class: "toolbar" }, control("apply-checkpoint", "Apply", () => apply(c)), control("delete-checkpoint", "Delete", () => remove(c), true)),
          ],
        })),
      ),
    );
  }

  async function create() {
    const name = field("name", "Name", h("input", { type: "text", class: "input", maxlength: 100, autocomplete: "off", placeholder: "e.g. before-upgrade" }), "1–100 characters, new on this VM.");
    await formDialog({
      name: "create-checkpoint",
      title: `Create a checkpoint of ${page.vm().name}`,
      intro: "A production checkpoint: the guest's file systems are made consistent; memory is not kept.",
      fields: [name],
      submitLabel: "Create checkpoint",
      submit: ({ fields, summary }) => page.change("POST", "/checkpoints", { name: name.input.value }, { fields, summary }),
    });
  }

  async function apply(checkpoint) {
    const vm = page.vm();
    const live = !vm.stale && !["Off", "Saved"].includes(vm.state);
    const restart = field("allow_restart", "Allow restart", h("input", { type: "checkbox" }), `${vm.name} is ${vm.state}: the job shuts it down, applies the checkpoint and starts it again.`);
    await formDialog({
      name: "apply-checkpoint",
      title: `Apply ${checkpoint.name}?`,
      intro: [
        `${vm.name} returns to its state of ${clock(checkpoint.created)}: what changed on its disks since then is lost, unless another checkpoint keeps it.`,
        live ? "Hyper-V applies a checkpoint only to a VM that is Off or Saved." : null,
      ].filter(Boolean),
      fields: live ? [restart] : [],
      submitLabel: "Apply checkpoint",
      danger: true,
      submit: ({ fields, summary }) => page.change("POST", `/checkpoints/${encodeURIComponent(checkpoint.id)}/apply`, restart.input.checked ? { allow_restart: true } : undefined, { fields, summary }),
    });
  }

  async function remove(checkpoint) {
    const confirmed = await confirmDialog({
      title: `Delete ${checkpoint.name}?`,
      body: `The checkpoint is deleted and Hyper-V merges its disks; ${page.vm().name} itself does not change, but it can no longer return to this point.`,
      confirmLabel: "Delete checkpoint",
      danger: true,
    });
    if (confirmed) await page.change("DELETE", `/checkpoints/${encodeURIComponent(checkpoint.id)}`, undefined, { summary: problem });
  }

  function update() {
    if (loadedCount === null || page.vm().checkpoint_count !== loadedCount) {
      load();
      return;
    }
    const signature = JSON.stringify([items, failure && failure.message, page.busy(), page.vm().state]);
    if (body.dataset.signature === signature) return;
    body.dataset.signature = signature;
    draw();
  }

  return { el, update, jobEnded: () => load() };
}
