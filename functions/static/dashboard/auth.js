// Who is using the dashboard and what they may do.
//
// Entra mode: MSAL.js (authorization code flow with PKCE, redirect) signs the user in and acquires an access token
// for the API's scope; the roles come from the token's `roles` claim. Local mode (AETHERV_AUTH_MODE=none): the
// fixed local developer with every role, announced by a banner. The server checks every call either way: hiding
// a control is only a courtesy.

export const LEVELS = { reader: 1, operator: 2, admin: 3 };

/** The dashboard's configuration (anonymous endpoint of the dashboard blueprint). */
export async function loadConfig() {
  const response = await fetch("/ui-config.json", { cache: "no-cache", credentials: "same-origin" });
  if (!response.ok) throw new Error(`the dashboard configuration could not be loaded (HTTP ${response.status})`);
  return response.json();
}

/** The highest level any of roles grants (role values compared case-insensitively), or 0. */
export function levelFor(roles, roleNames) {
  const held = new Set((roles || []).map((r) => String(r).toLowerCase()));
  let level = 0;
  for (const [name, value] of Object.entries(LEVELS)) {
    if (held.has(String(roleNames[name] || "").toLowerCase())) level = Math.max(level, value);
  }
  return level;
}

class Session {
  constructor(config, { user, roles, mode }) {
    this.config = config;
    this.mode = mode;
    this.user = user;
    this.roles = roles;
    this.level = levelFor(roles, config.roles);
    this.signedIn = Boolean(user);
    this.objectId = mode === "local" ? config.local.id : null;
  }

  /** Whether the user holds `level` ("reader", "operator", "admin") or higher. */
  can(level) {
    return this.level >= LEVELS[level];
  }

  /** Why a control needing `level` is disabled. */
  reason(level) {
    return `Needs the ${this.config.roles[level]} role (you have ${this.roleSummary()}).`;
  }

  roleSummary() {
    const names = Object.entries(LEVELS)
      .filter(([, value]) => value <= this.level)
      .map(([name]) => this.config.roles[name]);
    return names.length ? names[names.length - 1] : "no role of this app";
  }

  async token() {
    return null;
  }

  async signIn() {}

  async signOut() {}
}

class EntraSession extends Session {
  constructor(config, msal, app, account, roles) {
    super(config, { user: account ? account.name || account.username : null, roles, mode: "entra" });
    this.msal = msal;
    this.app = app;
    this.account = account;
    this.scopes = config.entra.scopes;
  }

  async token() {
    if (!this.account) return null;
    try {
      const result = await this.app.acquireTokenSilent({ scopes: this.scopes, account: this.account });
      return result.accessToken;
    } catch (error) {
      if (error instanceof this.msal.InteractionRequiredAuthError) {
        await this.app.acquireTokenRedirect({ scopes: this.scopes, account: this.account });
        return new Promise(() => {}); // the page is navigating away
      }
      throw error;
    }
  }

  async signIn() {
    await this.app.loginRedirect({ scopes: this.scopes, redirectStartPage: window.location.href });
  }

  async signOut() {
    await this.app.logoutRedirect({ account: this.account, postLogoutRedirectUri: window.location.origin + "/" });
  }
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = () => resolve();
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(script);
  });
}

/** The claims of a JWT (no validation: the API validates; the UI only reads roles to shape itself). */
export function claimsOf(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = decodeURIComponent(
      Array.from(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")))
        .map((c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0"))
        .join(""),
    );
    return JSON.parse(json);
  } catch {
    return {};
  }
}

async function entraSession(config) {
  await loadScript(`/ui/${config.build}/vendor/msal-browser/msal-browser.min.js`);
  const msal = window.msal;
  const entra = config.entra;
  const app = new msal.PublicClientApplication({
    auth: {
      clientId: entra.client_id,
      authority: entra.authority,
      knownAuthorities: [entra.known_authority],
      redirectUri: window.location.origin + entra.redirect_path,
      postLogoutRedirectUri: window.location.origin + "/",
    },
    cache: { cacheLocation: "sessionStorage" },
  });
  await app.initialize();
  const result = await app.handleRedirectPromise();
  const account = (result && result.account) || app.getActiveAccount() || app.getAllAccounts()[0] || null;
  if (!account) return new EntraSession(config, msal, app, null, []);
  app.setActiveAccount(account);
  const session = new EntraSession(config, msal, app, account, []);
  const token = result && result.accessToken ? result.accessToken : await session.token();
  const claims = claimsOf(token);
  session.roles = claims.roles || [];
  session.objectId = claims.oid || null;
  session.level = levelFor(session.roles, config.roles);
  return session;
}

/** The session for this page load. */
export async function createSession(config) {
  if (config.mode === "entra") return entraSession(config);
  return new Session(config, { user: config.local.user, roles: config.local.roles, mode: "local" });
}
