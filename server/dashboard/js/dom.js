// Small DOM and formatting helpers shared by the pages.

/** h("div.card#id", {onclick, title, dataset: {...}}, ...children): an element. */
export function h(spec, attrs, ...children) {
  const [tagAndClasses, id] = spec.split("#");
  const [tag, ...classes] = tagAndClasses.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  if (id) el.id = id;
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "class") el.className += ` ${v}`;
    else if (k === "style" && typeof v === "object") Object.assign(el.style, v);
    else if (k in el && k !== "list" && k !== "form") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

// --- formatting -----------------------------------------------------------------------------
export function fmtNumber(v, digits = 4) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  if (typeof v !== "number") return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e9) return v.toLocaleString("en-US");
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(2);
  return Number(v.toPrecision(digits)).toString();
}

export function fmtInt(v) {
  return v === null || v === undefined ? "–" : Number(v).toLocaleString("en-US");
}

export function fmtP(p) {
  if (p === null || p === undefined || Number.isNaN(p)) return "–";
  if (p < 0.001) return "<0.001";
  return p.toFixed(3);
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 0.01) return `${(seconds * 1000).toPrecision(2)} ms`; // searcher time per ask
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

export function fmtAgo(iso) {
  if (!iso) return "–";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.max(0, (Date.now() - t) / 1000);
  if (s < 5) return "just now";
  if (s < 60) return `${Math.floor(s)} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function fmtTime(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function fmtValue(v) {
  if (v === null || v === undefined) return "–";
  if (typeof v === "number") return fmtNumber(v);
  if (typeof v === "boolean") return String(v);
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

export const STATES = ["COMPLETE", "RUNNING", "WAITING", "PRUNED", "FAILED"];

/** A thin bar of trial counts by state. */
export function countBar(counts) {
  const total = Object.values(counts || {}).reduce((a, b) => a + b, 0);
  const bar = h("div.countbar", {
    title: STATES.filter((s) => counts[s]).map((s) => `${counts[s]} ${s}`).join(", ") || "no trials",
  });
  if (!total) return bar;
  for (const s of STATES) {
    if (counts[s]) bar.append(h(`span.c-${s}`, { style: { width: `${(100 * counts[s]) / total}%` } }));
  }
  return bar;
}

export function badge(text, cls) {
  return h(`span.badge.${cls || text}`, text);
}

// --- feedback ---------------------------------------------------------------------------------
export function toast(message, kind = "") {
  const el = h(`div.toast${kind ? `.${kind}` : ""}`, { role: "status" }, message);
  document.getElementById("toasts").append(el);
  setTimeout(() => el.remove(), kind === "error" ? 8000 : 4000);
}

/** Ask to confirm (optionally by typing ``typed``); resolves true when confirmed. */
export function confirmDialog({ title, body, ok = "OK", typed = null }) {
  const dialog = document.getElementById("confirm-dialog");
  const okButton = document.getElementById("confirm-ok");
  document.getElementById("confirm-title").textContent = title;
  const holder = replace(document.getElementById("confirm-body"), body instanceof Node ? body : h("p", body));
  okButton.textContent = ok;
  okButton.disabled = false;
  let input = null;
  if (typed !== null) {
    input = h("input", { type: "text", placeholder: typed, autocomplete: "off", "aria-label": "confirmation" });
    okButton.disabled = true;
    input.addEventListener("input", () => { okButton.disabled = input.value !== typed; });
    holder.append(h("p.muted.small", "Type ", h("code", typed), " to confirm."), input);
  }
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    if (input) input.focus();
  });
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
