// IP address pools: every pool with its usage (Readers), and one pool with the addresses it has handed out.

import { h, replace } from "../dom.js";
import { clock, fullTime } from "../format.js";
import { dataTable, emptyState, errorPanel, facts } from "../ui.js";

/** "10.0.120.50 – 10.0.120.199, …" */
function rangesText(pool) {
  return (pool.ranges || []).map((r) => (r.start === r.end ? r.start : `${r.start} – ${r.end}`)).join(", ");
}

/** A usage bar with its numbers: allocated of total, free. */
function usage(pool) {
  return h(
    "span",
    { class: "pool-usage" },
    h("progress", { max: Math.max(pool.total, 1), value: pool.allocated, "aria-label": `${pool.allocated} of ${pool.total} allocated` }),
    ` ${pool.allocated} of ${pool.total} allocated, ${pool.free} free`,
  );
}

function network(pool) {
  return pool.vlan_id ? `${pool.network}, VLAN ${pool.vlan_id}` : `${pool.network} (untagged)`;
}

async function renderList(ctx) {
  ctx.title("IP pools");
  const body = h("div");
  replace(
    ctx.main,
    h(
      "div",
      { class: "page" },
      h("div", { class: "page-head" }, h("h1", {}, "IP pools")),
      h("p", { class: "muted" }, "Creates that name a pool get its next free address. Admins define pools through the API (PUT /api/v1/ip-pools/{pool})."),
      body,
    ),
  );
  async function load() {
    try {
      const { items } = await ctx.api.get("/ip-pools", { signal: ctx.signal });
      if (!items.length) {
        replace(body, emptyState("No IP pools yet.", "An administrator defines pools with PUT /api/v1/ip-pools/{pool}."));
        return;
      }
      replace(
        body,
        dataTable(
          ["Pool", "Network", "Subnet", "Ranges", "Usage"],
          items.map((pool) => ({
            attrs: { dataset: { pool: pool.name } },
            cells: [
              h("a", { href: `/ip-pools/${encodeURIComponent(pool.name)}` }, pool.name),
              network(pool),
              `${pool.gateway}/${pool.prefix_length}`,
              rangesText(pool),
              usage(pool),
            ],
          })),
        ),
      );
    } catch (error) {
      if (error.name === "AbortError") throw error;
      replace(body, errorPanel(error, load));
    }
  }
  await load();
  ctx.every(10000, load);
}

async function renderOne(ctx, name) {
  ctx.title(`IP pool ${name}`);
  const pool = await ctx.api.get(`/ip-pools/${encodeURIComponent(name)}`, { signal: ctx.signal });
  const allocations = pool.allocations || [];
  replace(
    ctx.main,
    h(
      "div",
      { class: "page" },
      h("p", { class: "crumbs" }, h("a", { href: "/ip-pools" }, "IP pools"), " / ", pool.name),
      h("div", { class: "page-head" }, h("h1", {}, pool.name)),
      facts([
        ["Network", network(pool)],
        ["Gateway", `${pool.gateway}/${pool.prefix_length}`],
        ["DNS servers", (pool.dns_servers || []).join(", ")],
        ["DNS suffix", pool.dns_suffix || "—"],
        ["Ranges", rangesText(pool)],
        ["Reserved", (pool.reserved || []).join(", ") || "—"],
        ["Usage", usage(pool)],
      ]),
      h("h2", {}, "Allocated addresses"),
      allocations.length
        ? dataTable(
            ["Address", "VM", "Job", "Since"],
            allocations.map((a) => ({
              attrs: { dataset: { address: a.address } },
              cells: [
                a.address,
                a.vm_id ? h("a", { href: `/vms/${encodeURIComponent(a.vm_id)}` }, a.vm_name || a.vm_id) : a.vm_name || "—",
                h("a", { href: `/jobs/${encodeURIComponent(a.job_id)}` }, a.job_id),
                h("span", { title: fullTime(a.since) }, clock(a.since)),
              ],
            })),
          )
        : emptyState("No address is allocated.", "Creates that name this pool take its addresses."),
    ),
  );
}

export async function render(ctx) {
  const [name] = ctx.params;
  return name ? renderOne(ctx, name) : renderList(ctx);
}
