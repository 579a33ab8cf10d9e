// The mark of a VM a failed create left on a host that could not be reached: it is removed by a later sync.

import { h } from "./dom.js";

/** A badge for an orphaned VM (``vm.orphaned``), linking the job that made it; null otherwise. */
export function orphanMarker(vm) {
  if (!vm.orphaned) return null;
  const job = vm.orphaned_by_job;
  const title =
    "Made by a create that failed while its host could not be reached; " +
    "it is removed as soon as an inventory sync reaches the host again";
  const text = "orphaned — removal pending";
  return job
    ? h("a", { class: "badge badge-orphan", href: `/jobs/${encodeURIComponent(job)}`, title }, text)
    : h("span", { class: "badge badge-orphan", title }, text);
}
