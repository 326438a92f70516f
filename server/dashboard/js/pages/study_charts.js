// The study page's figures, from the JSON of /dashboard/studies/<id>/plots and friends.
// Each returns a promise; empty data shows a message instead of an empty chart.

import { fmtInt } from "../dom.js";
import { drawParallel } from "../parallel.js";
import { baseLayout, color, draw, drawEmpty, markDrawn, STATE_COLORS } from "../plots.js";

/** Plotly axis settings for a parameter: categories, a log axis with one tick per power of ten, or linear. */
export function axisType(a) {
  if (a.kind === "categorical") return { type: "category" };
  return a.log ? { type: "log", dtick: 1, exponentformat: "power" } : { type: "linear" };
}

export function sampledNote(d, what = "trials") {
  if (!d || d.total === undefined) return "";
  return d.shown < d.total
    ? `showing ${fmtInt(d.shown)} of ${fmtInt(d.total)} ${what} (down-sampled on the server)`
    : `${fmtInt(d.total)} ${what}`;
}

function valueTitle(direction) {
  return `objective value (${direction === "maximize" ? "higher" : "lower"} is better)`;
}

export function history(el, d) {
  if (!d.total) return drawEmpty(el, "No COMPLETE trial yet.");
  const traces = [
    { type: "scatter", mode: "markers", name: "trial value", x: d.numbers, y: d.values,
      marker: { color: STATE_COLORS.COMPLETE, size: d.shown > 500 ? 4 : 7, opacity: d.shown > 500 ? 0.45 : 0.75 },
      hovertemplate: "trial %{x}<br>value %{y}<extra></extra>" },
    { type: "scatter", mode: "lines", name: "best so far", x: [...d.best_numbers], y: [...d.best_values],
      line: { color: "#dc2626", width: 2, shape: "hv" },
      hovertemplate: "best %{y} (after trial %{x})<extra></extra>" },
  ];
  const last = d.numbers.length ? Math.max(d.numbers[d.numbers.length - 1], d.best_numbers[d.best_numbers.length - 1]) : 0;
  traces[1].x.push(last);
  traces[1].y.push(d.best_values[d.best_values.length - 1]);
  return draw(el, traces, baseLayout({
    xaxis: { title: { text: "trial" }, ...(last < 12 ? { dtick: 1 } : {}) },
    yaxis: { title: { text: valueTitle(d.direction) } },
  }), d.shown);
}

export function importance(el, d) {
  if (d.error) return drawEmpty(el, d.error.charAt(0).toUpperCase() + d.error.slice(1));
  const params = [...d.params].reverse();
  const values = [...d.importances].reverse();
  return draw(el, [{
    type: "bar", orientation: "h", x: values, y: params, marker: { color: "#2563eb" },
    hovertemplate: "%{y}: %{x:.1%}<extra></extra>",
  }], baseLayout({
    margin: { l: 110, r: 16, t: 10, b: 46 },
    xaxis: { title: { text: "share of importance" }, range: [0, 1], tickformat: ".0%" },
    yaxis: { automargin: true },
    ...(params.length > 9 ? { height: 60 + 28 * params.length } : {}), // else the card's height
  }), params.length);
}

export function importanceNote(d) {
  if (d.error) return "";
  const method = d.method === "random-forest"
    ? "random-forest permutation importance (scikit-learn: 64 trees, 10 shuffles per parameter)"
    : "epsilon squared (one-way ANOVA on quantile bins, corrected for chance)";
  const on = d.n_trials < d.total ? `${fmtInt(d.n_trials)} of ${fmtInt(d.total)}` : fmtInt(d.n_trials);
  return `Computed on the server: ${method}, on ${on} COMPLETE trials; shares sum to 100%.`;
}

export function parallel(el, d, params) {
  if (!d.numbers.length || !d.dimensions.length) {
    return drawEmpty(el, d.numbers.length ? "No parameter every COMPLETE trial shares." : "No COMPLETE trial yet.");
  }
  const logs = new Set(params.filter((p) => p.log).map((p) => p.name));
  markDrawn(el, drawParallel(el, d, logs));
  return Promise.resolve();
}

