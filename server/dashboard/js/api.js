// Every API path the dashboard uses lives here, so the pages survive API renames.
// Requests carry the user's token (local storage) when one is set; a 401 asks for it.

export const API = "/api/v1";
const D = `${API}/dashboard`;

export const paths = {
  info: () => `${API}/info`,
  // studies
  studies: () => `${D}/studies`,
  study: (id) => `${D}/studies/${id}`,
  plots: (id) => `${D}/studies/${id}/plots`,
  importance: (id) => `${D}/studies/${id}/importance`,
  slice: (id) => `${D}/studies/${id}/slice`,
  contour: (id) => `${D}/studies/${id}/contour`,
  trials: (id) => `${D}/studies/${id}/trials`,
  stop: (id) => `${D}/studies/${id}/stop`,
  failTrial: (id, number) => `${D}/studies/${id}/trials/${number}/fail`,
  rerun: (id) => `${D}/studies/${id}/rerun`,
  note: (id) => `${D}/studies/${id}/note`,
  deleteStudy: (id) => `${API}/studies/${id}`,
  exportStudy: (id, format) => `${API}/studies/${id}/export?format=${format}`,
  // comparisons
  comparisons: () => `${D}/comparisons`,
  comparison: (id) => `${D}/comparisons/${id}`,
  createComparison: () => `${API}/comparisons`,
  catalog: () => `${D}/catalog`,
};

const TOKEN_KEY = "hpo.dashboard.token";

export function getToken() {
  try { return localStorage.getItem(TOKEN_KEY) || ""; } catch { return ""; }
}

export function setToken(token) {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token); else localStorage.removeItem(TOKEN_KEY);
  } catch { /* private mode: the token lives as long as the page */ }
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function withQuery(path, params) {
  if (!params) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}${path.includes("?") ? "&" : "?"}${s}` : path;
}

async function request(method, path, { params, body, raw } = {}) {
  const headers = {};
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(withQuery(path, params), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    window.dispatchEvent(new CustomEvent("hpo:unauthorized", { detail: { method } }));
  }
  if (!response.ok) {
    let code = "http_error";
    let message = `${response.status} ${response.statusText}`;
    try {
      const err = await response.json();
      code = err.code || code;
      message = err.message || message;
    } catch { /* not JSON */ }
    throw new ApiError(response.status, code, message);
  }
  if (raw) return response;
  if (response.status === 204) return null;
  return response.json();
}

export const get = (path, params) => request("GET", path, { params });
export const post = (path, body) => request("POST", path, { body: body ?? {} });
export const put = (path, body) => request("PUT", path, { body });
export const del = (path) => request("DELETE", path);

/** Download ``path`` as a file (with the token: a plain link could not send it). */
export async function download(path, filename) {
  const response = await request("GET", path, { raw: true });
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

let infoPromise = null;
/** The server's /info (auth mode: "none", "writes" or "all"), read once. */
export function serverInfo() {
  if (!infoPromise) {
    infoPromise = get(paths.info()).catch((e) => { infoPromise = null; throw e; });
  }
  return infoPromise;
}
