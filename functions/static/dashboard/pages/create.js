// Create a VM: a form generated from the request model's JSON schema (VmCreateRequest in /api/openapi.json).
//
// The schema gives the fields, their types, limits, defaults and help text; fields are shown per OS family (domain
// join for Windows, Ansible for Linux). The host starts at "Automatic placement", the API's default: then the images
// and virtual switches of every connected host are offered, each once, marked with the hosts that have it when not
// all do (placement picks a host that has both the chosen image and switch); a chosen host offers its own. Input is
// checked in the browser with the server's rules (rules.js) and the server's own problem+json errors are shown the
// same way, next to the fields they name.

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
  pool: "IP pool",
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
// With an IP pool chosen, these come from the pool and are not asked for.
const FROM_POOL = ["guest.ipv4.address", "guest.ipv4.prefix_length", "guest.ipv4.gateway", "guest.ipv4.dns_servers", "guest.ipv4.dns_suffix", "network", "vlan_id"];

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
  const [openapi, hosts, pools] = await Promise.all([
    ctx.api.get("/api/openapi.json", { signal: ctx.signal }),
    ctx.api.get("/hosts", { signal: ctx.signal }),
    ctx.api.get("/ip-pools", { signal: ctx.signal }).then(
      (page) => page.items,
      (error) => {
        if (error.name === "AbortError") throw error;
        return []; // no pools to offer: the address is entered
      },
    ),
  ]);
  const schemas = openapi.components.schemas;
  const fields = new Map(); // path -> {input, schema, nullable, wrap, error, kind}
  const groups = new Map(); // path -> {toggle, fieldset, body, error, required}
  // what the image and switch lists offer: for a chosen host its own, else every connected host's, merged
  const library = { key: null, images: [], networks: [], hosts: [] };
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
    } else if (path === "guest.ipv4.pool") {
      kind = "select";
      input = h(
        "select",
        { id, class: "input" },
        h("option", { value: "" }, pools.length ? "None — enter the address below" : "None — no IP pool is defined"),
        pools.map((p) => h("option", { value: p.name, disabled: !p.free }, `${p.name} — ${p.network}${p.vlan_id ? `, VLAN ${p.vlan_id}` : ""}, ${p.free} of ${p.total} free`)),
      );
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

  /** The items of a host's list ("images" or "networks"), or the error that prevented it. */
  function listOf(host, what) {
    return ctx.api.get(`/hosts/${encodeURIComponent(host)}/${what}`, { signal: ctx.signal }).then(
      (page) => page.items,
      (error) => {
        if (error.name === "AbortError") throw error;
        return error;
      },
    );
  }

  /** Lists of several hosts as one: each name once (first seen wins), with the hosts that have it. */
  function merge(names, lists) {
    const byName = new Map();
    const answered = [];
    const failed = [];
    lists.forEach((list, index) => {
      if (!Array.isArray(list)) {
        failed.push(`${names[index]} (${list.summary || list.message})`);
        return;
      }
      answered.push(names[index]);
      for (const item of list) {
        if (!byName.has(item.name)) byName.set(item.name, { ...item, hosts: [] });
        byName.get(item.name).hosts.push(names[index]);
      }
    });
    return { items: [...byName.values()], answered, failed };
  }

  /** Where an option is available, when not on every host that answered. */
  function where(item, answered) {
    if (item.hosts.length === answered.length) return "";
    if (item.hosts.length <= 3) return ` — only on ${item.hosts.join(", ")}`;
    return ` — on ${item.hosts.length} of ${answered.length} hosts`;
  }

  async function loadLibrary() {
    const chosen = fields.get("host").input.value;
    const connected = hosts.items.filter((x) => x.connected).map((x) => x.name);
    const image = fields.get("image");
    const network = fields.get("network");
    if (!chosen && !connected.length) {
      replace(image.input, h("option", { value: "" }, "No blank disk — no host is connected"));
      return;
    }
    const key = chosen || "*";
    if (library.key === key) return;
    library.key = key;
    const previous = { image: image.input.value, network: network.input.value };
    for (const f of [image, network]) {
      f.input.disabled = true;
      replace(f.input, h("option", { value: "" }, "Loading…"));
    }
    const names = chosen ? [chosen] : connected;
    const [imageLists, networkLists] = await Promise.all(["images", "networks"].map((what) => Promise.all(names.map((name) => listOf(name, what)))));
    if (library.key !== key) return;
    const images = merge(names, imageLists);
    const networks = merge(names, networkLists);
    Object.assign(library, { images: images.items, networks: networks.items, hosts: images.answered.filter((n) => networks.answered.includes(n)) });
    const fill = (f, merged, emptyLabel, describe, noun) => {
      f.input.disabled = false;
      const option = (item) => h("option", { value: item.name }, `${describe(item)}${chosen ? "" : where(item, merged.answered)}`);
      const everywhere = merged.items.filter((item) => item.hosts.length === merged.answered.length);
      const some = merged.items.filter((item) => item.hosts.length < merged.answered.length);
      const grouped = !chosen && everywhere.length && some.length;
      replace(
        f.input,
        h("option", { value: "" }, emptyLabel),
        grouped ? [h("optgroup", { label: "On every host" }, everywhere.map(option)), h("optgroup", { label: "Only on some hosts" }, some.map(option))] : merged.items.map(option),
      );
      if (merged.items.some((item) => item.name === previous[f.input.name])) f.input.value = previous[f.input.name];
      const missing = merged.failed.length ? ` Not listed: ${merged.failed.join("; ")}.` : "";
      if (!merged.answered.length) {
        setText(f.hint, `Could not list the ${noun}: ${merged.failed.join("; ")}.`);
      } else if (chosen) {
        setText(f.hint, f.schema.description || "");
      } else {
        const count = merged.answered.length;
        setText(f.hint, `${f.schema.description || ""} Listed from ${count === 1 ? "the connected host" : `all ${count} connected hosts`}; automatic placement picks one that has your choice.${missing}`);
      }
    };
    fill(image, images, "None — blank disk", (i) => `${i.name}${i.size_gb ? ` (${i.size_gb} GB)` : ""}`, "images");
    fill(network, networks, "Not connected", (n) => `${n.name}${n.type ? ` (${n.type})` : ""}`, "virtual switches");
    update();
  }

  /** With automatic placement: the connected hosts that have the chosen image and switch (null when a host is chosen). */
  function candidates() {
    if (fields.get("host").input.value || library.key !== "*") return null;
    const pick = (list, name) => (name ? (list.find((item) => item.name === name) || { hosts: [] }).hosts : library.hosts);
    const withImage = pick(library.images, fields.get("image").input.value);
    const withSwitch = pick(library.networks, fields.get("network").input.value);
    return library.hosts.filter((name) => withImage.includes(name) && withSwitch.includes(name));
  }

  function family() {
    const data = { os_family: fields.get("os_family").input.value || null, image: fields.get("image").input.value || null };
    if (data.os_family) return data.os_family;
    const image = library.images.find((i) => i.name === data.image);
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
    const pool = chosenPool();
    for (const [path, f] of fields) {
      const os = ONLY_FOR[path];
      f.wrap.hidden = Boolean(os && fam && os !== fam) || Boolean(pool && FROM_POOL.includes(path));
    }
    const poolField = fields.get("guest.ipv4.pool");
    if (poolField) {
      setText(
        poolField.hint,
        pool
          ? `The next free address of ${pool.name} (${pool.gateway}/${pool.prefix_length}) with its gateway and DNS, on ${pool.network}${pool.vlan_id ? ` VLAN ${pool.vlan_id}` : ""}.`
          : "Or take the next free address of an IP pool, with its gateway, DNS and network.",
      );
    }
    const nameHint = fields.get("name").hint;
    setText(nameHint, fam === "windows" ? "VM name and guest host name: at most 15 characters for Windows." : fields.get("name").schema.description);
    const osHint = fields.get("os_family").hint;
    const derived = fields.get("image").input.value && !fields.get("os_family").input.value ? family() : null;
    setText(osHint, derived ? `Derived from the image: ${humanize(derived)}.` : fields.get("os_family").schema.description);
    const disk = fields.get("disk_gb");
    disk.input.setAttribute("aria-required", String(!hasImage));
    setText(disk.hint, hasImage ? "Optional: grow the image's disk to this size." : "Required for a blank disk.");
    const host = fields.get("host");
    const among = candidates();
    if (among === null) setText(host.hint, host.schema.description);
    else if (!among.length) setText(host.hint, "No connected host has both the chosen image and virtual switch.");
    else setText(host.hint, `Automatic placement picks the host with the most free memory among ${among.length === library.hosts.length ? "all connected hosts" : among.join(", ")}.`);
  }

  /** The IP pool chosen for the guest's address, if the IPv4 group is open and one is chosen. */
  function chosenPool() {
    const f = fields.get("guest.ipv4.pool");
    if (!f || !f.input.value || !groupActive("guest.ipv4")) return null;
    return pools.find((p) => p.name === f.input.value) || null;
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
    const among = candidates();
    const chosenImage = fields.get("image").input.value;
    const chosenSwitch = fields.get("network").input.value;
    if (among !== null && !among.length && chosenImage && chosenSwitch && fieldActive("network")) {
      const imageHosts = (library.images.find((i) => i.name === chosenImage) || { hosts: [] }).hosts;
      problems.push({ field: "network", message: `is not on any host that has the image ${chosenImage} (${imageHosts.join(", ") || "none"}); choose another switch or image` });
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
    if (["image", "os_family", "host", "network", "guest.ipv4.pool"].includes(path)) update();
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
