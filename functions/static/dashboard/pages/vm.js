// VM detail: summary, size and notes, disks, network adapters, checkpoints, its jobs; power actions, migration and
// delete with confirmation, and the day-2 changes. The sections that change the VM live in vm_resize.js,
// vm_devices.js and vm_checkpoints.js, the migrate dialog in vm_migrate.js; this module holds the VM, polls it and
// runs every change the same way: submit → follow the job live → reload the VM.

import { ApiError } from "../api.js";
import { h, replace, setText } from "../dom.js";
import { ago, clock, duration, fullTime, gb, humanize } from "../format.js";
import { clearProblems, showProblems } from "../forms.js";
import { orphanMarker } from "../orphan.js";
import { badge, confirmDialog, dataTable, emptyState, errorPanel, facts, guardedButton, jobProgress, staleMarker, toast, updateBadge } from "../ui.js";
import { checkpointsSection } from "./vm_checkpoints.js";
import { disksSection, nicsSection } from "./vm_devices.js";
import { leaseSection } from "./vm_lease.js";
import { migrateDialog } from "./vm_migrate.js";
import { resizeSection } from "./vm_resize.js";

// action -> [label, states it applies to, confirmation text (null: none)]
const ACTIONS = {
  start: ["Start", ["Off", "Saved", "Paused"], null],
  shutdown: ["Shut down", ["Running"], "The guest OS is asked to shut down cleanly."],
  stop: ["Turn off", ["Running", "Paused", "Saved", "Starting", "Stopping"], "Turning off is like pulling the plug: unsaved data in the guest is lost."],
  restart: ["Restart", ["Running"], "The VM is reset: unsaved data in the guest is lost."],
};
const FINAL = ["Succeeded", "Failed", "Canceled"];

