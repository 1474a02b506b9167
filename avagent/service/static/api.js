// The API client: same-origin requests with the session cookie (set by POST /v1/session), errors as ApiError.
// The page lives at <root>/dashboard/, so the API root is one level up (this keeps working behind a path prefix).

export const ROOT = new URL("../", document.baseURI);

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** An absolute URL for an API path ("v1/jobs") or for a link the API returned ("/prefix/v1/jobs/..."). */
export function apiUrl(path, query = {}) {
  const url = path.startsWith("/") ? new URL(path, ROOT.origin) : new URL(path, ROOT);
  for (const [key, value] of Object.entries(query)) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(key, String(value));
  }
  return url.href;
}

/** Listeners called when a request comes back 401 (session gone or key revoked). */
export const onUnauthorized = new Set();

export async function api(path, { method = "GET", query, json, form } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = form;
  }
  let response;
  try {
    response = await fetch(apiUrl(path, query), init);
  } catch (e) {
    throw new ApiError(0, "network", `the server did not answer (${e.message})`);
  }
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const error = body && body.error ? body.error : { code: `http_${response.status}`, message: text.slice(0, 200) };
    if (response.status === 401) for (const listener of onUnauthorized) listener(error.message);
    throw new ApiError(response.status, error.code, error.message || response.statusText);
  }
  return { status: response.status, headers: response.headers, body };
}

export async function getJson(path, query) {
  return (await api(path, { query })).body;
}
