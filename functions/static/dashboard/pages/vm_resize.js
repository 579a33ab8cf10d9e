// The VM page's "Size and notes" form: processors, memory, notes and "allow restart" (PATCH /api/v1/vms/{id}).
// Only what was changed is sent. Hyper-V changes processors and memory only while the VM is Off; the form says what
// that means for the VM's current state, and the server's refusal (409 naming the rule, 422 per field) is shown here.

import { h, setText } from "../dom.js";
import { clearProblems, field, numberInput, numberValue, problemSlot } from "../forms.js";
import { guardedButton } from "../ui.js";

// The VM's ownership mark in its notes ("aetherv-job: <id>"): kept by the host whatever the notes become.
const MARK = /^aetherv-job:/;

function editableNotes(notes) {
  return String(notes || "")
    .split(/\r?\n/)
    .filter((line) => !MARK.test(line))
    .join("\n");
}

function memoryOf(vm) {
  return vm.startup_memory_gb ?? vm.memory_gb;
}

/** What a change of processors or memory means for the VM as it is now. */
function ruleText(vm) {
  const rule = "Processors and memory change only while the VM is Off.";
  if (vm.stale) return `${rule} Its host is not answering: the change is judged on the host when the job runs.`;
  if (vm.state === "Off") return `${rule} It is Off: they change at once.`;
  if (vm.state === "Running") return `${rule} It is Running: tick "Allow restart" to let the job shut it down, change them and start it again. Notes change without a restart.`;
  return `${rule} It is ${vm.state}: turn it off (or start it) first. Notes change in any state.`;
}

export function resizeSection(page) {
  const cpu = field("cpu_cores", "Virtual processors", numberInput({ min: 1, max: 240 }), "1–240, at most the host's logical processors.");
  const memory = field("memory_gb", "Memory (GB)", numberInput({ min: 1, max: 2048 }), "Startup memory, whole GB (static).");
  const notes = field("notes", "Notes", h("textarea", { class: "input", rows: 3, maxlength: 4000, spellcheck: "true" }), "Replace the VM's notes in Hyper-V (up to 4,000 characters).");
  const restart = field("allow_restart", "Allow restart", h("input", { type: "checkbox" }), "Let the job shut a running VM down for the change and start it again.");
  const fields = [cpu, memory, notes, restart];
  const rule = h("p", { class: "panel panel-note change-rule", "data-rule": "" });
  const summary = problemSlot();
  const status = h("span", { class: "muted", role: "status" });
  const apply = guardedButton(page.session, "operator", { type: "submit", class: "btn btn-primary", dataset: { action: "resize" } }, "Apply changes");
  const button = apply.tagName === "BUTTON" ? apply : apply.querySelector("button");
  const form = h(
    "form",
    { class: "change-form", novalidate: true, "aria-label": "Size and notes" },
    h("div", { class: "change-fields" }, cpu.wrap, memory.wrap),
    notes.wrap,
    rule,
    restart.wrap,
    summary,
    h("div", { class: "form-actions" }, apply, status),
  );
  const el = h("section", { "aria-labelledby": "s-size" }, h("h2", { id: "s-size" }, "Size and notes"), form);
  let shown = null; // the VM's values the inputs were last filled with: an input still showing them was not edited

  function update() {
    const vm = page.vm();
    const current = { cpu_cores: vm.cpu_cores ?? "", memory_gb: memoryOf(vm) ?? "", notes: editableNotes(vm.notes) };
    for (const [f, key] of [[cpu, "cpu_cores"], [memory, "memory_gb"], [notes, "notes"]]) {
      if (!shown || f.input.value === String(shown[key])) f.input.value = String(current[key]);
    }
    shown = current;
    setText(rule, ruleText(vm));
    const allowed = page.session.can("operator");
    for (const f of fields) f.input.disabled = !allowed;
    button.disabled = !allowed || page.busy();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const vm = page.vm();
    clearProblems(fields, summary);
    const body = {};
    const cores = numberValue(cpu.input);
    if (cores !== null && cores !== vm.cpu_cores) body.cpu_cores = cores;
    const gb = numberValue(memory.input);
    if (gb !== null && gb !== memoryOf(vm)) body.memory_gb = gb;
    if (notes.input.value !== editableNotes(vm.notes)) body.notes = notes.input.value;
    if (!Object.keys(body).length) {
      setText(status, "Nothing changed.");
      return;
    }
    if (restart.input.checked) body.allow_restart = true;
    setText(status, "Submitting…");
    button.disabled = true;
    const accepted = await page.change("PATCH", "", body, { fields, summary });
    setText(status, accepted ? "Accepted: the job runs below." : "");
    if (accepted) restart.input.checked = false;
    else button.disabled = page.busy();
  });

  return { el, update };
}
