// A job's log on its page: every entry of GET /api/v1/jobs/{id}/log, oldest first, followed while the job runs.

import { h, replace } from "./dom.js";
import { clock, fullTime } from "./format.js";

// The log panel: `el` to place, `pull()` to read what arrived since the last look (all of it, page by page).
export function jobLog(api, jobId, signal) {
  const list = h("ol", { class: "job-log", "aria-live": "polite" });
  const empty = h("p", { class: "muted" }, "Nothing logged yet.");
  const el = h("div", {}, empty, list);
  let after = null;
  let route = true;

  function row(entry) {
    const where = [entry.step, entry.host].filter(Boolean).join(" · ");
    return h(
      "li",
      { class: `log-${entry.level}`, "data-source": entry.source },
      h("time", { datetime: entry.at, title: fullTime(entry.at) }, clock(entry.at)),
      h("span", { class: `log-level log-level-${entry.level}` }, entry.level),
      where ? h("span", { class: "log-where" }, where) : null,
      h("span", { class: "log-message" }, entry.message),
    );
  }

  async function pull() {
    while (route) {
      const query = `/jobs/${encodeURIComponent(jobId)}/log?limit=500${after ? `&after=${encodeURIComponent(after)}` : ""}`;
      let page;
      try {
        page = await api.get(query, { signal });
      } catch (error) {
        if (error.status === 404) {
          route = false;
          replace(el, h("p", { class: "muted" }, "This server keeps no job log."));
          return;
        }
        throw error;
      }
      if (page.entries.length) {
        empty.remove();
        for (const entry of page.entries) list.append(row(entry));
      }
      after = page.next || after;
      if (!page.more) return;
    }
  }

  return { el, pull };
}
