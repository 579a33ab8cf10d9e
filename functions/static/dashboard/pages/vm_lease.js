// The VM page's "Lease" section: when the VM is deleted by its lease, a live countdown, who requested it, the
// warning and the delete job; an Operator who requested the VM (or an Admin) sets it for a number of hours from now
// or clears it (PUT /api/v1/vms/{id}/lease, answered 200 at once). Rules: docs/leases.md.

import { ApiError } from "../api.js";
import { h, replace, setText } from "../dom.js";
import { clock, duration, fullTime } from "../format.js";
import { clearProblems, field, numberInput, numberValue, problemSlot, showProblems } from "../forms.js";
import { confirmDialog, guardedButton } from "../ui.js";

/** "in 2 h 3 min" until `iso`, or "expired" once it has passed. */
export function countdown(iso, now = Date.now()) {
  const seconds = (new Date(iso).getTime() - now) / 1000;
  if (!Number.isFinite(seconds)) return "—";
  return seconds > 0 ? `in ${duration(seconds)}` : "expired";
}

/**
 * Whether the session may change this VM's lease: Admins, or the Operator who requested the VM (a lease names its
 * requester; without a lease the page does not know it, and the server judges).
 */
function mayChange(session, lease) {
  if (session.can("admin")) return true;
  if (!session.can("operator")) return false;
  if (!lease) return true;
  const requester = lease.requested_by ? lease.requested_by.id : null;
  return Boolean(requester) && requester === session.objectId;
}

export function leaseSection(page) {
  const summary = h("div", { class: "lease-summary", dataset: { lease: "" } });
  const remaining = h("strong", { class: "lease-countdown", "aria-live": "off", dataset: { countdown: "" } });
  const hours = field("hours", "Hours from now", numberInput({ min: 1 }), "The VM is deleted this many hours from now (at most the app's limit).");
  const fields = [hours];
  const problems = problemSlot();
  const status = h("span", { class: "muted", role: "status" });
  const set = guardedButton(page.session, "operator", { type: "submit", class: "btn btn-primary", dataset: { action: "set-lease" } }, "Set lease");
  const clear = guardedButton(page.session, "operator", { type: "button", class: "btn", dataset: { action: "clear-lease" }, onclick: () => clearLease() }, "Clear lease");
  const setButton = set.tagName === "BUTTON" ? set : set.querySelector("button");
  const clearButton = clear.tagName === "BUTTON" ? clear : clear.querySelector("button");
  const form = h("form", { class: "change-form", novalidate: true, "aria-label": "Lease" }, hours.wrap, problems, h("div", { class: "form-actions" }, set, clear, status));
  const el = h("section", { "aria-labelledby": "s-lease" }, h("h2", { id: "s-lease" }, "Lease"), summary, form);

  const timer = setInterval(tick, 1000);
  page.signal.addEventListener("abort", () => clearInterval(timer));

  function tick() {
    const lease = page.vm().lease;
    if (lease) setText(remaining, countdown(lease.expires_at));
  }

  function update() {
    const lease = page.vm().lease;
    if (!lease) {
      replace(summary, h("p", { class: "muted" }, "No lease: the VM stays until it is deleted."));
    } else {
      tick();
      const by = (lease.requested_by || {}).name || (lease.requested_by || {}).id || "—";
      replace(
        summary,
        h("p", {}, "Deleted at ", h("span", { title: fullTime(lease.expires_at), dataset: { expires: lease.expires_at } }, clock(lease.expires_at)), " — ", remaining),
        h(
          "p",
          { class: "muted" },
          `Requested by ${by}.`,
          lease.warned_at ? ` Warning recorded ${clock(lease.warned_at)}.` : "",
          lease.delete_job_id ? [" Delete job: ", h("a", { href: `/jobs/${encodeURIComponent(lease.delete_job_id)}` }, lease.delete_job_id), "."] : "",
        ),
      );
    }
    const allowed = mayChange(page.session, lease);
    hours.input.disabled = !allowed;
    setButton.disabled = !allowed;
    clearButton.disabled = !allowed || !lease;
    if (page.session.can("operator") && !allowed) setButton.title = clearButton.title = "Only the VM's requester or an Admin can change its lease";
  }

  async function put(body) {
    clearProblems(fields, problems);
    setText(status, "Saving…");
    try {
      const answer = await page.api.call("PUT", `/vms/${encodeURIComponent(page.vm().id)}/lease`, { body });
      page.vm().lease = answer.body.lease;
      setText(status, answer.body.lease ? "Lease set." : "Lease cleared.");
      update();
    } catch (error) {
      if (error.name === "AbortError") throw error;
      setText(status, "");
      showProblems(error instanceof ApiError ? error : new ApiError(0, { detail: String(error) }), fields, problems);
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    put({ hours: numberValue(hours.input) });
  });

  async function clearLease() {
    const vm = page.vm();
    if (!(await confirmDialog({ title: `Clear the lease of ${vm.name}?`, body: "The VM is no longer deleted at its lease's time.", confirmLabel: "Clear lease" }))) return;
    await put({ expires_at: null });
  }

  return { el, update };
}
