// Host detail: connection state, capacity and the last error from the inventory; the probe (admins), which checks
// each stage of reaching the host — name, TCP, TLS, WinRM authentication, a PowerShell round trip — and says the
// first failure in plain words.

import { ApiError } from "../api.js";
import { h, replace, setText } from "../dom.js";
import { ago, clock, count, fullTime, gb } from "../format.js";
import { emptyState, errorPanel, facts, guardedButton } from "../ui.js";

const STAGE_TONES = { ok: ["ok", "Passed"], failed: ["bad", "Failed"], skipped: ["off", "Skipped"] };

export async function render(ctx) {
  const [name] = ctx.params;
  let host;
  try {
    host = await ctx.api.get(`/hosts/${encodeURIComponent(name)}`, { signal: ctx.signal });
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      ctx.title("Host not found");
      replace(ctx.main, h("div", { class: "page" }, h("h1", {}, "Host not found"), emptyState(`${name} is not in the inventory.`, "Hosts come from the AETHERV_HOSTS setting; the next inventory sync lists a newly configured one."), h("p", {}, h("a", { href: "/" }, "Back to the overview"))));
      return;
    }
    throw error;
  }
  ctx.title(host.name);
  // Hosts outside a failover cluster form the inventory's "Default" group (functions/models/inventory.py).
  const clustered = host.cluster && host.cluster !== "Default";

  const connection = h("span", { class: "badge" });
  const summary = h("div");
  const problem = h("div");
  const probeButton = guardedButton(ctx.session, "admin", { id: "probe-host", onclick: () => probe() }, "Probe");
  const probeStatus = h("p", { class: "muted probe-status", role: "status" });
  const probeResult = h("div", { class: "probe-result" });

  replace(
    ctx.main,
    h(
      "div",
      { class: "page" },
      h("p", { class: "crumbs" }, h("a", { href: "/" }, "Overview"), " / ", clustered ? `Cluster ${host.cluster}` : "Stand-alone hosts"),
      h("div", { class: "page-head" }, h("div", { class: "title-row" }, h("h1", {}, host.name), connection), h("div", { class: "toolbar" }, h("a", { class: "btn", href: `/vms?host=${encodeURIComponent(host.name)}` }, "VMs on this host"))),
      problem,
      h("section", { "aria-labelledby": "s-summary" }, h("h2", { id: "s-summary" }, "Summary"), summary),
      h(
        "section",
        { "aria-labelledby": "s-probe", class: "probe" },
        h("div", { class: "probe-head" }, h("h2", { id: "s-probe" }, "Probe"), probeButton),
        h("p", { class: "muted" }, "Checks each stage of reaching this host as the app does — name resolution, TCP, TLS, WinRM authentication, a PowerShell round trip — and says where it fails. Run it first when a host is new or unreachable."),
        probeStatus,
        probeResult,
      ),
    ),
  );

  function renderHost() {
    connection.className = `badge badge-${host.connected ? "ok" : "bad"}`;
    setText(connection, host.connected ? "Connected" : "Disconnected");
    const hostFacts = host.facts || {};
    const used = host.total_memory_gb ? host.total_memory_gb - (host.free_memory_gb ?? host.total_memory_gb) : null;
    replace(
      summary,
      facts([
        ["Cluster", clustered ? host.cluster : "None (stand-alone)"],
        ["Connection", host.connected ? "Connected" : `Unreachable since ${clock(host.disconnected_since || host.last_attempt)}`],
        ["Last seen", h("span", { title: fullTime(host.last_seen) }, `${clock(host.last_seen)} (${ago(host.last_seen)})`)],
        ["VMs", h("a", { href: `/vms?host=${encodeURIComponent(host.name)}` }, count(host.vm_count))],
        ["Logical processors", host.total_cpu_cores ?? "—"],
        ["Memory", host.total_memory_gb ? `${gb(used)} of ${gb(host.total_memory_gb)} used` : "—"],
        ["Volumes", (hostFacts.volumes || []).map((v) => `${v.label || v.path}: ${gb(v.free_gb)} free of ${gb(v.capacity_gb)}`).join("; ") || "—"],
      ]),
    );
    replace(problem, !host.connected && host.error ? h("div", { class: "panel panel-error", role: "status" }, h("p", {}, h("strong", {}, "Last error: "), h("span", { class: "host-error" }, host.error))) : null);
  }

  async function reload() {
    try {
      host = await ctx.api.get(`/hosts/${encodeURIComponent(host.name)}`, { signal: ctx.signal });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      replace(problem, errorPanel(error, reload));
      return;
    }
    renderHost();
  }

  async function probe() {
    const button = probeButton.tagName === "BUTTON" ? probeButton : probeButton.querySelector("button");
    button.disabled = true;
    setText(probeStatus, `Probing ${host.name}… (at most a minute)`);
    replace(probeResult);
    let report;
    try {
      ({ body: report } = await ctx.api.call("POST", `/hosts/${encodeURIComponent(host.name)}/probe`, { signal: ctx.signal }));
    } catch (error) {
      if (error.name === "AbortError") return;
      setText(probeStatus, "");
      replace(probeResult, h("div", { class: "panel panel-error", role: "alert" }, h("p", {}, h("strong", {}, "The probe did not run: "), error.summary || error.message)));
      return;
    } finally {
      button.disabled = false;
    }
    setText(probeStatus, `Probed ${clock(report.probed_at)} in ${report.duration_ms} ms.`);
    replace(probeResult, ...probeView(report));
  }

  renderHost();
  ctx.every(10000, reload);
}

