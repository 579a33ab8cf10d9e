// Create a VM: a form generated from the request model's JSON schema (VmCreateRequest in /api/openapi.json).
//
// The schema gives the fields, their types, limits, defaults and help text; the host's images and virtual switches
// come from the API; fields are shown per OS family (domain join for Windows, Ansible for Linux). Input is checked
// in the browser with the server's rules (rules.js) and the server's own problem+json errors are shown the same way,
// next to the fields they name.

import { ApiError } from "../api.js";
import { h, replace, setText, uid } from "../dom.js";
import { humanize } from "../format.js";
import { fieldProblems, osFamilyFromImage, resolveFamily, ruleProblems } from "../rules.js";

const LABELS = {
  name: "Name",
  host: "Host",
  image: "Image",
  os_family: "OS family",
  cpu_cores: "Virtual processors",
  memory_gb: "Memory (GB)",
  disk_gb: "Disk size (GB)",
  network: "Virtual switch",
  vlan_id: "VLAN ID",
  clustered: "Add to the host's failover cluster",
  keep_on_failure: "Keep a failed VM for diagnosis",
  guest: "Guest configuration",
  admin_username: "Administrator user name",
  admin_password: "Administrator password",
  ipv4: "Static IPv4 address (otherwise DHCP)",
  address: "IPv4 address",
  prefix_length: "Prefix length",
  gateway: "Gateway",
  dns_servers: "DNS servers",
  dns_suffix: "DNS suffix",
  domain_join: "Join an Active Directory domain",
  domain: "Domain",
  username: "Join account",
  password: "Join account password",
  ou: "Organizational unit",
  ansible: "Ansible SSH access",
  ssh_user: "SSH user",
  ssh_public_key: "SSH public key",
};
// Groups shown only for one OS family.
const ONLY_FOR = { "guest.domain_join": "windows", "guest.ansible": "linux", "guest.ipv4.dns_suffix": "linux" };
const GROUPED_BY_HOST = new Set(["image", "network"]);

/** {schema, nullable} of a property, with $ref and nullable anyOf resolved. */
function resolve(schema, schemas) {
  let nullable = false;
  let inner = schema;
  if (schema.anyOf) {
    nullable = schema.anyOf.some((s) => s.type === "null");
    inner = schema.anyOf.find((s) => s.type !== "null") || {};
  }
  if (inner.$ref) inner = schemas[inner.$ref.split("/").pop()];
  return { schema: { ...inner, description: schema.description || inner.description, default: schema.default ?? inner.default }, nullable };
}

