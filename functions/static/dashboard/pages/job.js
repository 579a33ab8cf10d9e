// One job: live step-by-step progress while it runs, then its outcome — result, or error and cleanup.

import { ApiError } from "../api.js";
import { h, replace } from "../dom.js";
import { between, clock, duration, fullTime, humanize } from "../format.js";
import { badge, confirmDialog, emptyState, facts, jobProgress, toast, updateBadge } from "../ui.js";
import { approvalText, decisionButtons } from "../approvals.js";
import { targetText } from "./jobs.js";
import { jobLog } from "../joblog.js";

const FINAL = ["Succeeded", "Failed", "Canceled"];

export async function render(ctx) {
  const [jobId] = ctx.params;
  let job;
  try {
    job = await ctx.api.job(jobId, ctx.signal);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      ctx.title("Job not found");
      replace(ctx.main, h("div", { class: "page" }, h("h1", {}, "Job not found"), emptyState(`There is no job ${jobId}.`), h("p", {}, h("a", { href: "/jobs" }, "All jobs"))));
      return;
    }
    throw error;
  }
  ctx.title(`${humanize(job.kind)} ${targetText(job)}`);
  const statusBadge = badge(job.status);
  const info = h("div");
  const approval = h("div");
  const actions = h("div", { class: "toolbar" });
  // what the request asked for that the guest will not apply or the job cannot confirm (from the API)
  const warnings = (job.warnings || []).length
    ? h("div", { class: "panel panel-note", role: "note" }, h("p", {}, h("strong", {}, "Note")), ...job.warnings.map((text) => h("p", { class: "job-warning" }, text)))
    : null;
  const progress = jobProgress();
  const log = jobLog(ctx.api, jobId, ctx.signal);

  replace(
    ctx.main,
    h(
      "div",
      { class: "page" },
      h("p", { class: "crumbs" }, h("a", { href: "/jobs" }, "Jobs"), " / ", job.id),
      h("div", { class: "page-head" }, h("div", { class: "title-row" }, h("h1", {}, `${humanize(job.kind)}: ${targetText(job)}`), statusBadge), actions),
      info,
      approval,
      warnings,
      h("section", { "aria-labelledby": "s-steps" }, h("h2", { id: "s-steps" }, "Steps"), progress.el),
      h("section", { "aria-labelledby": "s-log" }, h("h2", { id: "s-log" }, "Log"), log.el),
    ),
  );

  function cancelButton() {
    if (FINAL.includes(job.status) || job.kind === "refresh_inventory") return null;
    const mine = (job.requested_by || {}).id === ctx.session.objectId || ctx.session.can("admin");
    if (!ctx.session.can("operator") || !mine) {
      return h("button", { type: "button", class: "btn", disabled: true, title: "Only the job's requester or an admin can cancel it" }, "Cancel job");
    }
    return h(
      "button",
      {
        type: "button",
        class: "btn btn-danger",
        onclick: async (event) => {
          if (!(await confirmDialog({ title: "Cancel this job?", body: "The workflow stops at its next step and removes what it created.", confirmLabel: "Cancel job", danger: true }))) return;
          event.target.disabled = true;
          try {
            await ctx.api.submit("POST", `/jobs/${encodeURIComponent(job.id)}/cancel`);
          } catch (error) {
            toast(`Not canceled: ${error.summary || error.message}`, { tone: "bad" });
            event.target.disabled = false;
          }
        },
      },
      "Cancel job",
    );
  }

  function approvalPanel() {
    if (!job.approval) return null;
    const waiting = job.status === "AwaitingApproval";
    const tone = waiting ? "panel-note" : job.approval.decision === "approved" ? "panel-ok" : "panel-warn";
    return h("div", { class: `panel ${tone}`, role: "status", id: "approval" }, h("p", {}, h("strong", {}, "Approval "), approvalText(job.approval)));
  }

  async function refresh() {
    job = await ctx.api.job(jobId, ctx.signal);
    draw();
  }

  function draw() {
    updateBadge(statusBadge, job.status);
    const vmId = (job.target || {}).vm_id || (job.result || {}).vm_id;
    const signature = JSON.stringify([job.status, job.updated]);
    if (info.dataset.signature !== signature) {
      info.dataset.signature = signature;
      replace(
        info,
        facts([
          ["Status", job.status],
          ["Target", vmId && job.kind !== "delete_vm" ? h("a", { href: `/vms/${encodeURIComponent(vmId)}` }, targetText(job)) : targetText(job)],
          ["Requested by", (job.requested_by || {}).name || "—"],
          ["Started", h("span", { title: fullTime(job.created) }, clock(job.created))],
          ["Duration", duration(between(job.started || job.created, FINAL.includes(job.status) ? job.finished || job.updated : null))],
          ["Job ID", h("code", {}, job.id)],
        ]),
      );
      replace(actions, job.status === "AwaitingApproval" ? decisionButtons(ctx, job, refresh) : null, cancelButton());
      replace(approval, approvalPanel());
    }
    progress.update(job);
  }

  draw();
  await log.pull();
  // The log is written just after the job record: keep following it for a few seconds after the job ended.
  let tail = FINAL.includes(job.status) ? 0 : 5;
  if (!tail) return;
  ctx.every(1000, async () => {
    if (FINAL.includes(job.status)) {
      if (tail > 0) {
        tail -= 1;
        await log.pull();
      }
      return;
    }
    job = await ctx.api.job(jobId, ctx.signal);
    draw();
    await log.pull();
  });
}
