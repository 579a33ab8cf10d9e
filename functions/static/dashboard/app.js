// The dashboard's entry point: configuration and sign-in, the page shell, and a small history-API router.

import { Api } from "./api.js";
import { createSession, loadConfig } from "./auth.js";
import { h, replace } from "./dom.js";
import { errorPanel, toast } from "./ui.js";
import * as overview from "./pages/overview.js";
import * as vms from "./pages/vms.js";
import * as vm from "./pages/vm.js";
import * as create from "./pages/create.js";
import * as jobs from "./pages/jobs.js";
import * as job from "./pages/job.js";
import * as host from "./pages/host.js";
import * as pools from "./pages/pools.js";

const ROUTES = [
  [/^\/$/, overview, "overview"],
  [/^\/vms\/?$/, vms, "vms"],
  [/^\/vms\/new\/?$/, create, "vms"],
  [/^\/vms\/([^/]+)\/?$/, vm, "vms"],
  [/^\/jobs\/?$/, jobs, "jobs"],
  [/^\/jobs\/([^/]+)\/?$/, job, "jobs"],
  [/^\/hosts\/([^/]+)\/?$/, host, "overview"],
  [/^\/ip-pools\/?$/, pools, "pools"],
  [/^\/ip-pools\/([^/]+)\/?$/, pools, "pools"],
];

const main = document.getElementById("main");
let current = null; // {controller, cleanups}

function leave() {
  if (!current) return;
  current.controller.abort();
  for (const fn of current.cleanups) fn();
  current = null;
}

/** Run fn now and every `ms` while the page is shown and the tab visible; stops when the page is left. */
function every(state, ms, fn) {
  let timer = null;
  let running = false;
  const tick = async () => {
    if (state.controller.signal.aborted) return;
    if (!document.hidden && !running) {
      running = true;
      try {
        await fn();
      } catch (error) {
        if (error.name !== "AbortError") console.warn("refresh failed", error);
      } finally {
        running = false;
      }
    }
    if (!state.controller.signal.aborted) timer = setTimeout(tick, ms);
  };
  const onVisible = () => {
    if (!document.hidden) {
      clearTimeout(timer);
      tick();
    }
  };
  document.addEventListener("visibilitychange", onVisible);
  state.cleanups.push(() => {
    clearTimeout(timer);
    document.removeEventListener("visibilitychange", onVisible);
  });
  timer = setTimeout(tick, ms);
}

async function show(session, api) {
  leave();
  const url = new URL(window.location.href);
  const match = ROUTES.map(([pattern, page, section]) => [url.pathname.match(pattern), page, section]).find(([m]) => m);
  const state = { controller: new AbortController(), cleanups: [] };
  current = state;
  for (const link of document.querySelectorAll(".mainnav a")) {
    if (match && link.dataset.section === match[2]) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  main.setAttribute("aria-busy", "true");
  if (!match) {
    document.title = "Not found — Aether-V";
    replace(main, h("div", { class: "page" }, h("h1", {}, "Page not found"), h("p", {}, "There is no page at ", h("code", {}, url.pathname), ". ", h("a", { href: "/" }, "Go to the overview"), ".")));
    main.setAttribute("aria-busy", "false");
    return;
  }
  const [found, page] = match;
  const ctx = {
    main,
    api,
    session,
    params: found.slice(1).map(decodeURIComponent),
    query: url.searchParams,
    signal: state.controller.signal,
    navigate,
    every: (ms, fn) => every(state, ms, fn),
    onLeave: (fn) => state.cleanups.push(fn),
    title: (text) => (document.title = `${text} — Aether-V`),
    /** Replace the query string without a new history entry (filters, sort, page). */
    setQuery: (params) => {
      const next = new URL(window.location.href);
      next.search = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v !== null && v !== undefined)).toString();
      window.history.replaceState(null, "", next);
    },
  };
  try {
    await page.render(ctx);
  } catch (error) {
    if (error.name === "AbortError" || state.controller.signal.aborted) return;
    console.error(error);
    replace(main, h("div", { class: "page" }, errorPanel(error, () => show(session, api))));
  } finally {
    if (current === state) main.setAttribute("aria-busy", "false");
  }
}

