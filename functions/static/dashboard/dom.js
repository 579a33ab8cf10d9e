// Tiny DOM helpers: elements are built with properties and text nodes, never from HTML strings.

/** Create an element: h("a", {href: "/x", class: "btn"}, "text", child, [more]). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

/** Append children (strings, nodes, arrays, null) to el. */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace el's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** Set text only when it changed (keeps selection and avoids repaints while polling). */
export function setText(el, text) {
  const value = text === null || text === undefined ? "" : String(text);
  if (el.textContent !== value) el.textContent = value;
}

/**
 * Keep container's children in step with items, keyed: existing elements are updated in place and
 * reordered, new ones created, gone ones removed — so polling never rebuilds the page.
 */
export function reconcile(container, items, key, create, update) {
  const existing = new Map();
  for (const child of Array.from(container.children)) {
    if (child.dataset.key !== undefined) existing.set(child.dataset.key, child);
  }
  let cursor = container.firstElementChild;
  const seen = new Set();
  for (const item of items) {
    const id = String(key(item));
    seen.add(id);
    let el = existing.get(id);
    if (!el) {
      el = create(item);
      el.dataset.key = id;
    }
    update(el, item);
    if (el !== cursor) container.insertBefore(el, cursor);
    else cursor = cursor.nextElementSibling;
  }
  for (const [id, el] of existing) if (!seen.has(id)) el.remove();
}

let ids = 0;
/** A unique element id with a readable prefix. */
export function uid(prefix = "id") {
  ids += 1;
  return `${prefix}-${ids}`;
}
