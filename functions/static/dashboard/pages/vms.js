// VM list: search, filter by host/state/staleness, sort, and paging — for thousands of VMs.
//
// The API filters by host and state and pages with continuation tokens; the list loads every matching VM page by
// page (showing the first page at once), then searches (any part of the name, an IP, the OS, notes), sorts and
// pages in the browser. Filters, sort and page live in the URL, so a view can be shared and survives reload.

import { h, replace, setText, uid } from "../dom.js";
import { clock, count, duration, fullTime, gb } from "../format.js";
import { orphanMarker } from "../orphan.js";
import { badge, emptyState, errorPanel, guardedButton, staleMarker } from "../ui.js";
import { countdown } from "./vm_lease.js";

const STATES = ["Running", "Off", "Saved", "Paused", "Starting", "Stopping", "Saving", "Pausing", "Resuming", "Unknown"];
const PAGE_SIZE = 50;
const COLUMNS = [
  ["name", "Name"],
  ["state", "State"],
  ["host", "Host"],
  ["cpu_cores", "vCPU"],
  ["memory_gb", "Memory"],
  ["ip", "IP addresses"],
  ["os", "OS"],
  ["uptime_seconds", "Uptime"],
  ["lease", "Lease"],
];

const collator = new Intl.Collator("en", { numeric: true, sensitivity: "base" });

function sortValue(vm, key) {
  if (key === "ip") return (vm.ip_addresses || [])[0] || "";
  if (key === "os") return vm.os_name || vm.os_family || "";
  if (key === "lease") return vm.lease ? vm.lease.expires_at : "\uffff"; // no lease sorts last
  return vm[key] ?? "";
}

