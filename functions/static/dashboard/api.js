// The API client: JSON in and out, the bearer token in Entra mode, problem+json turned into ApiError.

export class ApiError extends Error {
  constructor(status, problem) {
    const detail = problem && (problem.detail || problem.title);
    super(detail || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
    this.errors = (problem && problem.errors) || [];
  }

  /** A one-line description for an error panel. */
  get summary() {
    const title = this.problem.title;
    if (this.status === 0) return this.message;
    if (title && this.problem.detail && title !== this.problem.detail) return `${title}: ${this.problem.detail}`;
    return this.message;
  }
}

export class Api {
  constructor(base, session) {
    this.base = base;
    this.session = session;
  }

  /** {status, headers, body} of a call; throws ApiError for an error status unless it is in `accept`. */
  async call(method, path, { body, accept = [], headers = {}, signal } = {}) {
    const init = { method, headers: { Accept: "application/json", ...headers }, signal, cache: "no-store" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const token = await this.session.token();
    if (token) init.headers.Authorization = `Bearer ${token}`;
    let response;
    try {
      response = await fetch(path.startsWith("/api/") ? path : this.base + path, init);
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new ApiError(0, { title: "Network error", detail: "the app could not be reached; check your connection" });
    }
    const text = await response.text();
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = { detail: text.slice(0, 200) };
    }
    if (response.status >= 400 && !accept.includes(response.status)) throw new ApiError(response.status, parsed);
    return { status: response.status, headers: response.headers, body: parsed };
  }

  async get(path, options) {
    return (await this.call("GET", path, options)).body;
  }

  /** A write: the 202 job document. */
  async submit(method, path, body) {
    const { body: job } = await this.call(method, path, { body });
    return job;
  }

  /** A job as GET /jobs/{id} shows it, whatever its outcome (422/409 carry the job in `job`). */
  async job(id, signal) {
    const { status, body } = await this.call("GET", `/jobs/${encodeURIComponent(id)}`, { accept: [409, 422], signal });
    return status === 409 || status === 422 ? { ...body.job, problem: body } : body;
  }

  /** Every item of a paged list, page by page (onPage sees each page as it arrives). */
  async all(path, { limit = 500, max = 20000, onPage, signal } = {}) {
    const items = [];
    let continuation = null;
    do {
      const sep = path.includes("?") ? "&" : "?";
      const token = continuation ? `&continuation=${encodeURIComponent(continuation)}` : "";
      const page = await this.get(`${path}${sep}limit=${limit}${token}`, { signal });
      items.push(...page.items);
      continuation = page.continuation;
      if (onPage) onPage(items, Boolean(continuation));
    } while (continuation && items.length < max);
    return { items, truncated: Boolean(continuation) };
  }
}
