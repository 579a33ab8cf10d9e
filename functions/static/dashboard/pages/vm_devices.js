// The VM page's disks and network adapters: the tables, and Add / Expand / Remove of data disks and Add / Change /
// Remove of adapters, each a job (POST/DELETE /vms/{id}/disks…, /vms/{id}/nics…). The boot disk and the VM's last
// adapter offer no Remove (the API refuses both); removals are confirmed first.

import { h, replace } from "../dom.js";
import { field, formDialog, numberInput, numberValue, problemSlot } from "../forms.js";
import { gb } from "../format.js";
import { confirmDialog, dataTable, emptyState, guardedButton, toast } from "../ui.js";

function leaf(path) {
  return String(path || "").split(/[\\/]/).pop();
}

function diskName(disk) {
  return disk.name || leaf(disk.path) || "disk";
}

function diskSize(disk) {
  return disk.size_gb ?? disk.capacity_gb;
}

function location(disk) {
  if (!disk.controller_type) return "—";
  return `${disk.controller_type} ${disk.controller_number ?? 0}:${disk.controller_location ?? 0}`;
}

/** A role-gated row or toolbar button, disabled while a job runs on the VM. */
function control(page, action, label, onclick, { danger = false } = {}) {
  return guardedButton(page.session, "operator", { class: `btn btn-small${danger ? " btn-danger" : ""}`, dataset: { action }, disabled: page.busy(), onclick }, label);
}

/** Redraws `body` only when what it shows changed (the page polls every few seconds). */
function redrawer(body, draw) {
  return (signature) => {
    if (body.dataset.signature === signature) return;
    body.dataset.signature = signature;
    replace(body, draw());
  };
}

export function disksSection(page) {
  const toolbar = h("div", { class: "toolbar section-tools" });
  const body = h("div");
  const problem = problemSlot(); // a refusal of Remove (which has no form of its own)
  const el = h("section", { "aria-labelledby": "s-disks" }, h("div", { class: "section-head" }, h("h2", { id: "s-disks" }, "Disks"), toolbar), problem, body);
  const redraw = redrawer(body, draw);

  function draw() {
    const vm = page.vm();
    replace(toolbar, control(page, "add-disk", "Add disk", add));
    const disks = vm.disks || [];
    if (!disks.length) return emptyState("No virtual disks.");
    return dataTable(
      ["Name", "Size", "Controller", "Boot", "Path", "Actions"],
      disks.map((disk) => ({
        attrs: { dataset: { disk: disk.id || "" } },
        cells: [
          diskName(disk),
          gb(diskSize(disk)),
          location(disk),
          disk.boot ? "Boot disk" : "—",
          h("code", { class: "path" }, disk.path || "—"),
          disk.id
            ? h(
                "div",
                { class: "toolbar" },
                control(page, "expand-disk", "Expand", () => expand(disk)),
                disk.boot ? null : control(page, "remove-disk", "Remove", () => remove(disk), { danger: true }),
              )
            : "—",
        ],
      })),
    );
  }

  async function add() {
    const size = field("size_gb", "Size (GB)", numberInput({ min: 1, max: 65536 }), "A new dynamic VHDX in the VM's folder, on its SCSI controller (1–65,536 GB).");
    await formDialog({
      name: "add-disk",
      title: `Add a disk to ${page.vm().name}`,
      fields: [size],
      submitLabel: "Add disk",
      submit: ({ fields, summary }) => page.change("POST", "/disks", { size_gb: numberValue(size.input) }, { fields, summary }),
    });
  }

  async function expand(disk) {
    const current = diskSize(disk);
    const size = field("size_gb", "New size (GB)", numberInput({ min: Math.floor(current || 0) + 1, max: 65536 }), `Now ${gb(current)}; disks only grow. The guest extends its partition itself.`);
    await formDialog({
      name: "expand-disk",
      title: `Expand ${diskName(disk)}`,
      fields: [size],
      submitLabel: "Expand",
      submit: ({ fields, summary }) => page.change("POST", `/disks/${encodeURIComponent(disk.id)}/expand`, { size_gb: numberValue(size.input) }, { fields, summary }),
    });
  }

  async function remove(disk) {
    const vm = page.vm();
    const confirmed = await confirmDialog({
      title: `Remove ${diskName(disk)}?`,
      body: `The disk is detached from ${vm.name} and its file ${disk.path || ""} is deleted from ${vm.host}. Its data is lost; this cannot be undone.`,
      confirmLabel: "Remove disk",
      danger: true,
    });
    if (confirmed) await page.change("DELETE", `/disks/${encodeURIComponent(disk.id)}`, undefined, { summary: problem });
  }

  return { el, update: () => redraw(JSON.stringify([page.vm().disks, page.busy()])) };
}

