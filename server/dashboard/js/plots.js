// Plotly figures of the dashboard, built from the JSON the server computes.
// Every chart div gets data-rendered="1" and data-points="N" once drawn (the browser
// tests wait on them); the first chart of a page records its time to first chart.

import { h, replace } from "./dom.js";

export const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2",
  "#db2777", "#65a30d", "#4f46e5", "#a16207", "#0f766e", "#be123c"];
export const STATE_COLORS = { COMPLETE: "#2563eb", PRUNED: "#ea580c", FAILED: "#dc2626",
  RUNNING: "#16a34a", WAITING: "#6b7280" };

export function color(i) { return PALETTE[i % PALETTE.length]; }

export function rgba(hex, alpha) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

const CONFIG = { displaylogo: false, responsive: true,
  modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"] };

export function baseLayout(extra = {}) {
  const axis = { gridcolor: "#eef0f3", zeroline: false, linecolor: "#d1d5db", automargin: true };
  return {
    margin: { l: 60, r: 16, t: 10, b: 46 },
    paper_bgcolor: "#fff",
    plot_bgcolor: "#fff",
    font: { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12, color: "#1f2937" },
    hovermode: "closest",
    legend: { orientation: "h", y: -0.22, x: 0 },
    ...extra,
    xaxis: { ...axis, ...(extra.xaxis || {}) },
    yaxis: { ...axis, ...(extra.yaxis || {}) },
  };
}

let firstChartAt = null;
let navigated = false;

/**
 * Start timing a page: its time to first chart (``window.__hpoFirstChart``, ms) counts
 * from the navigation for the first page loaded (Plotly.js's download and parse
 * included), from the route change for later ones.
 */
export function markPageStart() {
  firstChartAt = null;
  window.__hpoPageStart = navigated ? performance.now() : 0;
  navigated = true;
  window.__hpoFirstChart = null;
}

/** Draw (or redraw in place) a figure in ``el``; returns a promise. */
export async function draw(el, data, layout, points) {
  if (!window.Plotly) await plotlyReady();
  if (!el.isConnected) return; // the page was left meanwhile
  const empty = el.querySelector(".chart-empty");
  if (empty) empty.remove();
  await window.Plotly.react(el, data, layout, CONFIG);
  if (el.isConnected) markDrawn(el, points);
}

/** Mark a chart drawn (tests wait on data-rendered) and record the page's first chart. */
export function markDrawn(el, points) {
  el.dataset.rendered = "1";
  el.dataset.points = String(points ?? 0);
  if (firstChartAt === null) {
    firstChartAt = performance.now();
    window.__hpoFirstChart = firstChartAt - (window.__hpoPageStart || 0);
  }
}

/** Show a message instead of a chart (no data yet); returns a resolved promise. */
export function drawEmpty(el, message) {
  if (window.Plotly && el.classList.contains("js-plotly-plot")) window.Plotly.purge(el);
  replace(el, h("div.chart-empty", message));
  el.dataset.rendered = "1";
  el.dataset.points = "0";
  return Promise.resolve();
}

export function purgeAll(root) {
  if (!window.Plotly) return;
  for (const el of root.querySelectorAll(".js-plotly-plot")) {
    try { window.Plotly.purge(el); } catch { /* a chart still drawing */ }
  }
}

function plotlyReady() {
  return new Promise((resolve) => {
    const check = () => (window.Plotly ? resolve() : setTimeout(check, 20));
    check();
  });
}

// --- bands and lines ---------------------------------------------------------------------------
/** A median line with its interquartile band (two invisible bounds, filled between). */
export function band(x, median, q25, q75, name, c, { xaxis, yaxis, showlegend = true } = {}) {
  const axes = { ...(xaxis ? { xaxis } : {}), ...(yaxis ? { yaxis } : {}) };
  return [
    { type: "scatter", mode: "lines", x, y: q75, line: { width: 0 }, hoverinfo: "skip",
      showlegend: false, legendgroup: name, name: `${name} q75`, ...axes },
    { type: "scatter", mode: "lines", x, y: q25, line: { width: 0 }, fill: "tonexty",
      fillcolor: rgba(c, 0.15), hoverinfo: "skip", showlegend: false, legendgroup: name,
      name: `${name} q25`, ...axes },
    { type: "scatter", mode: "lines", x, y: median, name, legendgroup: name, showlegend,
      line: { color: c, width: 2 }, ...axes },
  ];
}
