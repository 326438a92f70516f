// The API token: kept in local storage, asked for when the server needs it.

import { getToken, serverInfo, setToken } from "./api.js";

const dialog = () => document.getElementById("token-dialog");
let waiters = [];
let dismissedAt = -Infinity; // a cancelled dialog does not reopen by itself for a minute

export function openTokenDialog(reason) {
  const help = document.getElementById("token-help");
  if (reason) help.textContent = reason;
  const input = document.getElementById("token-input");
  input.value = getToken();
  if (!dialog().open) dialog().showModal();
  input.focus();
}

function updateTokenButton() {
  document.getElementById("token-button").textContent = getToken() ? "API token ✓" : "API token";
}

/** Wire the token button and dialog (once, at start). */
export function setupAuth() {
  dialog().addEventListener("close", () => {
    const input = document.getElementById("token-input");
    const action = dialog().returnValue;
    if (action !== "save") dismissedAt = Date.now();
    if (action === "save" && input.value.trim()) setToken(input.value.trim());
    if (action === "clear") setToken("");
    updateTokenButton();
    const pending = waiters;
    waiters = [];
    for (const resolve of pending) resolve(Boolean(getToken()));
    if (action === "save" || action === "clear") {
      window.dispatchEvent(new CustomEvent("hpo:token-changed"));
    }
  });
  document.getElementById("token-button").addEventListener("click", () => openTokenDialog());
  window.addEventListener("hpo:unauthorized", (event) => {
    // a refused write was the user's action: ask again; refused reads (polling) ask at
    // most once a minute after the dialog was dismissed
    const write = event.detail && event.detail.method !== "GET";
    if (!write && Date.now() - dismissedAt < 60_000) return;
    openTokenDialog(getToken()
      ? "The server refused this token. Enter the right one (kept in this browser only)."
      : "This server needs its API token. It is kept in this browser only.");
  });
  updateTokenButton();
}

/**
 * Resolve true when a write may be sent: the server needs no token, or one is set (asking
 * for it first when the server needs one and none is stored).
 */
export async function ensureToken(action = "change studies") {
  let info;
  try { info = await serverInfo(); } catch { return Boolean(getToken()); }
  if (info.auth === "none" || getToken()) return true;
  return new Promise((resolve) => {
    waiters.push(resolve);
    openTokenDialog(`This server needs its API token to ${action}. It is kept in this browser only.`);
  });
}
