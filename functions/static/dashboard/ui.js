// Shared pieces of the pages: badges, panels, role-gated buttons, the confirmation dialog and live job progress.

import { h, reconcile, replace, setText, uid } from "./dom.js";
import { between, clock, duration, fullTime, humanize } from "./format.js";

const STATE_TONES = {
  Running: "ok",
  Off: "off",
  Saved: "info",
  Paused: "warn",
  Starting: "busy",
  Stopping: "busy",
  Saving: "busy",
  Pausing: "busy",
  Resuming: "busy",
  Unknown: "warn",
  Succeeded: "ok",
  Failed: "bad",
  Canceled: "warn",
  Pending: "busy",
  AwaitingApproval: "warn",
  Skipped: "off",
};

/** A state badge (VM power state or job status). */
export function badge(state, extra = "") {
  const el = h("span", { class: "badge" });
  updateBadge(el, state, extra);
  return el;
}

export function updateBadge(el, state, extra = "") {
  const tone = STATE_TONES[state] || "off";
  const cls = `badge badge-${tone}${extra ? " " + extra : ""}`;
  if (el.className !== cls) el.className = cls;
  setText(el, state || "Unknown");
}

/** The "stale" marker of inventory data from a disconnected host. */
export function staleMarker(lastSeen) {
  return h(
    "span",
    { class: "badge badge-stale", title: `Last seen ${fullTime(lastSeen)}; its host is not answering` },
    `stale since ${clock(lastSeen)}`,
  );
}

/** An error panel with a retry button. */
export function errorPanel(error, retry) {
  const summary = error && error.summary ? error.summary : String((error && error.message) || error);
  return h(
    "div",
    { class: "panel panel-error", role: "alert" },
    h("p", {}, h("strong", {}, "Could not load this page. "), summary),
    h(
      "div",
      { class: "toolbar" },
      retry ? h("button", { type: "button", class: "btn", onclick: retry }, "Try again") : null,
      // The API no longer accepts the sign-in (expired, revoked, wrong tenant): offer a fresh one.
      error && error.status === 401 && document.documentElement.dataset.mode === "entra"
        ? h("button", { type: "button", class: "btn btn-primary", onclick: () => document.dispatchEvent(new CustomEvent("aetherv:sign-in")) }, "Sign in again")
        : null,
    ),
  );
}

/** An empty state: what is missing and what to do about it. */
export function emptyState(title, hint) {
  return h("div", { class: "empty" }, h("p", { class: "empty-title" }, title), hint ? h("p", { class: "muted" }, hint) : null);
}

/** A button that needs a role: disabled with the reason (visible and announced) when the user lacks it. */
export function guardedButton(session, level, attrs, label) {
  const allowed = session.can(level);
  const button = h("button", { type: "button", class: "btn", ...attrs, disabled: !allowed || attrs.disabled }, label);
  if (!allowed) {
    const why = uid("why");
    button.setAttribute("aria-describedby", why);
    button.title = session.reason(level);
    button.dataset.denied = "true";
    return h("span", { class: "guarded" }, button, h("span", { id: why, class: "sr-only" }, session.reason(level)));
  }
  return button;
}

/** Ask for confirmation in a modal dialog; `requireText` makes the user type it (e.g. the VM name). */
export function confirmDialog({ title, body, confirmLabel, danger = false, requireText = null }) {
  return new Promise((resolve) => {
    const titleId = uid("dlg");
    const input = requireText
      ? h("input", { type: "text", id: uid("confirm"), autocomplete: "off", spellcheck: "false", class: "input" })
      : null;
    const ok = h("button", { type: "submit", class: danger ? "btn btn-danger" : "btn btn-primary", disabled: Boolean(requireText) }, confirmLabel);
    const cancel = h("button", { type: "button", class: "btn", value: "cancel" }, "Cancel");
    const form = h(
      "form",
      { method: "dialog" },
      h("h2", { id: titleId }, title),
      h("p", {}, body),
      input ? h("label", { for: input.id }, "Type ", h("strong", {}, requireText), " to confirm") : null,
      input,
      h("div", { class: "dialog-actions" }, cancel, ok),
    );
    const dialog = h("dialog", { class: "dialog", "aria-labelledby": titleId }, form);
    let answer = false;
    if (input) input.addEventListener("input", () => (ok.disabled = input.value.trim() !== requireText));
    form.addEventListener("submit", () => (answer = true));
    cancel.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
    (input || cancel).focus();
  });
}

/** A transient message (with an optional link) in the live region. */
export function toast(message, { href, linkText, tone = "info" } = {}) {
  const box = document.getElementById("toasts");
  const item = h(
    "div",
    { class: `toast toast-${tone}` },
    h("span", {}, message),
    href ? h("a", { href }, linkText || "Open") : null,
    h("button", { type: "button", class: "toast-close", "aria-label": "Dismiss", onclick: () => item.remove() }, "×"),
  );
  box.append(item);
  setTimeout(() => item.remove(), 10000);
}

/** A definition list from [label, value] pairs (values may be nodes). */
export function facts(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs.filter(Boolean).map(([label, value]) => h("div", {}, h("dt", {}, label), h("dd", {}, value ?? "—"))),
  );
}

/**
 * Live progress of a job: a progress bar, the steps — every planned step by name from the start (the job document
 * carries the workflow's plan), so nothing moves as they start — and the outcome (error and cleanup) when it ends.
 * Jobs recorded before plans were kept show numbered placeholders instead. Returns {el, update(job)}.
 */