export function nicsSection(page) {
  const toolbar = h("div", { class: "toolbar section-tools" });
  const body = h("div");
  const problem = problemSlot(); // a refusal of Remove (which has no form of its own)
  const el = h("section", { "aria-labelledby": "s-nics" }, h("div", { class: "section-head" }, h("h2", { id: "s-nics" }, "Network adapters"), toolbar), problem, body);
  const redraw = redrawer(body, draw);

  function draw() {
    const vm = page.vm();
    replace(toolbar, control(page, "add-nic", "Add adapter", add));
    const nics = vm.nics || [];
    if (!nics.length) return emptyState("No network adapters.");
    const last = nics.length === 1;
    return dataTable(
      ["Name", "Switch", "VLAN", "MAC address", "IP addresses", "Actions"],
      nics.map((nic) => ({
        attrs: { dataset: { nic: nic.id || "" } },
        cells: [
          nic.name || "—",
          nic.network || h("span", { class: "muted" }, "not connected"),
          nic.vlan_id ?? "untagged",
          nic.mac || "—",
          (nic.ip_addresses || []).join(", ") || "—",
          nic.id
            ? h(
                "div",
                { class: "toolbar" },
                control(page, "change-nic", "Change", () => change(nic)),
                last ? h("span", { class: "muted", title: "A VM keeps at least one network adapter: add another first" }, "last adapter") : control(page, "remove-nic", "Remove", () => remove(nic), { danger: true }),
              )
            : "—",
        ],
      })),
    );
  }

  /** The names of the switches of the VM's host (from the inventory); null (and a message) when it cannot be read. */
  async function switches() {
    try {
      const host = await page.api.get(`/hosts/${encodeURIComponent(page.vm().host)}`, { signal: page.signal });
      return ((host.facts || {}).switches || []).map((s) => s.name).filter(Boolean);
    } catch (error) {
      if (error.name === "AbortError") throw error;
      toast(`Could not list the switches of ${page.vm().host}: ${error.summary || error.message}`, { tone: "bad" });
      return null;
    }
  }

  function networkSelect(names, current, { keep = false } = {}) {
    const select = h(
      "select",
      { class: "input" },
      keep ? h("option", { value: "" }, `Keep ${current || "not connected"}`) : null,
      names.map((name) => h("option", { value: name }, name)),
    );
    if (!keep && current && names.includes(current)) select.value = current;
    return select;
  }

  async function add() {
    const names = await switches();
    if (!names) return;
    const network = field("network", "Virtual switch", networkSelect(names, null), `A virtual switch of ${page.vm().host}.`);
    const vlan = field("vlan_id", "VLAN ID", numberInput({ min: 1, max: 4094 }), "Optional access VLAN (1–4094); empty: untagged.");
    await formDialog({
      name: "add-nic",
      title: `Add a network adapter to ${page.vm().name}`,
      intro: page.vm().generation === 1 ? "A generation 1 VM gets a new adapter only while it is Off." : null,
      fields: [network, vlan],
      submitLabel: "Add adapter",
      submit: ({ fields, summary }) => {
        const body = { network: network.input.value };
        const id = numberValue(vlan.input);
        if (id !== null) body.vlan_id = id;
        return page.change("POST", "/nics", body, { fields, summary });
      },
    });
  }

  async function change(nic) {
    const names = await switches();
    if (!names) return;
    const network = field("network", "Virtual switch", networkSelect(names, nic.network, { keep: true }), "Reconnect the adapter to another switch of the host.");
    const untagged = field("untagged", "Untagged (no VLAN)", h("input", { type: "checkbox", checked: nic.vlan_id === null || nic.vlan_id === undefined }));
    const vlan = field("vlan_id", "VLAN ID", numberInput({ min: 1, max: 4094, value: nic.vlan_id ?? "" }), "Access VLAN, 1–4094.");
    const sync = () => (vlan.input.disabled = untagged.input.checked);
    untagged.input.addEventListener("change", sync);
    sync();
    await formDialog({
      name: "change-nic",
      title: `Change ${nic.name || "adapter"}`,
      intro: `Now on ${nic.network || "no switch"}, ${nic.vlan_id ? `VLAN ${nic.vlan_id}` : "untagged"}.`,
      fields: [network, untagged, vlan],
      submitLabel: "Change adapter",
      submit: ({ fields, summary }) => {
        const body = { vlan_id: untagged.input.checked ? null : numberValue(vlan.input) };
        if (network.input.value) body.network = network.input.value;
        return page.change("PATCH", `/nics/${encodeURIComponent(nic.id)}`, body, { fields, summary });
      },
    });
  }

  async function remove(nic) {
    const vm = page.vm();
    const confirmed = await confirmDialog({
      title: `Remove ${nic.name || "the adapter"}?`,
      body: `The adapter (${nic.mac || "no MAC"}, on ${nic.network || "no switch"}) is removed from ${vm.name}; the guest loses that connection.`,
      confirmLabel: "Remove adapter",
      danger: true,
    });
    if (confirmed) await page.change("DELETE", `/nics/${encodeURIComponent(nic.id)}`, undefined, { summary: problem });
  }

  return { el, update: () => redraw(JSON.stringify([page.vm().nics, page.busy()])) };
}
