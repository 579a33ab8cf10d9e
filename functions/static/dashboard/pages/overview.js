// Overview: clusters and hosts with connection state, capacity and use, stale markers and the last sync.

import { h, reconcile, replace, setText } from "../dom.js";
import { ago, clock, count, fullTime, gb } from "../format.js";
import { approvalText, decisionButtons } from "../approvals.js";
import { dataTable, emptyState, errorPanel, guardedButton, jobProgress, toast } from "../ui.js";

export async function render(ctx) {
  ctx.title("Overview");
  const lastSync = h("span", { class: "muted", id: "last-sync" }, "Last sync —");
  const refreshButton = guardedButton(ctx.session, "operator", { id: "refresh-inventory", onclick: () => refresh() }, "Refresh inventory");
  const refreshStatus = h("div", { class: "refresh-status" });
  const tiles = h("div", { class: "tiles" });
  const clusters = h("div", { class: "clusters" });
  const problem = h("div");
  const approvals = h("section", { "aria-labelledby": "s-approvals", id: "approvals", hidden: true });
  replace(
    ctx.main,
    h(
      "div",
      { class: "page" },
      h("div", { class: "page-head" }, h("h1", {}, "Overview"), h("div", { class: "toolbar" }, lastSync, refreshButton)),
      refreshStatus,
      problem,
      approvals,
      tiles,
      clusters,
    ),
  );

  async function loadApprovals() {
    const page = await ctx.api.get("/jobs?status=AwaitingApproval&limit=50", { signal: ctx.signal });
    // the list's rows are summaries: each pending job is read whole for its approval (there are few)
    const pending = await Promise.all((page.items || []).map((row) => ctx.api.job(row.id, ctx.signal)));
    approvals.hidden = pending.length === 0;
    const signature = JSON.stringify(pending.map((job) => [job.id, job.updated, job.status]));
    if (approvals.dataset.signature === signature) return;
    approvals.dataset.signature = signature;
    const rows = pending.map((job) => [
      h("a", { href: `/jobs/${encodeURIComponent(job.id)}` }, (job.target || {}).name || job.id),
      (job.target || {}).host || "placed automatically",
      (job.requested_by || {}).name || "—",
      h("span", { title: fullTime(job.created) }, clock(job.created)),
      approvalText(job.approval),
      decisionButtons(ctx, job, loadApprovals),
    ]);
    replace(
      approvals,
      h("h2", { id: "s-approvals" }, `Awaiting approval (${pending.length})`),
      dataTable(["VM", "Host", "Requested by", "Since", "Approval", "Decide"], rows),
    );
  }

  async function load() {
    // the pending list is for those who decide; a failure to read it hides it (the page's own load reports errors)
    if (ctx.session.can("admin")) {
      loadApprovals().catch(() => {
        approvals.hidden = true;
      });
    }
    let inventory;
    try {
      inventory = await ctx.api.get("/inventory", { signal: ctx.signal });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      replace(problem, errorPanel(error, load));
      return;
    }
    replace(problem);
    setText(lastSync, inventory.last_sync ? `Last sync ${clock(inventory.last_sync)} (${ago(inventory.last_sync)})` : "Not synced yet");
    lastSync.title = fullTime(inventory.last_sync);
    renderTiles(tiles, inventory);
    if (!inventory.hosts.length) {
      replace(clusters, emptyState("No Hyper-V hosts are configured.", "Add them to the AETHERV_HOSTS setting; the next inventory sync finds them."));
      return;
    }
    if (clusters.querySelector(".empty")) replace(clusters);
    const hostsByName = new Map(inventory.hosts.map((host) => [host.name, host]));
    reconcile(
      clusters,
      inventory.clusters,
      (cluster) => cluster.name,
      (cluster) => h("section", { class: "cluster", "aria-labelledby": `cluster-${cluster.name}` }, h("h2", { id: `cluster-${cluster.name}` }), h("p", { class: "muted cluster-sum" }), h("div", { class: "hosts" })),
      (section, cluster) => {
        const [title, summary, hosts] = section.children;
        setText(title, cluster.name === "Default" ? "Stand-alone hosts" : `Cluster ${cluster.name}`);
        setText(summary, `${cluster.connected_hosts} of ${cluster.total_hosts} hosts connected · ${count(cluster.vm_count)} VMs`);
        reconcile(hosts, cluster.hosts.map((name) => hostsByName.get(name)).filter(Boolean), (host) => host.name, hostCard, updateHostCard);
      },
    );
  }

  async function refresh() {
    let submitted;
    try {
      submitted = await ctx.api.submit("POST", "/inventory/refresh");
    } catch (error) {
      toast(`Refresh not started: ${error.summary || error.message}`, { tone: "bad" });
      return;
    }
    const progress = jobProgress();
    replace(refreshStatus, h("div", { class: "panel panel-note" }, h("p", {}, "Refreshing the inventory… ", h("a", { href: `/jobs/${submitted.id}` }, "job details")), progress.el));
    progress.update(submitted);
    const poll = async () => {
      const job = await ctx.api.job(submitted.id, ctx.signal);
      progress.update(job);
      if (["Succeeded", "Failed", "Canceled"].includes(job.status)) {
        await load();
        setTimeout(() => replace(refreshStatus), job.status === "Succeeded" ? 4000 : 30000);
        return;
      }
      setTimeout(() => poll().catch(() => {}), 700);
    };
    poll().catch(() => {});
  }

  await load();
  ctx.every(10000, load);
}

