// Approvals: what a create waiting for an administrator shows, and the Approve / Reject controls an admin who did
// not request it gets (the server decides who may: these only spare a click it would refuse). Used by the job page
// and by the overview's list of pending approvals.

import { h } from "./dom.js";
import { clock } from "./format.js";
import { field, formDialog, showProblems } from "./forms.js";
import { toast } from "./ui.js";

/** Why an admin cannot decide on `job` here, or "" when they can. */
export function decisionBlocked(session, job) {
  if (!session.can("admin")) return session.reason("admin");
  const mine = session.mode !== "local" && (job.requested_by || {}).id && (job.requested_by || {}).id === session.objectId;
  return mine ? "You requested this create: another administrator decides." : "";
}

/** The approval as text for the job's facts and for its requester. */
export function approvalText(approval) {
  if (!approval) return "";
  if (!approval.decision) return `Waiting for an administrator (${approval.required_by}); decided by ${clock(approval.deadline)} at the latest.`;
  if (approval.decision === "expired") return `No decision in time (${approval.reason || "expired"}).`;
  const who = (approval.decided_by || {}).name || "an administrator";
  const verb = approval.decision === "approved" ? "Approved" : "Rejected";
  return `${verb} by ${who} at ${clock(approval.decided_at)}${approval.reason ? `: ${approval.reason}` : "."}`;
}

/** The Approve and Reject buttons of a job awaiting approval (disabled with the reason when blocked). */
export function decisionButtons(ctx, job, onDecided) {
  const blocked = decisionBlocked(ctx.session, job);
  const attrs = (cls) => (blocked ? { type: "button", class: "btn", disabled: true, title: blocked } : { type: "button", class: cls });
  const approve = h("button", { ...attrs("btn btn-primary"), dataset: { action: "approve" }, onclick: () => decide("approve") }, "Approve");
  const reject = h("button", { ...attrs("btn btn-danger"), dataset: { action: "reject" }, onclick: () => decide("reject") }, "Reject");

  async function decide(verb) {
    const path = `/jobs/${encodeURIComponent(job.id)}/${verb}`;
    const reason = h("textarea", { class: "input", rows: 3, maxlength: 500 });
    const fields = [field("reason", "Reason", reason, verb === "reject" ? "The requester reads it (required)." : "Optional.")];
    const decided = await formDialog({
      title: verb === "approve" ? `Approve ${job.target.name || job.id}?` : `Reject ${job.target.name || job.id}?`,
      intro: [verb === "approve" ? "The create runs as soon as you approve it." : "The job ends Canceled with your reason; nothing is created."],
      fields,
      submitLabel: verb === "approve" ? "Approve" : "Reject",
      danger: verb === "reject",
      name: verb,
      submit: async ({ fields: filled, summary }) => {
        const text = reason.value.trim();
        try {
          await ctx.api.submit("POST", path, text ? { reason: text } : {});
          return true;
        } catch (error) {
          showProblems(error, filled, summary);
          return false;
        }
      },
    });
    if (decided) {
      toast(verb === "approve" ? "Approved: the create runs." : "Rejected: the job ends Canceled.", { href: `/jobs/${encodeURIComponent(job.id)}`, linkText: "Open the job" });
      if (onDecided) onDecided();
    }
  }

  return h("span", { class: "toolbar approval-actions" }, approve, reject);
}