export async function render(ctx) {
  ctx.title("New VM");
  if (!ctx.session.can("operator")) {
    replace(ctx.main, h("div", { class: "page" }, h("h1", {}, "New VM"), h("div", { class: "panel panel-note" }, h("p", {}, `Creating VMs ${ctx.session.reason("operator").toLowerCase()}`))));
    return;
  }
  const [openapi, hosts] = await Promise.all([ctx.api.get("/api/openapi.json", { signal: ctx.signal }), ctx.api.get("/hosts", { signal: ctx.signal })]);
  const schemas = openapi.components.schemas;
  const fields = new Map(); // path -> {input, schema, nullable, wrap, error, kind}
  const groups = new Map(); // path -> {toggle, fieldset, body, error, required}
  const images = { list: [], host: null };
  const summary = h("div", { class: "error-summary", tabindex: "-1", hidden: true, role: "alert" });
  const submitButton = h("button", { type: "submit", class: "btn btn-primary" }, "Create VM");
  const formStatus = h("p", { class: "muted", role: "status" });
  const form = h("form", { class: "vm-form", novalidate: true, "aria-label": "New VM" });

  function makeField(path, name, prop, required) {
    const { schema, nullable } = resolve(prop, schemas);
    if (schema.type === "object") return makeGroup(path, name, schema, nullable, required);
    const id = `f-${path.replace(/\./g, "-")}`;
    const hintId = uid("hint");
    const errorId = `${id}-error`;
    const label = LABELS[name] || schema.title || humanize(name);
    let input;
    let kind = schema.type;
    if (name === "host") {
      kind = "select";
      input = h(
        "select",
        { id, class: "input" },
        h("option", { value: "" }, "Automatic placement"),
        hosts.items.map((host) => h("option", { value: host.name, disabled: !host.connected }, host.connected ? host.name : `${host.name} — disconnected`)),
      );
      const first = hosts.items.find((host) => host.connected);
      if (first) input.value = first.name;
    } else if (GROUPED_BY_HOST.has(name)) {
      kind = "select";
      input = h("select", { id, class: "input" });
    } else if (schema.enum) {
      kind = "select";
      input = h("select", { id, class: "input" }, nullable ? h("option", { value: "" }, name === "os_family" ? "Derive from the image" : "—") : null, schema.enum.map((v) => h("option", { value: v }, humanize(v))));
    } else if (schema.type === "boolean") {
      input = h("input", { id, type: "checkbox", checked: Boolean(schema.default) });
    } else if (schema.type === "integer") {
      input = h("input", { id, type: "number", class: "input input-num", inputmode: "numeric", step: 1, min: schema.minimum, max: schema.maximum, value: schema.examples && !nullable ? schema.examples[0] : "" });
    } else if (name === "ssh_public_key") {
      input = h("textarea", { id, class: "input mono", rows: 3, spellcheck: "false", autocomplete: "off" });
    } else {
      const secret = schema.format === "password";
      input = h("input", { id, type: secret ? "password" : "text", class: "input", autocomplete: secret ? "new-password" : "off", spellcheck: "false", placeholder: schema.examples ? `e.g. ${[].concat(schema.examples[0]).join(", ")}` : "" });
    }
    const hint = h("span", { class: "hint", id: hintId }, schema.type === "array" ? `${schema.description} Separate with commas.` : schema.description || "");
    const error = h("span", { class: "field-error", id: errorId });
    input.name = path;
    input.setAttribute("aria-describedby", `${hintId} ${errorId}`);
    if (required) input.setAttribute("aria-required", "true");
    const labelEl = h("label", { for: id, class: required ? "required" : null }, label); // the mark is CSS; aria-required tells
    const wrap = schema.type === "boolean" ? h("div", { class: "field field-check" }, input, labelEl, hint, error) : h("div", { class: "field" }, labelEl, input, hint, error);
    wrap.dataset.field = path;
    fields.set(path, { input, schema, nullable, wrap, error, kind, hint, required });
    input.addEventListener("change", () => onChange(path));
    input.addEventListener("blur", () => checkOne(path));
    return wrap;
  }

  function makeGroup(path, name, schema, nullable, required) {
    const legendId = uid("legend");
    const body = h("div", { class: "group-body" });
    const error = h("span", { class: "field-error", id: `g-${path.replace(/\./g, "-")}-error` });
    const toggleId = uid("toggle");
    const toggle = path === "guest" ? null : h("input", { type: "checkbox", id: toggleId });
    const fieldset = h(
      "fieldset",
      { class: "group", "aria-describedby": error.id, dataset: { group: path } },
      h("legend", { id: legendId }, toggle ? h("span", { class: "field-check" }, toggle, h("label", { for: toggleId }, LABELS[name] || schema.title)) : LABELS[name] || schema.title),
      schema.description ? h("p", { class: "hint" }, schema.description) : null,
      error,
      body,
    );
    groups.set(path, { toggle, fieldset, body, error, nullable, required }); // parents before children
    for (const [child, prop] of Object.entries(schema.properties || {})) {
      body.append(makeField(`${path}.${child}`, child, prop, (schema.required || []).includes(child)));
    }
    if (toggle) toggle.addEventListener("change", () => update());
    return fieldset;
  }

  const root = schemas.VmCreateRequest;
  const sections = [
    ["Basics", ["name", "host", "image", "os_family"]],
    ["Size", ["cpu_cores", "memory_gb", "disk_gb"]],
    ["Network", ["network", "vlan_id"]],
    ["Options", ["clustered", "keep_on_failure"]],
  ];
  const placed = new Set(sections.flatMap(([, names]) => names));
  for (const [title, names] of sections) {
    form.append(h("fieldset", { class: "section" }, h("legend", {}, title), names.filter((n) => root.properties[n]).map((n) => makeField(n, n, root.properties[n], (root.required || []).includes(n)))));
  }
  for (const [name, prop] of Object.entries(root.properties)) {
    if (!placed.has(name)) form.append(makeField(name, name, prop, (root.required || []).includes(name)));
  }
  form.append(h("div", { class: "form-actions" }, submitButton, h("a", { href: "/vms", class: "btn" }, "Cancel"), formStatus));

  replace(ctx.main, h("div", { class: "page" }, h("p", { class: "crumbs" }, h("a", { href: "/vms" }, "VMs"), " / New"), h("h1", {}, "New VM"), summary, form));

  // -- behaviour ------------------------------------------------------------------------------------------------

  async function loadLibrary() {
    const hostField = fields.get("host").input;
    const host = hostField.value || (hosts.items.find((x) => x.connected) || {}).name;
    const image = fields.get("image");
    const network = fields.get("network");
    if (!host) {
      replace(image.input, h("option", { value: "" }, "No blank disk — no host is connected"));
      return;
    }
    if (images.host === host) return;
    images.host = host;
    for (const f of [image, network]) {
      f.input.disabled = true;
      replace(f.input, h("option", { value: "" }, "Loading…"));
    }
    const source = hostField.value ? "" : ` (lists from ${host}; the chosen host needs the same names)`;
    const [imageList, networkList] = await Promise.all(
      ["images", "networks"].map((what) =>
        ctx.api.get(`/hosts/${encodeURIComponent(host)}/${what}`, { signal: ctx.signal }).then(
          (page) => page.items,
          (error) => {
            if (error.name === "AbortError") throw error;
            return error;
          },
        ),
      ),
    );
    if (images.host !== host) return;
    images.list = Array.isArray(imageList) ? imageList : [];
    const fill = (f, list, emptyLabel, describe) => {
      f.input.disabled = false;
      if (!Array.isArray(list)) {
        replace(f.input, h("option", { value: "" }, emptyLabel));
        setText(f.hint, `Could not list them on ${host}: ${list.summary || list.message}`);
        return;
      }
      replace(f.input, h("option", { value: "" }, emptyLabel), list.map((item) => h("option", { value: item.name }, describe(item))));
      setText(f.hint, `${f.schema.description || ""}${source}`);
    };
    fill(image, imageList, "None — blank disk", (i) => `${i.name}${i.size_gb ? ` (${i.size_gb} GB)` : ""}`);
    fill(network, networkList, "Not connected", (n) => `${n.name}${n.type ? ` (${n.type})` : ""}`);
    update();
  }

  function family() {
    const data = { os_family: fields.get("os_family").input.value || null, image: fields.get("image").input.value || null };
    if (data.os_family) return data.os_family;
    const image = images.list.find((i) => i.name === data.image);
    return (image && image.os_family) || resolveFamily(data);
  }

  /** Show what applies: guest settings only with an image, OS-specific groups per family, optional groups opened. */
  function update() {
    const hasImage = Boolean(fields.get("image").input.value);
    const fam = family();
    for (const [path, group] of groups) {
      const os = ONLY_FOR[path];
      const applies = (path !== "guest" || hasImage) && (!os || !fam || os === fam);
      const parentOpen = !path.includes(".") || groupActive(path.slice(0, path.lastIndexOf(".")));
      group.fieldset.hidden = !applies || !parentOpen;
      group.body.hidden = Boolean(group.toggle) && !group.toggle.checked;
    }
    for (const [path, f] of fields) {
      const os = ONLY_FOR[path];
      f.wrap.hidden = Boolean(os && fam && os !== fam);
    }
    const nameHint = fields.get("name").hint;
    setText(nameHint, fam === "windows" ? "VM name and guest host name: at most 15 characters for Windows." : fields.get("name").schema.description);
    const osHint = fields.get("os_family").hint;
    const derived = fields.get("image").input.value && !fields.get("os_family").input.value ? family() : null;
    setText(osHint, derived ? `Derived from the image: ${humanize(derived)}.` : fields.get("os_family").schema.description);
    const disk = fields.get("disk_gb");
    disk.input.setAttribute("aria-required", String(!hasImage));
    setText(disk.hint, hasImage ? "Optional: grow the image's disk to this size." : "Required for a blank disk.");
  }

  function groupActive(path) {
    const group = groups.get(path);
    if (!group) return true;
    if (group.fieldset.hidden) return false;
    const own = !group.toggle || group.toggle.checked;
    return own && (!path.includes(".") || groupActive(path.slice(0, path.lastIndexOf("."))));
  }

  function valueOf(f) {
    if (f.kind === "boolean") return f.input.checked;
    const raw = f.input.value;
    if (raw.trim() === "") return null;
    // Passwords are taken as typed; everything else without surrounding spaces.
    const text = f.schema.format === "password" && !f.input.name.endsWith("ssh_public_key") ? raw : raw.trim();
    if (f.schema.type === "integer") return /^-?\d+$/.test(text) ? Number(text) : text;
    if (f.schema.type === "array") return text.split(/[\s,]+/).filter(Boolean);
    return text;
  }

  /** The request body from what is shown and enabled. */
  function collect() {
    const data = {};
    for (const [path, f] of fields) {
      if (!fieldActive(path)) continue;
      const value = valueOf(f);
      if (value === null || (f.kind === "boolean" && value === Boolean(f.schema.default) && !f.required)) continue;
      const keys = path.split(".");
      let node = data;
      for (const key of keys.slice(0, -1)) node = node[key] || (node[key] = {});
      node[keys[keys.length - 1]] = value;
    }
    for (const [path, group] of groups) {
      if (!groupActive(path)) continue;
      const keys = path.split(".");
      let node = data;
      for (const key of keys.slice(0, -1)) node = node[key] || (node[key] = {});
      node[keys[keys.length - 1]] = node[keys[keys.length - 1]] || {};
    }
    return data;
  }

  function fieldActive(path) {
    const f = fields.get(path);
    if (f.wrap.hidden) return false;
    return !path.includes(".") || groupActive(path.slice(0, path.lastIndexOf(".")));
  }

  function problemsOf(data) {
    const problems = [];
    for (const [path, f] of fields) {
      if (!fieldActive(path)) continue;
      const value = valueOf(f);
      if (value === null && f.required) problems.push({ field: path, message: "is required" });
      for (const message of fieldProblems(path, value, f.schema)) problems.push({ field: path, message });
    }
    const reported = new Set(problems.map((p) => p.field));
    const order = [...fields.keys()];
    const rank = (p) => (order.indexOf(p.field) + 1 || order.findIndex((f) => f.startsWith(`${p.field}.`)) + 1 || order.length + 1);
    return problems.concat(ruleProblems(data).filter((p) => !reported.has(p.field))).sort((a, b) => rank(a) - rank(b));
  }

  function clearErrors() {
    for (const f of [...fields.values(), ...groups.values()]) {
      setText(f.error, "");
      if (f.input) f.input.removeAttribute("aria-invalid");
    }
    summary.hidden = true;
    replace(summary);
  }

  function targetOf(field) {
    let path = field;
    while (path) {
      if (fields.has(path) && fieldActive(path)) return fields.get(path);
      if (groups.has(path)) return groups.get(path);
      path = path.includes(".") ? path.slice(0, path.lastIndexOf(".")) : "";
    }
    return null;
  }

  function labelOf(field) {
    return field.split(".").map((part) => LABELS[part] || humanize(part)).join(" › ");
  }

  /** Show problems next to their fields and in a summary; focus the summary. */
  function showProblems(problems, heading) {
    clearErrors();
    const unplaced = [];
    const messages = new Map();
    for (const problem of problems) {
      const target = targetOf(problem.field);
      if (!target) {
        unplaced.push(problem);
        continue;
      }
      const list = messages.get(target) || [];
      list.push(problem.field === (target.input && target.input.name) || !target.input ? problem.message : `${labelOf(problem.field)} ${problem.message}`);
      messages.set(target, list);
    }
    for (const [target, list] of messages) {
      setText(target.error, list.map((m) => `${m.charAt(0).toUpperCase()}${m.slice(1)}.`).join(" "));
      if (target.input) target.input.setAttribute("aria-invalid", "true");
    }
    replace(
      summary,
      h("h2", {}, heading),
      h(
        "ul",
        {},
        problems.map((p) => {
          const target = targetOf(p.field);
          const text = `${labelOf(p.field)} ${p.message}`.trim();
          return h("li", {}, target && target.input ? h("button", { type: "button", class: "linklike", onclick: () => target.input.focus() }, text) : text);
        }),
      ),
    );
    summary.hidden = false;
    summary.focus();
  }

  function checkOne(path) {
    const f = fields.get(path);
    if (!f || !f.error.textContent) return;
    const still = problemsOf(collect()).filter((p) => p.field === path);
    if (!still.length) {
      setText(f.error, "");
      f.input.removeAttribute("aria-invalid");
    }
  }

  function onChange(path) {
    if (path === "host") loadLibrary();
    if (["image", "os_family", "host"].includes(path)) update();
    checkOne(path);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = collect();
    const problems = problemsOf(data);
    if (problems.length) {
      showProblems(problems, `${problems.length} ${problems.length === 1 ? "problem" : "problems"} to fix`);
      setText(formStatus, "");
      return;
    }
    clearErrors();
    submitButton.disabled = true;
    setText(formStatus, "Submitting…");
    try {
      const job = await ctx.api.submit("POST", "/vms", data);
      ctx.navigate(`/jobs/${encodeURIComponent(job.id)}`);
    } catch (error) {
      submitButton.disabled = false;
      setText(formStatus, "");
      if (error instanceof ApiError && error.errors.length) {
        showProblems(error.errors, `The server found ${error.errors.length} ${error.errors.length === 1 ? "problem" : "problems"}`);
      } else {
        showProblems([{ field: "", message: error.summary || error.message }], "The VM was not created");
      }
    }
  });

  update();
  await loadLibrary();
}