let router = null;

/** Go to a dashboard URL (same-origin path) without reloading. */
export function navigate(href, { replace: replaceEntry = false, focus = true } = {}) {
  if (replaceEntry) window.history.replaceState(null, "", href);
  else window.history.pushState(null, "", href);
  router().then(() => {
    if (focus) main.focus({ preventScroll: false });
    window.scrollTo(0, 0);
  });
}

function interceptLinks() {
  document.addEventListener("click", (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const link = event.target.closest("a[href]");
    if (!link || link.target || link.hasAttribute("download")) return;
    const url = new URL(link.href, window.location.href);
    if (url.origin !== window.location.origin || url.pathname.startsWith("/api/") || url.pathname.startsWith("/ui/")) return;
    if (url.pathname === window.location.pathname && url.search === window.location.search && url.hash) return; // in-page anchor
    event.preventDefault();
    if (url.href !== window.location.href) navigate(url.pathname + url.search + url.hash);
  });
  window.addEventListener("popstate", () => router());
}

function showIdentity(session) {
  const who = document.getElementById("who");
  const banner = document.getElementById("mode-banner");
  if (session.mode === "local") {
    banner.hidden = false;
    replace(banner, h("strong", {}, "Local mode"), " — authentication is off (AETHERV_AUTH_MODE=none); you act as the local developer with every role. Never expose this app beyond 127.0.0.1.");
    replace(who, h("span", { class: "user", title: session.roles.join(", ") }, session.user), h("span", { class: "role" }, session.roleSummary()));
    return;
  }
  replace(
    who,
    h("span", { class: "user" }, session.user),
    h("span", { class: "role", title: session.roles.join(", ") || "no app role" }, session.roleSummary()),
    h("button", { type: "button", class: "btn btn-small", onclick: () => session.signOut() }, "Sign out"),
  );
  if (!session.level) {
    banner.hidden = false;
    banner.classList.add("banner-warn");
    replace(banner, "You are signed in, but hold no role of this app. Ask an administrator for ", session.config.roles.reader, " (read) or ", session.config.roles.operator, " (operate).");
  }
}

function signInPage(session) {
  document.title = "Sign in — Aether-V";
  main.setAttribute("aria-busy", "false");
  replace(
    main,
    h(
      "div",
      { class: "page signin" },
      h("h1", {}, "Aether-V"),
      h("p", {}, "Sign in with your organization account to see and operate the Hyper-V inventory."),
      h("button", { type: "button", class: "btn btn-primary", onclick: () => session.signIn() }, "Sign in with Microsoft"),
    ),
  );
}

async function start() {
  let config;
  let session;
  try {
    config = await loadConfig();
    session = await createSession(config);
  } catch (error) {
    main.setAttribute("aria-busy", "false");
    replace(main, h("div", { class: "page" }, h("div", { class: "panel panel-error", role: "alert" }, h("p", {}, h("strong", {}, "Sign-in failed. "), String(error.message || error)), h("button", { type: "button", class: "btn", onclick: () => window.location.reload() }, "Reload"))));
    return;
  }
  document.documentElement.dataset.mode = session.mode;
  if (!session.signedIn) {
    signInPage(session);
    return;
  }
  showIdentity(session);
  document.addEventListener("aetherv:sign-in", () => session.signIn());
  const api = new Api(config.api, session);
  router = () => show(session, api);
  interceptLinks();
  window.addEventListener("unhandledrejection", (event) => {
    if (event.reason && event.reason.name === "AbortError") event.preventDefault();
  });
  await router();
  document.documentElement.dataset.ready = "true";
}

export { toast };
start();
