// The VM page's Migrate dialog (POST /vms/{id}/migrate): the hosts that can take the VM — connected, not its own,
// and for a clustered VM only the nodes of its cluster — with their free memory; for a stand-alone VM an optional
// folder for its files on the destination. Confirmed before it is sent.

import { h } from "../dom.js";
import { gb } from "../format.js";
import { field, formDialog } from "../forms.js";
import { confirmDialog, toast } from "../ui.js";

/** The hosts `vm` can move to, from GET /hosts. */
export function eligibleHosts(vm, hosts) {
  return hosts.filter((host) => host.connected && host.name.toLowerCase() !== vm.host.toLowerCase() && (!vm.clustered || host.cluster === vm.cluster));
}

function describe(host) {
  const memory = host.free_memory_gb !== null && host.free_memory_gb !== undefined ? ` — ${gb(host.free_memory_gb)} free of ${gb(host.total_memory_gb)}` : "";
  const cluster = host.cluster && host.cluster !== "Default" ? ` (cluster ${host.cluster})` : "";
  return `${host.name}${cluster}${memory}`;
}

export async function migrateDialog(page) {
  const vm = page.vm();
  let hosts;
  try {
    hosts = (await page.api.get("/hosts", { signal: page.signal })).items;
  } catch (error) {
    if (error.name === "AbortError") throw error;
    toast(`Could not list the hosts: ${error.summary || error.message}`, { tone: "bad" });
    return;
  }
  const eligible = eligibleHosts(vm, hosts);
  if (!eligible.length) {
    toast(vm.clustered ? `No other node of cluster ${vm.cluster} is connected: ${vm.name} cannot move now.` : `No other host is connected: ${vm.name} cannot move now.`, { tone: "bad" });
    return;
  }
  const destination = field(
    "host",
    "Destination host",
    h("select", { class: "input" }, eligible.map((host) => h("option", { value: host.name }, describe(host)))),
    vm.clustered ? `The connected nodes of cluster ${vm.cluster}.` : "Connected hosts; the destination needs every switch the VM's adapters use.",
  );
  const fields = [destination];
  let storage = null;
  if (!vm.clustered) {
    storage = field("storage_path", "Storage path (optional)", h("input", { type: "text", class: "input", autocomplete: "off", spellcheck: "false", placeholder: "e.g. D:\\Hyper-V" }), "A folder on the destination for the VM's files; empty: its default VM folder.");
    fields.push(storage);
  }
  const running = vm.state === "Running";
  await formDialog({
    name: "migrate",
    title: `Migrate ${vm.name}`,
    intro: vm.clustered
      ? `A live migration to another node of cluster ${vm.cluster}: the VM's files stay on the cluster's shared volumes${running ? " and it keeps running" : ""}.`
      : `A shared-nothing live migration: ${vm.name} moves from ${vm.host} with its disks and configuration${running ? " and keeps running" : ""}.`,
    fields,
    submitLabel: "Migrate…",
    submit: async ({ summary }) => {
      const host = destination.input.value;
      const path = storage ? storage.input.value.trim() : "";
      const confirmed = await confirmDialog({
        title: `Migrate ${vm.name} to ${host}?`,
        body: vm.clustered
          ? `${vm.name} moves from ${vm.host} to ${host}.`
          : `${vm.name} and its files move from ${vm.host} to ${host}${path ? ` (${path})` : ""}; the files on ${vm.host} are deleted once it has moved.`,
        confirmLabel: "Migrate",
      });
      if (!confirmed) return false;
      return page.change("POST", "/migrate", path ? { host, storage_path: path } : { host }, { fields, summary });
    },
  });
}
