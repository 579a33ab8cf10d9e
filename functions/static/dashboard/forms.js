// Small forms for changes to what exists (the VM page's day-2 controls): labelled fields with a hint and an error
// slot, the API's refusals (problem+json) shown next to the fields they name, and a modal dialog that holds such a
// form until the API accepts it. The server is the judge of every value: nothing here second-guesses it.

import { ApiError } from "./api.js";
import { h, replace, setText, uid } from "./dom.js";

/** A labelled field {name, wrap, input, error, hint}; `name` is the request field the input fills. */
export function field(name, label, input, hint = "") {
  input.id = input.id || uid(`f-${name}`);
  input.name = name;
  const hintEl = h("span", { class: "hint", id: `${input.id}-hint` }, hint);
  const error = h("span", { class: "field-error", id: `${input.id}-error` });
  input.setAttribute("aria-describedby", `${hintEl.id} ${error.id}`);
  const labelEl = h("label", { for: input.id }, label);
  const check = input.type === "checkbox";
  const wrap = h("div", { class: check ? "field field-check" : "field", dataset: { field: name } }, check ? [input, labelEl] : [labelEl, input], hintEl, error);
  return { name, wrap, input, error, hint: hintEl };
}

/** A whole-number input. */
export function numberInput(attrs = {}) {
  return h("input", { type: "number", class: "input input-num", inputmode: "numeric", step: 1, ...attrs });
}

/** A field's value as the API takes it: a whole number stays a number, an empty field is null, the rest as typed. */
export function numberValue(input) {
  const text = input.value.trim();
  if (text === "") return null;
  return /^-?\d+$/.test(text) ? Number(text) : text;
}

/** A summary slot for a form's refusal (shown above its buttons). */
export function problemSlot() {
  return h("div", { class: "form-problem", role: "alert", hidden: true });
}

export function clearProblems(fields, summary) {
  for (const f of fields) {
    setText(f.error, "");
    f.input.removeAttribute("aria-invalid");
  }
  if (summary) {
    summary.hidden = true;
    replace(summary);
  }
}

/** Show a refusal: every `errors[]` entry next to its field, the problem's detail (and unplaced errors) in `summary`. */
export function showProblems(error, fields, summary) {
  clearProblems(fields, summary);
  const byName = new Map(fields.map((f) => [f.name, f]));
  const errors = error instanceof ApiError ? error.errors : [];
  const loose = [];
  for (const problem of errors) {
    const target = byName.get(problem.field);
    if (!target) {
      loose.push(`${problem.field ? `${problem.field} ` : ""}${problem.message}`);
      continue;
    }
    const text = `${problem.message.charAt(0).toUpperCase()}${problem.message.slice(1)}.`;
    setText(target.error, target.error.textContent ? `${target.error.textContent} ${text}` : text);
    target.input.setAttribute("aria-invalid", "true");
  }
  const heading = errors.length ? `Not accepted: ${errors.length === 1 ? "1 problem" : `${errors.length} problems`}` : "Refused";
  replace(
    summary,
    h("p", {}, h("strong", {}, `${heading}. `), errors.length ? (loose.length ? "" : "See the fields.") : error.summary || error.message),
    loose.length ? h("ul", {}, loose.map((text) => h("li", {}, text))) : null,
  );
  summary.hidden = false;
}

/**
 * A modal form. `submit({fields, summary})` runs on submit and resolves true when the change was accepted (the
 * dialog closes) or false to keep it open (it shows its refusal with showProblems). Resolves true when submitted,
 * false when canceled.
 */
export function formDialog({ title, intro, fields, submitLabel, danger = false, submit, name }) {
  return new Promise((resolve) => {
    const titleId = uid("dlg");
    const summary = problemSlot();
    const ok = h("button", { type: "submit", class: danger ? "btn btn-danger" : "btn btn-primary" }, submitLabel);
    const cancel = h("button", { type: "button", class: "btn" }, "Cancel");
    const form = h(
      "form",
      { class: "dialog-form", novalidate: true },
      h("h2", { id: titleId }, title),
      intro ? [].concat(intro).map((text) => (text instanceof Node ? text : h("p", {}, text))) : null,
      fields.map((f) => f.wrap),
      summary,
      h("div", { class: "dialog-actions" }, cancel, ok),
    );
    const dialog = h("dialog", { class: "dialog", "aria-labelledby": titleId, dataset: { form: name || "" } }, form);
    let answer = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      ok.disabled = true;
      try {
        answer = await submit({ fields, summary });
      } finally {
        ok.disabled = false;
      }
      if (answer) dialog.close();
    });
    cancel.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
    const first = fields.find((f) => !f.input.disabled);
    (first ? first.input : cancel).focus();
  });
}
