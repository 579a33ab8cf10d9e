// Jobs: every workflow run, newest first, filtered by status and kind; paged with the API's continuation token.

import { h, replace, setText, uid } from "../dom.js";
import { clock, fullTime, humanize } from "../format.js";
import { badge, emptyState, errorPanel } from "../ui.js";

const STATUSES = ["Pending", "AwaitingApproval", "Running", "Succeeded", "Failed", "Canceled"];
const KINDS = [
  "create_vm",
  "delete_vm",
  "power_vm",
  "update_vm",
  "add_disk",
  "expand_disk",
  "remove_disk",
  "add_nic",
  "update_nic",
  "remove_nic",
  "create_checkpoint",
  "apply_checkpoint",
  "remove_checkpoint",
  "migrate_vm",
  "refresh_inventory",
];

export async function render(ctx) {
  ctx.title("Jobs");
  const filter = { status: ctx.query.get("status") || "", kind: ctx.query.get("kind") || "" };
  const statusId = uid("status");
  const kindId = uid("kind");
  const statusSelect = h("select", { id: statusId, class: "input" }, h("option", { value: "" }, "Any status"), STATUSES.map((s) => h("option", { value: s }, s)));
  const kindSelect = h("select", { id: kindId, class: "input" }, h("option", { value: "" }, "Any kind"), KINDS.map((k) => h("option", { value: k }, humanize(k))));
  statusSelect.value = filter.status;
  kindSelect.value = filter.kind;
  const tbody = h("tbody");
  const problem = h("div");
  const more = h("button", { type: "button", class: "btn", hidden: true }, "Load more");
  let items = [];
  let continuation = null;
  let extended = false;

  replace(
    ctx.main,
    h(
      "div",
      { class: "page" },
      h("div", { class: "page-head" }, h("h1", {}, "Jobs")),
      h(
        "form",
        { class: "filters", onsubmit: (e) => e.preventDefault() },
        h("div", { class: "field" }, h("label", { for: statusId }, "Status"), statusSelect),
        h("div", { class: "field" }, h("label", { for: kindId }, "Kind"), kindSelect),
      ),
      problem,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "table" },
          h("caption", { class: "sr-only" }, "Jobs, newest first"),
          h("thead", {}, h("tr", {}, ["Job", "Target", "Status", "Step", "Requested by", "Started", "Updated"].map((t) => h("th", { scope: "col" }, t)))),
          tbody,
        ),
      ),
      h("div", { class: "pager" }, more),
    ),
  );

  function path(token) {
    const params = new URLSearchParams({ limit: "50" });
    if (filter.status) params.set("status", filter.status);
    if (filter.kind) params.set("kind", filter.kind);
    if (token) params.set("continuation", token);
    return `/jobs?${params}`;
  }

  function draw() {
    more.hidden = !continuation;
    if (!items.length) {
      replace(tbody, h("tr", {}, h("td", { colspan: 7 }, emptyState(filter.status || filter.kind ? "No jobs match these filters." : "No jobs yet.", "Jobs appear when VMs are created, powered or deleted, and when the inventory is refreshed."))));
      return;
    }
    replace(
      tbody,
      items.map((job) =>
        h(
          "tr",
          { dataset: { job: job.id } },
          h("td", { "data-label": "Job" }, h("a", { href: `/jobs/${encodeURIComponent(job.id)}` }, humanize(job.kind))),
          h("td", { "data-label": "Target" }, targetText(job)),
          h("td", { "data-label": "Status" }, badge(job.status)),
          h("td", { "data-label": "Step" }, humanize(job.current_step || "—")),
          h("td", { "data-label": "Requested by" }, (job.requested_by || {}).name || "—"),
          h("td", { "data-label": "Started", title: fullTime(job.created) }, clock(job.created)),
          h("td", { "data-label": "Updated", title: fullTime(job.updated) }, clock(job.updated)),
        ),
      ),
    );
  }

  async function load() {
    ctx.setQuery(filter);
    try {
      const page = await ctx.api.get(path(null), { signal: ctx.signal });
      const signature = JSON.stringify(page.items);
      if (problem.firstChild) replace(problem);
      if (signature === tbody.dataset.signature) return;
      tbody.dataset.signature = signature;
      items = page.items;
      continuation = page.continuation;
      extended = false;
      draw();
    } catch (error) {
      if (error.name === "AbortError") throw error;
      replace(problem, errorPanel(error, load));
    }
  }

  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      const page = await ctx.api.get(path(continuation), { signal: ctx.signal });
      items = items.concat(page.items);
      continuation = page.continuation;
      extended = true;
      draw();
    } finally {
      more.disabled = false;
    }
  });
  for (const [select, key] of [
    [statusSelect, "status"],
    [kindSelect, "kind"],
  ]) {
    select.addEventListener("change", () => {
      filter[key] = select.value;
      tbody.dataset.signature = "";
      load();
    });
  }
  await load();
  ctx.every(5000, () => (extended ? null : load()));
}

/** "web01 on hv01", "all hosts" … */
export function targetText(job) {
  const t = job.target || {};
  if (job.kind === "refresh_inventory") return t.host ? `host ${t.host}` : "all hosts";
  return [t.name, t.host ? `on ${t.host}` : null].filter(Boolean).join(" ") || "—";
}