export function slice(el, d, direction) {
  if (!d.total) return drawEmpty(el, `No COMPLETE trial has ${d.param}.`);
  const cat = d.axis.kind === "categorical";
  return draw(el, [{
    type: "scatter", mode: "markers", x: d.x.map((v) => (cat ? String(v) : v)), y: d.values,
    text: d.numbers.map((n) => `trial ${n}`),
    marker: { color: d.numbers, colorscale: "Blues", reversescale: true, size: 6, opacity: 0.8, showscale: true,
      colorbar: { title: { text: "trial" }, thickness: 12 } },
    hovertemplate: "%{text}<br>" + d.param + " %{x}<br>value %{y}<extra></extra>",
  }], baseLayout({
    xaxis: { title: { text: d.param }, ...axisType(d.axis),
      ...(cat ? { categoryorder: "array", categoryarray: d.axis.choices.map(String) } : {}) },
    yaxis: { title: { text: valueTitle(direction) } },
  }), d.shown);
}

export function contour(el, d, direction) {
  if (!d.total) return drawEmpty(el, `No COMPLETE trial has both ${d.x.name} and ${d.y.name}.`);
  const cx = d.x.kind === "categorical" ? d.x.centres.map(String) : d.x.centres;
  const cy = d.y.kind === "categorical" ? d.y.centres.map(String) : d.y.centres;
  if (cx.length < 2 || cy.length < 2) {
    const one = cx.length < 2 ? d.x.name : d.y.name;
    return drawEmpty(el, `Every COMPLETE trial has the same ${one} so far: no surface to draw. See the slice plot.`);
  }
  const filled = d.z.flat().filter((v) => v !== null).length;
  // a contour needs a real grid; categories, one distinct value or few cells: a heat map
  const numeric = d.x.kind !== "categorical" && d.y.kind !== "categorical" && cx.length > 1 && cy.length > 1 && filled >= 4;
  const surface = numeric
    ? { type: "contour", x: cx, y: cy, z: d.z, connectgaps: true, colorscale: "Viridis",
      reversescale: direction === "maximize", contours: { coloring: "heatmap" }, line: { width: 0.5 },
      colorbar: { title: { text: "mean value" }, thickness: 12 }, hovertemplate: "mean %{z}<extra></extra>" }
    : { type: "heatmap", x: cx, y: cy, z: d.z, colorscale: "Viridis", reversescale: direction === "maximize",
      colorbar: { title: { text: "mean value" }, thickness: 12 }, hovertemplate: "mean %{z}<extra></extra>" };
  const points = {
    type: "scatter", mode: "markers", name: "trials",
    x: d.points.x.map((v) => (d.x.kind === "categorical" ? String(v) : v)),
    y: d.points.y.map((v) => (d.y.kind === "categorical" ? String(v) : v)),
    text: d.points.numbers.map((n, i) => `trial ${n}: ${d.points.values[i]}`),
    marker: { color: "rgba(255,255,255,0.85)", size: 5, line: { color: "#111827", width: 0.8 } },
    hovertemplate: "%{text}<extra></extra>", showlegend: false,
  };
  const axis = (a) => ({ title: { text: a.name }, ...axisType(a) });
  return draw(el, [surface, points], baseLayout({ xaxis: axis(d.x), yaxis: axis(d.y) }), d.shown);
}

export function curves(el, d) {
  if (!d.trials.length) return drawEmpty(el, "No trial reported an intermediate value yet.");
  const traces = [];
  const shown = new Set();
  const pruned = { x: [], y: [], text: [] };
  for (const c of d.trials) {
    traces.push({
      type: "scatter", mode: "lines", x: c.steps, y: c.values, name: c.state, legendgroup: c.state,
      showlegend: !shown.has(c.state), line: { color: STATE_COLORS[c.state] || "#6b7280", width: 1 },
      opacity: c.state === "PRUNED" ? 0.55 : 0.8,
      hovertemplate: `trial ${c.number} (${c.state})<br>step %{x}<br>value %{y}<extra></extra>`,
    });
    shown.add(c.state);
    if (c.state === "PRUNED") {
      pruned.x.push(c.steps[c.steps.length - 1]);
      pruned.y.push(c.values[c.values.length - 1]);
      pruned.text.push(`trial ${c.number} pruned at step ${c.steps[c.steps.length - 1]}`);
    }
  }
  if (pruned.x.length) {
    traces.push({ type: "scatter", mode: "markers", name: "pruned here", x: pruned.x, y: pruned.y,
      text: pruned.text, hovertemplate: "%{text}<extra></extra>",
      marker: { symbol: "x", size: 8, color: STATE_COLORS.PRUNED, line: { width: 1 } } });
  }
  return draw(el, traces, baseLayout({
    xaxis: { title: { text: "step" } }, yaxis: { title: { text: "reported value" } },
  }), d.trials.length);
}