export async function render(ctx) {
  ctx.title("Virtual machines");
  const state = {
    q: ctx.query.get("q") || "",
    host: ctx.query.get("host") || "",
    state: ctx.query.get("state") || "",
    stale: ctx.query.get("stale") === "true",
    expiring: ctx.query.get("expiring") === "true",
    sort: ctx.query.get("sort") || "name",
    dir: ctx.query.get("dir") === "desc" ? "desc" : "asc",
    page: Math.max(1, Number(ctx.query.get("page")) || 1),
  };
  let vms = [];
  let loading = true;
  let truncated = false;
  let loadedFor = null;

  const searchId = uid("q");
  const hostId = uid("host");
  const stateId = uid("state");
  const search = h("input", { type: "search", id: searchId, value: state.q, placeholder: "Name, IP, OS, notes…", autocomplete: "off", class: "input" });
  const hostSelect = h("select", { id: hostId, class: "input" }, h("option", { value: "" }, "All hosts"));
  if (state.host) hostSelect.append(h("option", { value: state.host }, state.host));
  hostSelect.value = state.host;
  const stateSelect = h("select", { id: stateId, class: "input" }, h("option", { value: "" }, "All states"), STATES.map((s) => h("option", { value: s }, s)));
  stateSelect.value = state.state;
  const staleBox = h("input", { type: "checkbox", id: uid("stale"), checked: state.stale });
  const expiringBox = h("input", { type: "checkbox", id: uid("expiring"), checked: state.expiring });
  const status = h("p", { class: "list-status muted", role: "status" });
  const problem = h("div");
  const headRow = h("tr");
  const tbody = h("tbody");
  const table = h("table", { class: "table vm-table" }, h("caption", { class: "sr-only" }, "Virtual machines"), h("thead", {}, headRow), tbody);
  const pager = h("nav", { class: "pager", "aria-label": "Pages" });

  replace(
    ctx.main,
    h(
      "div",
      { class: "page" },
      h("div", { class: "page-head" }, h("h1", {}, "Virtual machines"), h("div", { class: "toolbar" }, guardedButton(ctx.session, "operator", { id: "new-vm", onclick: () => ctx.navigate("/vms/new") }, "New VM"))),
      h(
        "form",
        { class: "filters", role: "search", onsubmit: (e) => e.preventDefault() },
        h("div", { class: "field" }, h("label", { for: searchId }, "Search"), search),
        h("div", { class: "field" }, h("label", { for: hostId }, "Host"), hostSelect),
        h("div", { class: "field" }, h("label", { for: stateId }, "State"), stateSelect),
        h("div", { class: "field field-check" }, staleBox, h("label", { for: staleBox.id }, "Stale only")),
        h("div", { class: "field field-check" }, expiringBox, h("label", { for: expiringBox.id }, "Lease expires within 24 h")),
      ),
      problem,
      status,
      h("div", { class: "table-wrap" }, table),
      pager,
    ),
  );

  for (const [key, label] of COLUMNS) {
    const button = h("button", { type: "button", class: "sort", dataset: { key } }, label, h("span", { class: "sort-mark", "aria-hidden": "true" }));
    button.addEventListener("click", () => {
      state.dir = state.sort === key && state.dir === "asc" ? "desc" : "asc";
      state.sort = key;
      state.page = 1;
      show();
    });
    headRow.append(h("th", { scope: "col", dataset: { key } }, button));
  }

  let debounce = null;
  search.addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      state.q = search.value.trim();
      state.page = 1;
      show();
    }, 150);
  });
  hostSelect.addEventListener("change", () => {
    state.host = hostSelect.value;
    state.page = 1;
    load();
  });
  stateSelect.addEventListener("change", () => {
    state.state = stateSelect.value;
    state.page = 1;
    load();
  });
  staleBox.addEventListener("change", () => {
    state.stale = staleBox.checked;
    state.page = 1;
    load();
  });
  expiringBox.addEventListener("change", () => {
    state.expiring = expiringBox.checked;
    state.page = 1;
    load();
  });

  ctx.api
    .get("/hosts", { signal: ctx.signal })
    .then((hosts) => {
      replace(hostSelect, h("option", { value: "" }, "All hosts"), hosts.items.map((host) => h("option", { value: host.name }, host.connected ? host.name : `${host.name} (disconnected)`)));
      hostSelect.value = state.host;
    })
    .catch(() => {});

  function query() {
    const params = new URLSearchParams();
    if (state.host) params.set("host", state.host);
    if (state.state) params.set("state", state.state);
    if (state.stale) params.set("stale", "true");
    if (state.expiring) params.set("expiring_within_hours", "24");
    return params.toString();
  }

  function visible() {
    const needle = state.q.toLowerCase();
    const matches = needle
      ? vms.filter((vm) =>
          [vm.name, vm.host, vm.os_name, vm.os_family, vm.notes, ...(vm.ip_addresses || [])].some((v) => v && String(v).toLowerCase().includes(needle)),
        )
      : vms.slice();
    const sign = state.dir === "desc" ? -1 : 1;
    matches.sort((a, b) => {
      const x = sortValue(a, state.sort);
      const y = sortValue(b, state.sort);
      const order = typeof x === "number" && typeof y === "number" ? x - y : collator.compare(String(x), String(y));
      return sign * (order || collator.compare(a.name, b.name));
    });
    return matches;
  }

  function show() {
    ctx.setQuery({ q: state.q, host: state.host, state: state.state, stale: state.stale ? "true" : "", expiring: state.expiring ? "true" : "", sort: state.sort === "name" ? "" : state.sort, dir: state.dir === "asc" ? "" : state.dir, page: state.page > 1 ? state.page : "" });
    for (const th of headRow.children) {
      const active = th.dataset.key === state.sort;
      if (active) th.setAttribute("aria-sort", state.dir === "asc" ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
      setText(th.querySelector(".sort-mark"), active ? (state.dir === "asc" ? " ▲" : " ▼") : "");
    }
    const rows = visible();
    const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
    state.page = Math.min(state.page, pages);
    const start = (state.page - 1) * PAGE_SIZE;
    const slice = rows.slice(start, start + PAGE_SIZE);
    const loadingNote = loading ? ` (loading… ${count(vms.length)} so far)` : "";
    const cut = truncated ? " — only the first VMs are listed; narrow by host or state" : "";
    setText(
      status,
      rows.length
        ? `Showing ${count(start + 1)}–${count(start + slice.length)} of ${count(rows.length)} VMs${state.q ? ` matching “${state.q}”` : ""}${loadingNote}${cut}`
        : loading
          ? "Loading VMs…"
          : "",
    );
    if (!rows.length && !loading) {
      const filtered = state.q || state.host || state.state || state.stale || state.expiring;
      replace(tbody, h("tr", {}, h("td", { colspan: COLUMNS.length }, emptyState(filtered ? "No VMs match these filters." : "No VMs in the inventory yet.", filtered ? "Clear the search or pick another host or state." : "Create one, or wait for the next inventory sync."))));
    } else {
      replace(tbody, slice.map(row));
    }
    renderPager(pages);
  }

  function renderPager(pages) {
    const go = (page) => () => {
      state.page = page;
      show();
      table.scrollIntoView({ block: "start" });
    };
    replace(
      pager,
      h("button", { type: "button", class: "btn", disabled: state.page <= 1, onclick: go(state.page - 1) }, "‹ Previous"),
      h("span", { class: "pager-status", "aria-live": "polite" }, `Page ${state.page} of ${pages}`),
      h("button", { type: "button", class: "btn", disabled: state.page >= pages, onclick: go(state.page + 1) }, "Next ›"),
    );
  }

  /** Load every matching VM; a background refresh (quiet) redraws only when something changed. */
  async function load({ quiet = false } = {}) {
    const wanted = query();
    const before = quiet ? JSON.stringify(vms) : null;
    loadedFor = wanted;
    if (!quiet) {
      loading = true;
      show();
    }
    try {
      const result = await ctx.api.all(`/vms${wanted ? "?" + wanted : ""}`, {
        signal: ctx.signal,
        onPage: (items) => {
          if (quiet || loadedFor !== wanted) return;
          vms = items.slice();
          if (vms.length <= 500 || vms.length % 2000 === 0) show();
        },
      });
      if (loadedFor !== wanted) return;
      vms = result.items;
      truncated = result.truncated;
      if (problem.firstChild) replace(problem);
    } catch (error) {
      if (error.name === "AbortError") throw error;
      if (loadedFor !== wanted) return;
      replace(problem, errorPanel(error, () => load()));
    } finally {
      if (loadedFor === wanted) {
        loading = false;
        if (!quiet || JSON.stringify(vms) !== before) show();
      }
    }
  }

  await load();
  ctx.every(30000, () => load({ quiet: true }));
}