export function jobProgress() {
  const bar = h("progress", { max: 1, value: 0, class: "job-bar" });
  const label = h("span", { class: "job-step" });
  const barId = uid("bar");
  bar.id = barId;
  const steps = h("ol", { class: "steps", "aria-label": "Steps" });
  const outcome = h("div", { class: "job-outcome" });
  const el = h(
    "section",
    { class: "job-progress", "aria-label": "Progress" },
    h("div", { class: "job-bar-row" }, h("label", { for: barId, class: "sr-only" }, "Progress"), bar, label),
    steps,
    outcome,
  );
  function update(job) {
    const progress = job.progress || {};
    const started = job.steps || [];
    const plan = job.plan || [];
    const done = started.filter((s) => s.status === "Succeeded").length;
    const total = Math.max(plan.length, progress.total || 0, started.length, 1);
    const final = ["Succeeded", "Failed", "Canceled"].includes(job.status);
    bar.max = total;
    bar.value = job.status === "Succeeded" ? total : done;
    const text = final
      ? `${job.status}${started.length ? ` — ${done} of ${started.length} steps` : ""}`
      : `Step ${Math.min(progress.index || done + 1, total)} of ${total}: ${humanize(progress.step || job.current_step || "starting")}` +
        (progress.guest_state ? ` (guest: ${progress.guest_state})` : "");
    setText(label, text);
    const rows = started.map((step, index) => ({ ...step, key: index }));
    if (!final) {
      // the planned steps not started yet, in plan order; numbered placeholders only where no plan is known
      const begun = new Set(started.map((s) => s.name));
      const coming = plan.filter((name) => !begun.has(name));
      for (let i = rows.length; i < total; i += 1) rows.push({ key: i, name: coming[i - started.length] || null, status: "Pending" });
    }
    reconcile(
      steps,
      rows,
      (row) => row.key,
      () => h("li", { class: "step" }, h("span", { class: "step-name" }), h("span", { class: "badge" }), h("span", { class: "step-time muted" })),
      (li, row) => {
        const [name, state, time] = li.children;
        setText(name, row.name ? humanize(row.name) : `Step ${row.key + 1}`);
        // A step whose work runs on the host in the background (an image copy) shows how far it got.
        const operation = row.operation && row.status === "Running" ? row.operation : null;
        updateBadge(state, row.status === "Running" ? `Running…${operation ? ` ${Math.floor(operation.percent || 0)} %` : ""}` : row.status);
        if (row.status === "Running") state.className = "badge badge-busy";
        li.title = row.operation ? `host operation ${row.operation.id}` : "";
        li.classList.toggle("step-pending", row.status === "Pending");
        li.dataset.status = row.status;
        li.dataset.step = row.name || "";
        setText(time, row.started ? duration(between(row.started, row.finished)) : "");
      },
    );
    if (final && !outcome.dataset.status) {
      outcome.dataset.status = job.status;
      replace(outcome, ...outcomeOf(job));
    }
  }
  return { el, update };
}

function outcomeOf(job) {
  if (job.status === "Succeeded") {
    const vmId = job.result && (job.result.vm_id || (job.result.vm && job.result.vm.id));
    return [
      h(
        "p",
        { class: "panel panel-ok" },
        `Finished at ${clock(job.finished || job.updated)}.`,
        vmId && job.kind !== "delete_vm" ? [" ", h("a", { href: `/vms/${vmId}` }, "Open the VM")] : null,
      ),
    ];
  }
  const error = job.error || {};
  const cleanup = job.cleanup || null;
  const parts = [
    h(
      "div",
      { class: "panel panel-error", role: "alert" },
      h("p", {}, h("strong", {}, `${job.status}${job.failed_step ? ` at ${humanize(job.failed_step)}` : ""}: `), `${error.category || "Error"} — ${error.message || "the job did not succeed"}`),
    ),
  ];
  if (cleanup) {
    const actions = cleanup.actions && cleanup.actions.length ? cleanup.actions.join("; ") : null;
    parts.push(
      h(
        "div",
        { class: `panel ${cleanup.status === "Failed" ? "panel-error" : "panel-note"}`, "data-cleanup": cleanup.status },
        h("p", {}, h("strong", {}, "Cleanup: "), cleanup.status, cleanup.reason ? ` (${cleanup.reason})` : "", actions ? ` — ${actions}` : ""),
        cleanup.kept_vm_id ? h("p", {}, h("a", { href: `/vms/${cleanup.kept_vm_id}` }, "Open the kept VM")) : null,
        cleanup.error ? h("p", {}, `${cleanup.error.category}: ${cleanup.error.message}`) : null,
      ),
    );
  }
  return parts;
}

/** A table: `rows` hold each row's cells, or {attrs, cells} to give the row attributes; cells carry their header as
 * `data-label` (phones show it). */
export function dataTable(headers, rows) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "table" },
      h("thead", {}, h("tr", {}, headers.map((text) => h("th", { scope: "col" }, text)))),
      h(
        "tbody",
        {},
        rows.map((row) => {
          const { attrs, cells } = Array.isArray(row) ? { attrs: {}, cells: row } : row;
          return h("tr", attrs, cells.map((cell, i) => h("td", { "data-label": headers[i] }, cell)));
        }),
      ),
    ),
  );
}