function probeView(report) {
  const outcome = h(
    "div",
    { class: `panel ${report.ok ? "panel-ok" : "panel-error"} probe-summary`, role: report.ok ? "status" : "alert", "data-ok": String(report.ok) },
    h("p", {}, h("strong", {}, report.ok ? "Reachable. " : "Not reachable. "), report.summary),
  );
  const stages = h(
    "ol",
    { class: "probe-stages", "aria-label": "Probe stages" },
    report.stages.map((stage) => {
      const [tone, label] = STAGE_TONES[stage.status] || ["off", stage.status];
      return h(
        "li",
        { class: "probe-stage", "data-stage": stage.name, "data-status": stage.status },
        h("span", { class: "probe-stage-name" }, stage.title),
        h("span", { class: `badge badge-${tone}` }, label),
        h("span", { class: "probe-stage-time muted" }, stage.duration_ms === null ? "—" : `${stage.duration_ms} ms`),
        h("p", { class: "probe-stage-detail" }, stage.detail),
      );
    }),
  );
  const parts = [outcome, stages];
  if (report.computer_name) {
    parts.push(facts([["Computer name", report.computer_name], ["PowerShell", report.powershell_version || "—"], ["Endpoint", h("code", {}, report.endpoint)], ["Connects to", report.address || "the name (DNS)"]]));
  }
  const cert = report.certificate;
  if (cert) {
    parts.push(
      h("h3", { class: "probe-cert-title" }, "TLS certificate"),
      facts([
        ["Subject", cert.subject],
        ["Issuer", cert.issuer],
        ["Valid from", h("span", { title: fullTime(cert.not_before) }, clock(cert.not_before))],
        ["Valid until", h("span", { title: fullTime(cert.not_after) }, `${clock(cert.not_after)} (${cert.expires_in_days < 0 ? "expired" : `${cert.expires_in_days} days left`})`)],
        ["Names", cert.names.join(", ") || "none"],
        ["Trusted", cert.trusted ? "Yes" : `No — ${cert.trust_error}`],
        ["Valid for the name", `${cert.name_matches ? "Yes" : "No"} (checked: ${cert.checked_name})`],
        ["SHA-256 fingerprint", h("code", { class: "path" }, cert.sha256_fingerprint)],
      ]),
    );
  }
  return parts;
}