function renderTiles(tiles, inventory) {
  const data = [
    ["Hosts", `${inventory.connected_hosts} / ${inventory.total_hosts}`, inventory.disconnected_hosts ? `${inventory.disconnected_hosts} disconnected` : "all connected", inventory.disconnected_hosts ? "warn" : "ok"],
    ["VMs", count(inventory.total_vms), inventory.stale_vms ? `${count(inventory.stale_vms)} stale` : "all current", inventory.stale_vms ? "warn" : "ok"],
    ["Clusters", String(inventory.total_clusters), `${inventory.clusters.length} host groups`, "ok"],
  ];
  reconcile(
    tiles,
    data,
    (tile) => tile[0],
    () => h("div", { class: "tile" }, h("span", { class: "tile-label" }), h("span", { class: "tile-value" }), h("span", { class: "tile-note" })),
    (el, [label, value, note, tone]) => {
      setText(el.children[0], label);
      setText(el.children[1], value);
      setText(el.children[2], note);
      el.dataset.tone = tone;
    },
  );
}

function hostCard(host) {
  return h(
    "article",
    { class: "host", "data-host": host.name, "aria-label": `Host ${host.name}` },
    h("header", {}, h("h3", {}, h("a", { href: `/hosts/${encodeURIComponent(host.name)}` }, host.name)), h("span", { class: "badge conn" })),
    h("div", { class: "host-problem", role: "status" }, h("p", {}), h("details", {}, h("summary", {}, "Last error"), h("p", { class: "host-error" }))),
    h("div", { class: "capacity" }),
    h("p", { class: "host-meta muted" }),
  );
}

function meterRow(label, used, total, text) {
  const id = `m-${Math.random().toString(36).slice(2, 8)}`;
  return h(
    "div",
    { class: "meter-row" },
    h("label", { for: id }, label),
    h("meter", { id, min: 0, max: total || 1, value: used || 0, low: (total || 1) * 0.7, high: (total || 1) * 0.9, optimum: 0 }),
    h("span", { class: "meter-text" }, text),
  );
}

function updateHostCard(card, host) {
  const badgeEl = card.querySelector(".conn");
  badgeEl.className = `badge conn badge-${host.connected ? "ok" : "bad"}`;
  setText(badgeEl, host.connected ? "Connected" : "Disconnected");
  card.classList.toggle("host-down", !host.connected);
  const problem = card.querySelector(".host-problem");
  problem.hidden = host.connected;
  if (!host.connected) {
    const since = host.disconnected_since || host.last_attempt;
    setText(problem.querySelector("p"), `Host unreachable since ${clock(since)}. Its ${count(host.vm_count)} VMs show data from ${clock(host.last_seen)} (stale).`);
    problem.title = fullTime(since);
    problem.querySelector("details").hidden = !host.error;
    setText(problem.querySelector(".host-error"), host.error || "");
  }
  const facts = host.facts || {};
  const rows = [];
  if (host.total_memory_gb) {
    const used = host.total_memory_gb - (host.free_memory_gb ?? host.total_memory_gb);
    rows.push(meterRow("Memory", used, host.total_memory_gb, `${gb(used)} of ${gb(host.total_memory_gb)} used`));
  }
  for (const volume of (facts.volumes || []).slice(0, 3)) {
    const used = volume.capacity_gb - volume.free_gb;
    rows.push(meterRow(`Volume ${volume.label || volume.path}`, used, volume.capacity_gb, `${gb(volume.free_gb)} free of ${gb(volume.capacity_gb)}`));
  }
  const capacity = card.querySelector(".capacity");
  const signature = JSON.stringify([host.total_memory_gb, host.free_memory_gb, facts.volumes]);
  if (capacity.dataset.signature !== signature) {
    capacity.dataset.signature = signature;
    replace(capacity, rows.length ? rows : h("p", { class: "muted" }, "Capacity not reported yet."));
  }
  setText(
    card.querySelector(".host-meta"),
    `${host.total_cpu_cores ? `${host.total_cpu_cores} logical processors · ` : ""}${count(host.vm_count)} VMs · ${host.connected ? `seen ${ago(host.last_seen)}` : `last seen ${clock(host.last_seen)}`}`,
  );
}
