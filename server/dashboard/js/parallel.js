// Parallel coordinates in plain SVG: one axis per parameter and one for the value, one
// line per trial coloured by its value (the best drawn darkest and on top). Drag along an
// axis to keep only the trials inside the band; double-click the axis to clear it.
// SVG rather than Plotly's WebGL parcoords: it draws in tens of milliseconds on any
// machine, GPU or not, and every line is an element a test can count.

import { fmtNumber } from "./dom.js";

const NS = "http://www.w3.org/2000/svg";
const BLUES = ["#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b"];

function svg(tag, attrs = {}, text = null) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== null) el.textContent = text;
  return el;
}

function mix(a, b, t) {
  const pa = parseInt(a.slice(1), 16);
  const pb = parseInt(b.slice(1), 16);
  const c = [16, 8, 0].map((s) => Math.round(((pa >> s) & 255) * (1 - t) + ((pb >> s) & 255) * t));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

/** A colour for goodness ``g`` in [0, 1] (1 = best). */
function shade(g) {
  const x = Math.max(0, Math.min(1, g)) * (BLUES.length - 1);
  const i = Math.min(BLUES.length - 2, Math.floor(x));
  return mix(BLUES[i], BLUES[i + 1], x - i);
}

function scaleFor(dim, log) {
  if (dim.choices) {
    const n = dim.choices.length;
    return { ticks: dim.choices.map((c, i) => [i, String(c)]), at: (v) => (n <= 1 ? 0.5 : v / (n - 1)) };
  }
  const vals = dim.values.filter((v) => v !== null && Number.isFinite(v));
  const useLog = log && vals.every((v) => v > 0);
  const f = useLog ? Math.log10 : (v) => v;
  let lo = Math.min(...vals.map(f));
  let hi = Math.max(...vals.map(f));
  if (!(hi > lo)) { lo -= 0.5; hi += 0.5; }
  const at = (v) => (f(v) - lo) / (hi - lo);
  const ticks = [];
  if (!useLog && vals.every(Number.isInteger) && hi - lo <= 12) { // an integer parameter
    for (let v = Math.ceil(lo); v <= hi; v += hi - lo > 6 ? 2 : 1) ticks.push([v, String(v)]);
    return { ticks, at, log: false };
  }
  for (let k = 0; k <= 4; k += 1) {
    const u = lo + ((hi - lo) * k) / 4;
    const v = useLog ? 10 ** u : u;
    ticks.push([v, fmtNumber(v, 3)]);
  }
  return { ticks, at, log: useLog };
}

/**
 * Draw ``data`` (from hpo.plot.parallel_coordinates_data, down-sampled by the server) in
 * ``el``; ``logParams`` names the parameters on a log scale.
 */
export function drawParallel(el, data, logParams = new Set()) {
  el.textContent = "";
  const width = Math.max(360, el.clientWidth || 600);
  const height = Math.max(240, el.clientHeight || 340);
  const m = { l: 40, r: 100, t: 34, b: 26 };
  const dims = [...data.dimensions, { name: "value", values: data.values, choices: null }];
  const scales = dims.map((d) => scaleFor(d, logParams.has(d.name)));
  const x = (i) => m.l + ((width - m.l - m.r) * i) / Math.max(1, dims.length - 1);
  const y = (i, v) => m.t + (height - m.t - m.b) * (1 - scales[i].at(v));
  const root = svg("svg", { width, height, class: "pc", role: "img", "aria-label": "parallel coordinates" });

  // lines, worst first so the best are on top
  const sign = data.direction === "minimize" ? 1 : -1;
  const values = data.values;
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const goodness = (v) => (hi > lo ? (sign > 0 ? (hi - v) / (hi - lo) : (v - lo) / (hi - lo)) : 1);
  const order = values.map((_, i) => i).sort((a, b) => goodness(values[a]) - goodness(values[b]));
  const lines = svg("g", { class: "pc-lines", fill: "none" });
  const paths = [];
  for (const r of order) {
    let d = "";
    dims.forEach((dim, i) => {
      const v = dim.values[r];
      if (v === null || v === undefined) return;
      d += `${d ? "L" : "M"}${x(i).toFixed(1)},${y(i, v).toFixed(1)}`;
    });
    const g = goodness(values[r]);
    const opacity = order.length > 300 ? 0.12 + 0.5 * g : 0.35 + 0.55 * g; // a crowd stays legible
    const p = svg("path", { d, class: "pc-line", stroke: shade(g), "stroke-width": 1.2, "stroke-opacity": opacity });
    p.append(svg("title", {}, `trial ${data.numbers[r]}: value ${fmtNumber(values[r])}`));
    p.dataset.row = String(r);
    paths.push(p);
    lines.append(p);
  }
  root.append(lines);

  // axes, with brushes (kept by axis name across live redraws)
  const brushes = new Map();
  const saved = el._pcBrushes instanceof Map ? el._pcBrushes : new Map();
  const remember = () => {
    el._pcBrushes = new Map([...brushes].map(([i, band]) => [dims[i].name, band]));
  };
  const applyBrushes = () => {
    remember();
    for (const p of paths) {
      const r = Number(p.dataset.row);
      let inside = true;
      for (const [i, [a, b]] of brushes) {
        const v = dims[i].values[r];
        const py = v === null || v === undefined ? -1 : y(i, v);
        if (py < a || py > b) { inside = false; break; }
      }
      p.classList.toggle("pc-dim", !inside);
    }
  };
  dims.forEach((dim, i) => {
    const g = svg("g", { class: "pc-axis", transform: `translate(${x(i)},0)` });
    g.append(svg("line", { y1: m.t, y2: height - m.b, stroke: "#374151", "stroke-width": 1 }));
    for (const [v, label] of scales[i].ticks) {
      const ty = y(i, v);
      g.append(svg("line", { x1: -4, x2: 0, y1: ty, y2: ty, stroke: "#374151" }));
      g.append(svg("text", { x: -6, y: ty + 3, "text-anchor": "end", class: "pc-tick" }, label));
    }
    g.append(svg("text", { y: m.t - 12, "text-anchor": "middle", class: "pc-label" }, dim.name));
    const band = svg("rect", { x: -7, width: 14, y: 0, height: 0, class: "pc-brush", visibility: "hidden" });
    const hit = svg("rect", { x: -12, width: 24, y: m.t, height: height - m.t - m.b, class: "pc-hit" });
    let start = null;
    const pos = (e) => e.clientY - root.getBoundingClientRect().top;
    hit.addEventListener("pointerdown", (e) => { start = pos(e); hit.setPointerCapture(e.pointerId); });
    hit.addEventListener("pointermove", (e) => {
      if (start === null) return;
      const a = Math.max(m.t, Math.min(start, pos(e)));
      const b = Math.min(height - m.b, Math.max(start, pos(e)));
      band.setAttribute("y", a);
      band.setAttribute("height", b - a);
      band.setAttribute("visibility", "visible");
      brushes.set(i, [a, b]);
      applyBrushes();
    });
    hit.addEventListener("pointerup", () => {
      if (start !== null && brushes.has(i) && brushes.get(i)[1] - brushes.get(i)[0] < 3) {
        brushes.delete(i);
        band.setAttribute("visibility", "hidden");
        applyBrushes();
      }
      start = null;
    });
    hit.addEventListener("dblclick", () => { brushes.delete(i); band.setAttribute("visibility", "hidden"); applyBrushes(); });
    g.append(band, hit);
    root.append(g);
    const kept = saved.get(dim.name);
    if (kept) {
      brushes.set(i, kept);
      band.setAttribute("y", kept[0]);
      band.setAttribute("height", kept[1] - kept[0]);
      band.setAttribute("visibility", "visible");
    }
  });
  if (brushes.size) applyBrushes();

  // colour bar
  const cb = svg("g", { class: "pc-colorbar", transform: `translate(${width - m.r + 26},0)` });
  const grad = svg("linearGradient", { id: `pc-grad-${Math.random().toString(36).slice(2)}`, x1: 0, y1: 1, x2: 0, y2: 0 });
  for (let k = 0; k <= 6; k += 1) grad.append(svg("stop", { offset: `${(100 * k) / 6}%`, "stop-color": shade(k / 6) }));
  const defs = svg("defs");
  defs.append(grad);
  root.append(defs);
  cb.append(svg("rect", { x: 0, y: m.t, width: 10, height: height - m.t - m.b, fill: `url(#${grad.id})` }));
  const best = sign > 0 ? lo : hi;
  const worst = sign > 0 ? hi : lo;
  cb.append(svg("text", { x: 14, y: m.t + 8, class: "pc-tick" }, fmtNumber(best, 3)));
  cb.append(svg("text", { x: 14, y: m.t + 20, class: "pc-tick pc-muted" }, "best"));
  cb.append(svg("text", { x: 14, y: height - m.b - 12, class: "pc-tick" }, fmtNumber(worst, 3)));
  cb.append(svg("text", { x: 14, y: height - m.b, class: "pc-tick pc-muted" }, "worst"));
  root.append(cb);
  el.append(root);
  return paths.length;
}