export async function render(ctx) {
  const [vmId] = ctx.params;
  let vm;
  try {
    vm = await ctx.api.get(`/vms/${encodeURIComponent(vmId)}`, { signal: ctx.signal });
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      ctx.title("VM not found");
      replace(ctx.main, h("div", { class: "page" }, h("h1", {}, "VM not found"), emptyState("This VM is not in the inventory.", "It may have been deleted, or the inventory has not seen it yet."), h("p", {}, h("a", { href: "/vms" }, "Back to the VM list"))));
      return;
    }
    throw error;
  }
  ctx.title(vm.name);

  const title = h("h1", {}, vm.name);
  const stateBadge = badge(vm.state);
  const staleSlot = h("span");
  const actions = h("div", { class: "toolbar actions", role: "group", "aria-label": "VM actions" });
  const activity = h("div", { class: "activity" });
  const hostCrumb = h("span");
  const summary = h("div");
  const jobList = h("div");
  const problem = h("div");
  let running = null; // the job started from this page

  // What the change sections see of the page: the VM as last loaded, whether a job runs, and change().
  const page = { session: ctx.session, api: ctx.api, signal: ctx.signal, vm: () => vm, busy: () => Boolean(running), change };
  const sections = [leaseSection(page), resizeSection(page), disksSection(page), nicsSection(page), checkpointsSection(page)];

  replace(
    ctx.main,
    h(
      "div",
      { class: "page" },
      h("p", { class: "crumbs" }, h("a", { href: "/vms" }, "VMs"), " / ", hostCrumb),
      h("div", { class: "page-head" }, h("div", { class: "title-row" }, title, stateBadge, staleSlot), actions),
      problem,
      activity,
      h("section", { "aria-labelledby": "s-summary" }, h("h2", { id: "s-summary" }, "Summary"), summary),
      sections.map((section) => section.el),
      h("section", { "aria-labelledby": "s-jobs" }, h("h2", { id: "s-jobs" }, "Jobs"), jobList),
    ),
  );

  function renderActions() {
    const busy = Boolean(running);
    const buttons = Object.entries(ACTIONS).map(([action, [label, states]]) => {
      // Like the server: the state rules apply to current data; a stale VM's real state is unknown.
      const applies = vm.stale || states.includes(vm.state);
      const button = guardedButton(ctx.session, "operator", { dataset: { action }, disabled: busy || !applies, onclick: () => act(action) }, label);
      const inner = button.tagName === "BUTTON" ? button : button.querySelector("button");
      if (ctx.session.can("operator") && !applies) inner.title = `Not available while the VM is ${vm.state}`;
      else if (vm.stale) inner.title = "Its host is not answering: the VM's state is unknown and the action may fail";
      return button;
    });
    buttons.push(guardedButton(ctx.session, "operator", { dataset: { action: "migrate" }, disabled: busy, onclick: () => migrateDialog(page) }, "Migrate…"));
    buttons.push(guardedButton(ctx.session, "operator", { class: "btn btn-danger", dataset: { action: "delete" }, disabled: busy, onclick: () => remove() }, "Delete"));
    replace(actions, buttons);
    for (const section of sections) section.update();
  }

  function renderVm() {
    setText(title, vm.name);
    setText(hostCrumb, vm.host);
    updateBadge(stateBadge, vm.state);
    replace(staleSlot, vm.stale ? staleMarker(vm.last_seen) : null, orphanMarker(vm));
    replace(
      summary,
      facts([
        ["Host", h("a", { href: `/vms?host=${encodeURIComponent(vm.host)}` }, vm.host)],
        ["Cluster", vm.cluster || "—"],
        ["Operating system", vm.os_name || (vm.os_family ? humanize(vm.os_family) : "—")],
        ["Virtual processors", vm.cpu_cores ?? "—"],
        ["Memory", `${gb(vm.memory_gb)}${vm.dynamic_memory_enabled ? " (dynamic)" : ""}`],
        ["IP addresses", (vm.ip_addresses || []).join(", ") || "—"],
        ["Uptime", vm.state === "Running" ? duration(vm.uptime_seconds) : "—"],
        ["Generation", vm.generation ?? "—"],
        ["Clustered", vm.clustered ? "Yes" : "No"],
        ["Created", vm.created_at ? h("span", { title: fullTime(vm.created_at) }, clock(vm.created_at)) : "—"],
        ["Last seen", h("span", { title: fullTime(vm.last_seen) }, `${clock(vm.last_seen)} (${ago(vm.last_seen)})`)],
        ["Notes", vm.notes || "—"],
        ["ID", h("code", {}, vm.id)],
      ]),
    );
  }

  async function loadJobs() {
    const listing = await ctx.api.get(`/jobs?vm_id=${encodeURIComponent(vm.id)}&limit=20`, { signal: ctx.signal });
    const items = listing.items;
    const signature = JSON.stringify(items.map((j) => [j.id, j.status, j.current_step]));
    if (jobList.dataset.signature === signature) return;
    jobList.dataset.signature = signature;
    replace(
      jobList,
      items.length
        ? dataTable(
            ["Job", "Status", "Step", "By", "Started"],
            items.map((j) => [h("a", { href: `/jobs/${encodeURIComponent(j.id)}` }, humanize(j.kind)), badge(j.status), humanize(j.current_step || "—"), (j.requested_by || {}).name || "—", h("span", { title: fullTime(j.created) }, clock(j.created))]),
          )
        : emptyState("No jobs for this VM yet.", "Power actions, changes and deletes of this VM show up here."),
    );
  }

  async function reload() {
    try {
      vm = await ctx.api.get(`/vms/${encodeURIComponent(vm.id)}`, { signal: ctx.signal });
      if (problem.firstChild) replace(problem);
    } catch (error) {
      if (error.name === "AbortError") throw error;
      if (error instanceof ApiError && error.status === 404 && running && running.kind === "delete_vm") return;
      replace(problem, errorPanel(error, reload));
      return;
    }
    renderVm();
    renderActions();
    await loadJobs();
  }

  async function track(job) {
    running = job;
    renderActions();
    const progress = jobProgress();
    replace(activity, h("div", { class: "panel panel-note", dataset: { job: job.id, kind: job.kind } }, h("p", {}, `${humanize(job.kind)} — `, h("a", { href: `/jobs/${encodeURIComponent(job.id)}` }, "job details")), progress.el));
    progress.update(job);
    while (!ctx.signal.aborted) {
      await new Promise((resolve) => setTimeout(resolve, 700));
      job = await ctx.api.job(job.id, ctx.signal);
      progress.update(job);
      if (FINAL.includes(job.status)) break;
    }
    running = null;
    renderActions();
    if (job.kind === "delete_vm" && job.status === "Succeeded") {
      toast(`${vm.name} was deleted.`, { href: `/jobs/${encodeURIComponent(job.id)}`, linkText: "Job", tone: "ok" });
      ctx.navigate("/vms");
      return;
    }
    if (job.status !== "Succeeded") toast(`${humanize(job.kind)} of ${vm.name}: ${job.status}`, { tone: "bad", href: `/jobs/${encodeURIComponent(job.id)}`, linkText: "Details" });
    await reload();
    for (const section of sections) if (section.jobEnded) section.jobEnded(job);
  }

  /**
   * A change of the VM (`path` below /vms/{id}): once accepted (202) its job is followed on the page and true
   * returned; a refusal is shown next to the form's `fields` and in its `summary` (or above the page) and false
   * returned.
   */
  async function change(method, path, body, { fields = [], summary = null } = {}) {
    if (summary) clearProblems(fields, summary);
    let job;
    try {
      job = await ctx.api.submit(method, `/vms/${encodeURIComponent(vm.id)}${path}`, body);
    } catch (error) {
      if (error.name === "AbortError") throw error;
      if (summary) showProblems(error, fields, summary);
      else replace(activity, h("div", { class: "panel panel-error", role: "alert" }, h("p", {}, error.summary || error.message)));
      return false;
    }
    track(job).catch((error) => {
      if (error.name !== "AbortError") replace(problem, errorPanel(error, reload));
    });
    return true;
  }

  async function submit(method, path, body) {
    try {
      return await ctx.api.submit(method, path, body);
    } catch (error) {
      replace(activity, h("div", { class: "panel panel-error", role: "alert" }, h("p", {}, error.summary || error.message)));
      return null;
    }
  }

  async function act(action) {
    const [label, , warning] = ACTIONS[action];
    if (warning && !(await confirmDialog({ title: `${label} ${vm.name}?`, body: warning, confirmLabel: label, danger: action !== "shutdown" }))) return;
    const job = await submit("POST", `/vms/${encodeURIComponent(vm.id)}/${action}`);
    if (job) await track(job);
  }

  async function remove() {
    const confirmed = await confirmDialog({
      title: `Delete ${vm.name}?`,
      body: `The VM is turned off and removed from ${vm.host} with its virtual disks and folder. This cannot be undone.`,
      confirmLabel: "Delete",
      danger: true,
      requireText: vm.name,
    });
    if (!confirmed) return;
    const job = await submit("DELETE", `/vms/${encodeURIComponent(vm.id)}`);
    if (job) await track(job);
  }

  renderVm();
  renderActions();
  await loadJobs();
  ctx.every(5000, () => (running ? loadJobs() : reload()));
}