function row(vm) {
  const ips = vm.ip_addresses || [];
  return h(
    "tr",
    { dataset: { vm: vm.id }, class: vm.stale ? "row-stale" : "" },
    h("td", { "data-label": "Name" }, h("a", { href: `/vms/${encodeURIComponent(vm.id)}` }, vm.name), vm.stale ? [" ", staleMarker(vm.last_seen)] : null, vm.orphaned ? [" ", orphanMarker(vm)] : null),
    h("td", { "data-label": "State" }, badge(vm.state)),
    h("td", { "data-label": "Host" }, vm.host),
    h("td", { "data-label": "vCPU", class: "num" }, vm.cpu_cores ?? "—"),
    h("td", { "data-label": "Memory", class: "num" }, gb(vm.memory_gb)),
    h("td", { "data-label": "IP addresses", class: "ips" }, ips.length ? ips.join(", ") : h("span", { class: "muted" }, "—")),
    h("td", { "data-label": "OS" }, vm.os_name || vm.os_family || h("span", { class: "muted" }, "—")),
    h("td", { "data-label": "Uptime", title: vm.last_seen ? `Seen ${fullTime(vm.last_seen)}` : "" }, vm.state === "Running" ? duration(vm.uptime_seconds) : h("span", { class: "muted" }, vm.stale ? `seen ${clock(vm.last_seen)}` : "—")),
    h("td", { "data-label": "Lease", dataset: { lease: vm.lease ? vm.lease.expires_at : "" } }, vm.lease ? h("span", { title: fullTime(vm.lease.expires_at) }, `${clock(vm.lease.expires_at)} (${countdown(vm.lease.expires_at)})`) : h("span", { class: "muted" }, "—")),
  );
}