export function curvesNote(d) {
  const parts = Object.entries(d.states).map(([s, n]) => `${fmtInt(n)} ${s}`);
  const marks = d.states.PRUNED ? "; ✕ marks where a pruned trial was stopped" : "";
  return `${sampledNote(d, "trials with reports")}: ${parts.join(", ")}${marks}.`;
}

export function lineage(el, d) {
  if (!d.nodes.length) return drawEmpty(el, "No PBT segment yet.");
  const byNumber = new Map(d.nodes.map((n) => [n.number, n]));
  const seg = { x: [], y: [] };
  const exploit = { x: [], y: [] };
  for (const n of d.nodes) {
    seg.x.push(n.start, n.end, null);
    seg.y.push(n.member, n.member, null);
    const parent = byNumber.get(n.parent);
    if (n.donor !== null && n.donor !== undefined && parent) {
      exploit.x.push(parent.end, n.start, null);
      exploit.y.push(parent.member, n.member, null);
    }
  }
  const values = d.nodes.map((n) => n.value);
  return draw(el, [
    { type: "scatter", mode: "lines", name: "segment", x: seg.x, y: seg.y, hoverinfo: "skip",
      line: { color: "#cbd5e1", width: 3 } },
    { type: "scatter", mode: "lines", name: "exploit (copied a better member)", x: exploit.x, y: exploit.y,
      hoverinfo: "skip", line: { color: "#dc2626", width: 1.2, dash: "dot" } },
    { type: "scatter", mode: "markers", name: "segment end", x: d.nodes.map((n) => n.end), y: d.nodes.map((n) => n.member),
      text: d.nodes.map((n) => `trial ${n.number}: member ${n.member}, ${n.action}${n.donor !== null && n.donor !== undefined ? ` from member ${n.donor}` : ""}<br>value ${n.value}`),
      hovertemplate: "%{text}<extra></extra>",
      marker: { size: 8, color: values, colorscale: "Viridis", showscale: true,
        colorbar: { title: { text: "value" }, thickness: 12 }, line: { color: "#fff", width: 0.5 } } },
  ], baseLayout({
    xaxis: { title: { text: "budget" } }, yaxis: { title: { text: "population member" }, dtick: 1 },
  }), d.nodes.length);
}

export function portfolio(el, d) {
  if (!d.members.length) return drawEmpty(el, "No trial from a portfolio member yet.");
  const names = d.members.map((m) => m.name);
  const traces = names.map((name, i) => {
    const idx = d.member_of.map((m, j) => (m === name ? j : -1)).filter((j) => j >= 0);
    return { type: "scatter", mode: "markers", name, x: idx.map((j) => d.numbers[j]), y: idx.map((j) => d.values[j]),
      marker: { color: color(i), size: 6, opacity: 0.75 }, xaxis: "x", yaxis: "y",
      hovertemplate: `${name}<br>trial %{x}<br>value %{y}<extra></extra>` };
  });
  traces.push({ type: "bar", x: names, y: d.members.map((m) => m.n), marker: { color: names.map((_, i) => color(i)) },
    xaxis: "x2", yaxis: "y2", showlegend: false, hovertemplate: "%{x}: %{y} trials<extra></extra>" });
  return draw(el, traces, baseLayout({
    grid: { rows: 1, columns: 2 },
    xaxis: { title: { text: "trial" }, domain: [0, 0.64] },
    yaxis: { title: { text: "value" } },
    xaxis2: { domain: [0.74, 1], anchor: "y2", gridcolor: "#eef0f3", automargin: true },
    yaxis2: { anchor: "x2", title: { text: "trials proposed" }, gridcolor: "#eef0f3", automargin: true },
  }), d.shown);
}
